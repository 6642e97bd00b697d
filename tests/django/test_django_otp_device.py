"""TextFlowDevice: TextFlow sends and checks the code, through the guard; django-otp throttles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django_otp import match_token

from textflow import VerificationRefused
from textflow.contrib.django import TextFlowDevice, get_fake
from textflow.guard import GuardPolicy
from textflow.testing import FakeTextFlow

from tests.django.django_support import PHONE

pytestmark = pytest.mark.django_db

# A throttle far longer than any test takes: the lock cannot run out mid-test.
LONG_THROTTLE = override_settings(OTP_TEXTFLOW_THROTTLE_FACTOR=10**6)


def device() -> TextFlowDevice:
    user = User.objects.create_user("ada")
    made: TextFlowDevice = TextFlowDevice.objects.create(user=user, name="phone", number=PHONE)
    return made


def test_challenge_then_verify(project_fake: FakeTextFlow) -> None:
    phone = device()
    assert phone.generate_challenge() == "A code was sent by SMS."
    [sent] = project_fake.messages
    assert sent.kind == "code"
    assert "Acme" in sent.text  # TEXTFLOW["SERVICE_NAME"]
    code = project_fake.last_code(PHONE)
    assert phone.verify_token(code)
    assert not phone.verify_token(code)  # used up: TextFlow verifies a code once


def test_django_otp_finds_the_device_by_its_token(project_fake: FakeTextFlow) -> None:
    phone = device()
    phone.generate_challenge()
    assert match_token(phone.user, project_fake.last_code(PHONE)) == phone


@LONG_THROTTLE
def test_wrong_tokens_throttle_the_device(project_fake: FakeTextFlow) -> None:
    phone = device()
    phone.generate_challenge()
    code = project_fake.last_code(PHONE)
    assert not phone.verify_token("000000" if code != "000000" else "111111")
    phone.refresh_from_db()
    assert phone.throttling_failure_count == 1
    allowed, why = phone.verify_is_allowed()
    assert not allowed
    assert why is not None
    assert why["failure_count"] == 1
    assert not phone.verify_token(code)  # the right code, refused while locked
    assert project_fake.has_code(PHONE)  # TextFlow was not asked: the code is still live
    # The lock runs out (its start moved back rather than waiting):
    assert phone.throttling_failure_timestamp is not None
    phone.throttling_failure_timestamp -= timedelta(seconds=10**6 + 1)
    phone.save()
    assert phone.verify_token(code)
    phone.refresh_from_db()
    assert phone.throttling_failure_count == 0


def test_a_blank_token_counts_as_a_failure(project_fake: FakeTextFlow) -> None:
    phone = device()
    phone.generate_challenge()
    assert not phone.verify_token("  ")
    phone.refresh_from_db()
    assert phone.throttling_failure_count == 1


@override_settings(TEXTFLOW={"FAKE": True, "GUARD_POLICY": GuardPolicy(cooldown=86400)})
def test_the_guard_refuses_a_second_code_at_once() -> None:
    project_fake = get_fake()
    phone = device()
    phone.generate_challenge()
    with pytest.raises(VerificationRefused) as refused:
        phone.generate_challenge()
    assert refused.value.reason == "cooldown"
    assert len(project_fake.messages) == 1


def test_the_repr_names_no_number(project_fake: FakeTextFlow) -> None:
    assert PHONE not in repr(device())
