"""Parsing and verifying the incoming-SMS webhook."""

from __future__ import annotations

import json
from typing import Any

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
def test_a_genuine_call_gives_the_sms(form: Any) -> None:
    sms = parse_webhook(form, secret=SECRET)
    assert isinstance(sms, IncomingSMS)
    assert (sms.phone_number, sms.text, sms.timestamp, sms.received_at) == (
        "+11234567890",
        "Yes, confirm",
        None,
        None,
    )


def test_the_secret_is_not_kept_anywhere() -> None:
    sms = parse_webhook({**BODY, "timestamp": 1676842652256, "sent": False}, secret=SECRET)
    for text in (str(sms), repr(sms), json.dumps(sms.model_dump())):
        assert SECRET not in text
    assert sms.received_at is not None
    assert sms.received_at.isoformat() == "2023-02-19T21:37:32.256000+00:00"
    assert sms.model_extra == {"sent": False}  # unknown fields are kept


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
def test_a_wrong_or_missing_secret_is_refused(body: Any) -> None:
    with pytest.raises(WebhookVerificationError) as info:
        parse_webhook(body, secret=SECRET)
    assert SECRET not in str(info.value)
    assert isinstance(info.value, textflow.TextFlowError)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", "", {"secret": SECRET, "text": "hi"}, {**BODY, "text": 5}],
)
def test_a_malformed_body_is_refused(body: Any) -> None:
    with pytest.raises(WebhookError) as info:
        parse_webhook(body, secret=SECRET)
    assert not isinstance(info.value, WebhookVerificationError)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("secret", ["", None])
def test_a_blank_configured_secret_is_a_programming_error(secret: Any) -> None:
    with pytest.raises(textflow.InputValidationError, match="secret"):
        parse_webhook(BODY, secret=secret)


@pytest.mark.parametrize("millis", [10**20, -(10**20), 10**400])
def test_an_absurd_timestamp_reads_as_no_time(millis: int) -> None:
    body = {"secret": "s3cret", "phone_number": "+11234567890", "text": "hi", "timestamp": millis}
    sms = parse_webhook(body, secret="s3cret")
    assert (sms.timestamp, sms.received_at) == (millis, None)


@pytest.mark.parametrize(
    "raw",
    [
        '{"secret": "\\ud800", "phone_number": "+11234567890", "text": "hi"}',
        b'{"secret": "\\udce9x", "phone_number": "+11234567890", "text": "hi"}',
        '{"secret": "whsec_test_not_real\\ud800", "phone_number": "+1", "text": "hi"}',
    ],
)
def test_a_secret_that_is_a_lone_surrogate_is_refused(raw: Any) -> None:
    with pytest.raises(WebhookVerificationError):
        parse_webhook(raw, secret=SECRET)


def test_a_lone_surrogate_never_matches_a_surrogate_free_secret() -> None:
    # Encoded with surrogatepass, "\ud800" is b"\xed\xa0\x80", which no valid str encodes to.
    with pytest.raises(WebhookVerificationError):
        parse_webhook({**BODY, "secret": "\ud800"}, secret="\ud7ff")


def test_a_configured_secret_with_a_lone_surrogate_is_the_callers_error() -> None:
    with pytest.raises(textflow.InputValidationError, match="lone surrogate") as info:
        parse_webhook(json.dumps(BODY), secret="caf\udce9")
    assert info.value.argument == "secret"


S = f'"secret": "{SECRET}"'


@pytest.mark.parametrize(
    "raw",
    [
        '{"secret": "guess", ' + S + ', "phone_number": "+11234567890", "text": "hi"}',
        "{" + S + ', "secret": "guess", "phone_number": "+11234567890", "text": "hi"}',
        "{" + S + ', "phone_number": "+1", "text": "a", "text": "b"}',
        "{" + S + ', "phone_number": "+1", "text": "a", "x": {"k": 1, "k": 2}}',
    ],
)
def test_a_body_with_a_repeated_key_is_refused(raw: Any) -> None:
    with pytest.raises(WebhookError, match="twice") as info:
        parse_webhook(raw, secret=SECRET)
    assert type(info.value) is WebhookError
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("body", [None, 5, 1.5, True, ["secret"], bytearray(b"[]")])
def test_a_body_of_the_wrong_type_is_a_webhook_error(body: Any) -> None:
    with pytest.raises(WebhookError, match="not a JSON object"):
        parse_webhook(body, secret=SECRET)


def test_a_bytearray_body_is_parsed_like_bytes() -> None:
    sms = parse_webhook(bytearray(json.dumps(BODY).encode()), secret=SECRET)
    assert sms.text == "Yes, confirm"


@pytest.mark.parametrize("secret", [None, 5, b"bytes"])
def test_a_configured_secret_of_the_wrong_type_is_a_textflow_error(secret: Any) -> None:
    with pytest.raises(textflow.InputValidationError, match="secret"):
        parse_webhook(json.dumps(BODY), secret=secret)
