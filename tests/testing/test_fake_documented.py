"""The fake answers word for word as TextFlow's Python documentation page shows.

The page's five example results (and the bad-key answer of the sending calls)
are written out below literally, copied from the page, not imported from the
fake: a change to the fake's wording fails here. Each is compared with the
fake's answer as JSON text, so keys, their order, values and types (``true``
vs ``1``, ``0.15`` vs ``"0.15"``, ``"445180"`` vs ``445180``) must all match.

The fake's clock is set to the page's timestamps and its code generator to the
page's code, so every field can be compared, none skipped.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import textflowsms as tf
from textflow import _legacy
from textflow.testing import FakeTextFlow, _answers

from tests.testing.fake_helpers import Clock, auth

# --- the page's examples, verbatim (trailing spaces included) ---------------------------------

SEND_SMS_SUCCESS = {
    "ok": True,
    "status": 200,
    "message": "Message sent successfully",
    "data": {
        "to": "+11234567890",
        "content": "Dummy message text...",
        "country_code": "United States",
        "price": 0.15,
        "timestamp": 1676842652256,
    },
}
SEND_CODE_SUCCESS = {
    "ok": True,
    "status": 200,
    "message": "Verification SMS sent. ",
    "data": {
        "verification_code": "445180",
        "expires": 1676901632181,
        "message_text": "Your verification code for My super cool app is:\n445180",
    },
}
VERIFY_VALID = {
    "ok": True,
    "valid": True,
    "status": 200,
    "message": "The code is valid. ",
    "valid_code": "445180",
    "expires": 1676901632181,
}
VERIFY_WRONG = {"ok": True, "valid": False, "status": 400, "message": "The code is invalid. "}
VERIFY_BAD_KEY = {
    "ok": False,
    "valid": False,
    "status": 401,
    "message": "Invalid API key or user id.",
}
SEND_BAD_KEY = {"ok": False, "status": 400, "message": "Invalid API key or user id."}

# --- the page's inputs -------------------------------------------------------------------------

PHONE = "+11234567890"
TEXT = "Dummy message text..."
SERVICE = "My super cool app"
CODE = "445180"
WRONG_CODE = "123456"
SMS_AT = 1676842652256 / 1000  # the fake clock (seconds) when the SMS is sent
CODE_AT = (1676901632181 - 600_000) / 1000  # ... when the code is sent, for 600 s


def exactly(value: Any) -> str:
    """``value`` as JSON text: equal only with the same keys, order, values and types."""
    return json.dumps(value, ensure_ascii=False)


@pytest.fixture
def clock() -> Clock:
    """The fake's clock (this module's fake and wire use it), at the page's SMS time."""
    return Clock(SMS_AT)


@pytest.fixture(autouse=True)
def page_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake's next codes are the page's code."""
    fixed = types.SimpleNamespace(randbelow=lambda bound: int(CODE))
    monkeypatch.setattr(_answers, "secrets", fixed)


def post(wire: httpx.Client, path: str, body: dict[str, Any], key: str = "tf_test_key") -> Any:
    """POST ``body``; check the HTTP status equals the body's ``status``; return the body."""
    response = wire.post(path, json=body, headers=auth(key))
    answer = response.json()
    assert response.status_code == answer["status"]
    assert response.headers["content-type"].startswith("application/json")
    return answer


def send_code(wire: httpx.Client, clock: Clock) -> Any:
    clock.now = CODE_AT
    body = {"phone_number": PHONE, "service_name": SERVICE, "seconds": 600}
    return post(wire, "/send-code", body)


# --- each example, over HTTP and in process (the wire fixture runs both) ------------------------


def test_send_sms_success(wire: httpx.Client) -> None:
    answer = post(wire, "/send-sms", {"phone_number": PHONE, "text": TEXT})
    assert exactly(answer) == exactly(SEND_SMS_SUCCESS)


def test_send_verification_sms_success(
    wire: httpx.Client, clock: Clock, fake: FakeTextFlow
) -> None:
    assert exactly(send_code(wire, clock)) == exactly(SEND_CODE_SUCCESS)
    # the SMS "delivered" is the documented message_text, newline included
    assert fake.messages[-1].text == "Your verification code for My super cool app is:\n445180"


def test_verify_code_valid(wire: httpx.Client, clock: Clock) -> None:
    send_code(wire, clock)
    answer = post(wire, "/verify-code", {"phone_number": PHONE, "code": CODE})
    assert exactly(answer) == exactly(VERIFY_VALID)


def test_verify_code_wrong_code(wire: httpx.Client, clock: Clock) -> None:
    send_code(wire, clock)
    answer = post(wire, "/verify-code", {"phone_number": PHONE, "code": WRONG_CODE})
    assert exactly(answer) == exactly(VERIFY_WRONG)


def test_verify_code_bad_key_is_401(wire: httpx.Client, clock: Clock) -> None:
    send_code(wire, clock)
    answer = post(wire, "/verify-code", {"phone_number": PHONE, "code": CODE}, key="bad")
    assert exactly(answer) == exactly(VERIFY_BAD_KEY)
    missing = wire.post("/verify-code", json={"phone_number": PHONE, "code": CODE})
    assert missing.status_code == 401
    assert exactly(missing.json()) == exactly(VERIFY_BAD_KEY)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/send-sms", {"phone_number": PHONE, "text": TEXT}),
        ("/send-code", {"phone_number": PHONE, "service_name": SERVICE, "seconds": 600}),
    ],
)
def test_sending_with_a_bad_key_is_400(
    wire: httpx.Client, fake: FakeTextFlow, path: str, body: dict[str, Any]
) -> None:
    answer = post(wire, path, body, key="bad")
    assert exactly(answer) == exactly(SEND_BAD_KEY)
    assert fake.messages == []


# --- the legacy functions' documented flow, against FakeTextFlow().serve() ---------------------


def fields(result: Any, example: dict[str, Any]) -> dict[str, Any]:
    """The attributes of ``result`` named by ``example``'s keys, nested ``data`` included."""
    read = {}
    for name, documented in example.items():
        value = getattr(result, name)
        read[name] = fields(value, documented) if isinstance(documented, dict) else value
    return read


@pytest.fixture
def legacy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The legacy functions' default client, forgotten afterwards."""
    monkeypatch.delenv("TEXTFLOW_API_KEY", raising=False)
    _legacy.default_client.reset()
    try:
        yield
    finally:
        _legacy.default_client.reset()


@pytest.mark.usefixtures("legacy")
def test_the_legacy_documented_flow_against_the_served_fake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(SMS_AT)
    fake = FakeTextFlow(clock=clock)
    with fake.serve() as base_url:
        monkeypatch.setenv("TEXTFLOW_BASE_URL", base_url)
        tf.useKey(fake.api_key)
        sent = tf.sendSMS(PHONE, TEXT)
        clock.now = CODE_AT
        code_sent = tf.sendVerificationSMS(PHONE, SERVICE, 600)
        wrong = tf.verifyCode(PHONE, WRONG_CODE)
        valid = tf.verifyCode(PHONE, CODE)
        tf.useKey("not_the_key")
        bad_sms = tf.sendSMS(PHONE, TEXT)
        bad_code = tf.sendVerificationSMS(PHONE, SERVICE, 600)
        bad_verify = tf.VerifyCode(PHONE, CODE)

    assert isinstance(sent, tf.SendMessageResult)
    assert exactly(fields(sent, SEND_SMS_SUCCESS)) == exactly(SEND_SMS_SUCCESS)
    assert isinstance(code_sent, tf.VerifyPhoneResult)
    assert exactly(fields(code_sent, SEND_CODE_SUCCESS)) == exactly(SEND_CODE_SUCCESS)
    assert isinstance(wrong, tf.VerifyCodeResult)
    assert exactly(fields(wrong, VERIFY_WRONG)) == exactly(VERIFY_WRONG)
    assert (wrong.valid_code, wrong.expires) == (None, None)
    assert isinstance(valid, tf.VerifyCodeResult)
    assert exactly(fields(valid, VERIFY_VALID)) == exactly(VERIFY_VALID)
    assert exactly(fields(bad_sms, SEND_BAD_KEY)) == exactly(SEND_BAD_KEY)
    assert exactly(fields(bad_code, SEND_BAD_KEY)) == exactly(SEND_BAD_KEY)
    assert isinstance(bad_code, tf.VerifyPhoneResult)
    assert (bad_sms.data, bad_code.data) == (None, None)
    assert isinstance(bad_verify, tf.VerifyCodeResult)
    assert exactly(fields(bad_verify, VERIFY_BAD_KEY)) == exactly(VERIFY_BAD_KEY)
    assert [m.kind for m in fake.messages] == ["sms", "code"]  # a bad key sends nothing
