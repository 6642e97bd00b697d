"""Parsing and verifying the incoming-SMS webhook."""

from __future__ import annotations

import json

import pytest

import textflow
from textflow.webhooks import (
    IncomingSMS,
    WebhookError,
    WebhookVerificationError,
    parse_webhook,
)

SECRET = "whsec_test_not_real"
BODY = {"secret": SECRET, "phone_number": "+11234567890", "text": "Yes, confirm"}


@pytest.mark.parametrize("form", [json.dumps(BODY).encode(), json.dumps(BODY), BODY])
def test_a_genuine_call_gives_the_sms(form):
    sms = parse_webhook(form, secret=SECRET)
    assert isinstance(sms, IncomingSMS)
    assert (sms.phone_number, sms.text, sms.timestamp, sms.received_at) == (
        "+11234567890",
        "Yes, confirm",
        None,
        None,
    )


def test_the_secret_is_not_kept_anywhere():
    sms = parse_webhook({**BODY, "timestamp": 1676842652256, "sent": False}, secret=SECRET)
    for text in (str(sms), repr(sms), json.dumps(sms.model_dump())):
        assert SECRET not in text
    assert sms.received_at.isoformat() == "2023-02-19T21:37:32.256000+00:00"
    assert sms.sent is False  # unknown fields are kept


@pytest.mark.parametrize(
    "body",
    [
        {**BODY, "secret": "whsec_guess"},
        {**BODY, "secret": ""},
        {**BODY, "secret": None},
        {"phone_number": "+11234567890", "text": "x"},
        {**BODY, "secret": SECRET + " "},
    ],
)
def test_a_wrong_or_missing_secret_is_refused(body):
    with pytest.raises(WebhookVerificationError) as info:
        parse_webhook(body, secret=SECRET)
    assert SECRET not in str(info.value)
    assert isinstance(info.value, textflow.TextFlowError)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", "", {"secret": SECRET, "text": "hi"}, {**BODY, "text": 5}],
)
def test_a_malformed_body_is_refused(body):
    with pytest.raises(WebhookError) as info:
        parse_webhook(body, secret=SECRET)
    assert not isinstance(info.value, WebhookVerificationError)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("secret", ["", None])
def test_a_blank_configured_secret_is_a_programming_error(secret):
    with pytest.raises(ValueError, match="secret"):
        parse_webhook(BODY, secret=secret)


@pytest.mark.parametrize("millis", [10**20, -(10**20), 10**400])
def test_an_absurd_timestamp_reads_as_no_time(millis):
    body = {"secret": "s3cret", "phone_number": "+11234567890", "text": "hi", "timestamp": millis}
    sms = parse_webhook(body, secret="s3cret")
    assert (sms.timestamp, sms.received_at) == (millis, None)
