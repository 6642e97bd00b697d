"""django-two-factor-auth's PhoneDevice sends its token through TwoFactorGateway."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from two_factor.plugins.phonenumber.models import PhoneDevice

from textflow import ConfigurationError
from textflow.contrib.django import TwoFactorGateway
from textflow.testing import FakeTextFlow

from tests.django.django_support import PHONE


@pytest.mark.django_db
def test_the_phone_device_texts_its_token_through_the_fake(project_fake: FakeTextFlow) -> None:
    user = User.objects.create_user("ada")
    device = PhoneDevice.objects.create(user=user, name="default", number=PHONE, method="sms")
    device.generate_challenge()
    [sent] = project_fake.messages
    assert sent.phone_number == PHONE
    token = sent.text.rpartition(" ")[2]
    assert sent.text == f"Your verification code is: {token}"
    assert device.verify_token(token)  # the token two_factor made is the one that went out


@pytest.mark.django_db
@override_settings(TEXTFLOW={"FAKE": True, "SMS_TEXT": "{token} is your Acme code"})
def test_the_sms_text_comes_from_the_setting() -> None:
    from textflow.contrib.django import get_fake

    user = User.objects.create_user("bob")
    device = PhoneDevice.objects.create(user=user, name="default", number=PHONE, method="sms")
    device.generate_challenge()
    assert get_fake().messages[-1].text.endswith(" is your Acme code")


def test_calls_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="SMS only"):
        TwoFactorGateway().make_call(device=None, token="123456")
