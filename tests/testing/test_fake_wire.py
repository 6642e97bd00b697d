"""The fake against the wire reference, with raw httpx requests (no SDK).

Each test runs twice through the ``wire`` fixture: over a real loopback socket
to the fake's HTTP server, and in process through its MockTransport.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from textflow.testing import (
    INSUFFICIENT_CREDIT_NUMBER,
    INVALID_NUMBER,
    PRICE_PER_SMS,
    RATE_LIMITED_NUMBER,
    UNAVAILABLE_NUMBER,
    FakeTextFlow,
)

from tests.testing.fake_helpers import START, Clock, auth

US = "+11234567890"
RS = "+381611231234"
NOW_MS = int(START * 1000)


def error(response: httpx.Response, status: int, message: str) -> dict[str, Any]:
    """Assert the API's error envelope, HTTP status equal to the body's; return the body."""
    body: dict[str, Any] = response.json()
    assert response.status_code == status
    assert body["ok"] is False
    assert body["status"] == status
    assert body["message"] == message
    assert response.headers["content-type"].startswith("application/json")
    return body


def send_code(wire: httpx.Client, number: str = US, **fields: Any) -> dict[str, Any]:
    response = wire.post("/send-code", json={"phone_number": number, **fields}, headers=auth())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- send-sms -------------------------------------------------------------------------------


def test_send_sms_answers_the_documented_envelope(wire: httpx.Client, fake: FakeTextFlow) -> None:
    response = wire.post("/send-sms", json={"phone_number": RS, "text": "Hello"}, headers=auth())
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "status": 200,
        "message": "Message sent successfully",
        "data": {
            "to": RS,
            "content": "Hello",
            "country_code": "Serbia",
            "price": 0.15,
            "timestamp": NOW_MS,
        },
    }
    assert [(m.phone_number, m.text, m.kind, m.timestamp) for m in fake.messages] == [
        (RS, "Hello", "sms", NOW_MS)
    ]
    assert fake.balance == Decimal(100) - PRICE_PER_SMS


@pytest.mark.parametrize(
    ("number", "to", "country"),
    [
        ("+1 (123) 456-7890", US, "United States"),
        ("+381.61.123.1234", RS, "Serbia"),
        ("+44 7700 900123", "+447700900123", "United Kingdom"),
        ("+8881234567", "+8881234567", "Unknown"),
    ],
)
def test_send_sms_normalises_the_number_and_names_the_country(
    wire: httpx.Client, number: str, to: str, country: str
) -> None:
    response = wire.post("/send-sms", json={"phone_number": number, "text": "x"}, headers=auth())
    data = response.json()["data"]
    assert (data["to"], data["country_code"]) == (to, country)


@pytest.mark.parametrize(
    "number", ["11234567890", "+0123456789", "+12345", "+1234567890123456", "+1abc4567890", 12345]
)
def test_invalid_phone_numbers_are_refused(
    wire: httpx.Client, fake: FakeTextFlow, number: object
) -> None:
    response = wire.post("/send-sms", json={"phone_number": number, "text": "x"}, headers=auth())
    error(response, 400, "Phone number is invalid")
    assert fake.messages == []
    assert fake.balance == 100


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x"}, "phone_number"),
        ({"phone_number": "", "text": "x"}, "phone_number"),
        ({"phone_number": US}, "text"),
        ({"phone_number": US, "text": "   "}, "text"),
        ({"phone_number": US, "text": 5}, "text"),
    ],
)
def test_missing_fields_are_named(wire: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = wire.post("/send-sms", json=body, headers=auth())
    error(response, 400, f"Missing required field: {field}.")


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_refused(wire: httpx.Client, content: bytes) -> None:
    headers = {**auth(), "Content-Type": "application/json"}
    response = wire.post("/send-sms", content=content, headers=headers)
    error(response, 400, "The request body is not valid JSON.")


# --- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, auth("wrong"), {"Authorization": "Basic tf_test_key"}, {"Authorization": "Bearer"}],
    ids=["missing", "wrong-key", "wrong-scheme", "empty"],
)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/send-sms", {"phone_number": US, "text": "x"}),
        ("/send-code", {"phone_number": US}),
        ("/bulk-sms", {"phone_numbers": [US], "text": "x"}),
    ],
)
def test_a_bad_key_is_refused(
    wire: httpx.Client, fake: FakeTextFlow, headers: dict[str, str], path: str, body: Any
) -> None:
    response = wire.post(path, json=body, headers=headers)
    assert error(response, 400, "Invalid API key or user id.").keys() == {"ok", "status", "message"}
    assert fake.messages == []


def test_a_bad_key_on_verify_code_is_401_and_says_valid_false(wire: httpx.Client) -> None:
    response = wire.post("/verify-code", json={"phone_number": US, "code": "1"}, headers=auth("x"))
    assert error(response, 401, "Invalid API key or user id.")["valid"] is False


def test_a_bad_key_on_balance_is_exactly_ok_false(wire: httpx.Client) -> None:
    response = wire.get("/balance", headers=auth("wrong"))
    assert response.status_code == 401
    assert response.json() == {"ok": False}


def test_the_scheme_is_case_insensitive(wire: httpx.Client) -> None:
    response = wire.get("/balance", headers={"Authorization": "bearer tf_test_key"})
    assert response.status_code == 200


def test_a_chosen_key_replaces_the_default() -> None:
    fake = FakeTextFlow("my-key")
    with httpx.Client(transport=fake.transport(), base_url="https://x.invalid/api") as wire:
        assert wire.get("/balance", headers=auth("my-key")).status_code == 200
        assert wire.get("/balance", headers=auth()).status_code == 401


# --- form bodies and lenient types (C# and Java clients) --------------------------------------


def test_form_bodies_are_accepted(wire: httpx.Client, fake: FakeTextFlow) -> None:
    sms = wire.post("/send-sms", data={"phone_number": US, "text": "form"}, headers=auth())
    assert sms.json()["data"]["content"] == "form"
    code = wire.post(
        "/send-code",
        data={"phone_number": US, "service_name": "Acme", "seconds": "60", "test": "true"},
        headers=auth(),
    ).json()["data"]
    assert code["expires"] == NOW_MS + 60_000
    verify = wire.post(
        "/verify-code",
        data={"phone_number": US, "code": code["verification_code"], "test": "true"},
        headers=auth(),
    )
    assert verify.json()["valid"] is True
    bulk = wire.post(
        "/bulk-sms", data={"phone_numbers": [US, RS], "text": "all"}, headers=auth()
    ).json()
    assert bulk["data"]["recipients"] == 2
    brackets = wire.post(
        "/bulk-sms", data={"phone_numbers[]": [US, RS], "text": "all"}, headers=auth()
    )
    assert brackets.json()["data"]["recipients"] == 2
    assert [m.kind for m in fake.messages] == ["sms", "code", "bulk", "bulk", "bulk", "bulk"]


@pytest.mark.parametrize(("seconds", "lives"), [("600", 600), (30, 30), (86400, 86400), (5.0, 5)])
def test_seconds_may_be_a_number_or_numeric_string(
    wire: httpx.Client, seconds: object, lives: int
) -> None:
    assert send_code(wire, seconds=seconds)["data"]["expires"] == NOW_MS + lives * 1000


@pytest.mark.parametrize("seconds", [0, -5, 86401, "abc", "1.5", 1.5, True, [600]])
def test_seconds_out_of_range_is_refused(wire: httpx.Client, seconds: object) -> None:
    body = {"phone_number": US, "seconds": seconds}
    response = wire.post("/send-code", json=body, headers=auth())
    error(response, 400, "seconds must be a whole number from 1 to 86400.")


# --- send-code and verify-code ----------------------------------------------------------------


def test_send_code_answers_a_six_digit_code(wire: httpx.Client, fake: FakeTextFlow) -> None:
    body = send_code(wire, service_name="Acme", seconds=120)
    code = body["data"]["verification_code"]
    assert body == {
        "ok": True,
        "status": 200,
        "message": "Verification SMS sent. ",
        "data": {
            "verification_code": code,
            "expires": NOW_MS + 120_000,
            "message_text": f"Your verification code for Acme is:\n{code}",
        },
    }
    assert len(code) == 6
    assert code.isdigit()
    assert fake.last_code(US) == code
    assert fake.messages[-1].text == f"Your verification code for Acme is:\n{code}"
    assert fake.messages[-1].kind == "code"
    assert fake.balance == Decimal(100) - PRICE_PER_SMS


def test_send_code_defaults_to_ten_minutes_and_no_service_name(wire: httpx.Client) -> None:
    data = send_code(wire)["data"]
    assert data["expires"] == NOW_MS + 600_000
    assert data["message_text"] == f"Your verification code is:\n{data['verification_code']}"


def test_a_valid_code_verifies_once(wire: httpx.Client, fake: FakeTextFlow) -> None:
    data = send_code(wire)["data"]
    body = {"phone_number": US, "code": data["verification_code"]}
    response = wire.post("/verify-code", json=body, headers=auth())
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "status": 200,
        "message": "The code is valid. ",
        "valid": True,
        "valid_code": data["verification_code"],
        "expires": data["expires"],
    }
    assert not fake.has_code(US)
    again = wire.post("/verify-code", json=body, headers=auth())
    assert again.status_code == 400
    assert again.json() == {
        "ok": True,
        "status": 400,
        "message": "The code is invalid. ",
        "valid": False,
    }


def test_a_wrong_code_is_a_normal_answer_and_keeps_the_live_code(
    wire: httpx.Client, fake: FakeTextFlow
) -> None:
    code = send_code(wire)["data"]["verification_code"]
    wrong = "000000" if code != "000000" else "111111"
    response = wire.post("/verify-code", json={"phone_number": US, "code": wrong}, headers=auth())
    assert response.status_code == 400
    assert response.json()["ok"] is True
    assert response.json()["valid"] is False
    assert fake.last_code(US) == code
    right = wire.post("/verify-code", json={"phone_number": US, "code": code}, headers=auth())
    assert right.json()["valid"] is True


def test_a_code_can_be_typed_as_a_json_number(wire: httpx.Client, fake: FakeTextFlow) -> None:
    code = send_code(wire)["data"]["verification_code"]
    body = {"phone_number": "+1 123 456 7890", "code": int(code)}  # leading zeros are lost
    assert wire.post("/verify-code", json=body, headers=auth()).json()["valid"] is True


def test_a_numeric_code_is_zero_padded(wire: httpx.Client, fake: FakeTextFlow) -> None:
    send_code(wire)
    with fake._state.lock:
        fake._state.codes[US].code = "000042"
    body = {"phone_number": US, "code": 42}
    assert wire.post("/verify-code", json=body, headers=auth()).json()["valid"] is True


def test_codes_expire_by_the_injected_clock(
    wire: httpx.Client, fake: FakeTextFlow, clock: Clock
) -> None:
    code = send_code(wire, seconds=60)["data"]["verification_code"]
    clock.advance(59.999)
    assert fake.last_code(US) == code
    clock.advance(0.001)
    assert not fake.has_code(US)
    response = wire.post("/verify-code", json={"phone_number": US, "code": code}, headers=auth())
    assert response.status_code == 400
    assert response.json() == {
        "ok": True,
        "status": 400,
        "message": "The code has expired. ",
        "valid": False,
    }


def test_a_new_code_replaces_the_old_one(wire: httpx.Client, fake: FakeTextFlow) -> None:
    first = send_code(wire)["data"]["verification_code"]
    second = send_code(wire)["data"]["verification_code"]
    assert fake.last_code(US) == second
    if first != second:
        old = wire.post("/verify-code", json={"phone_number": US, "code": first}, headers=auth())
        assert old.json()["valid"] is False
    new = wire.post("/verify-code", json={"phone_number": US, "code": second}, headers=auth())
    assert new.json()["valid"] is True


def test_verify_code_without_a_code_sent_is_invalid(wire: httpx.Client) -> None:
    response = wire.post("/verify-code", json={"phone_number": RS, "code": "123"}, headers=auth())
    assert response.status_code == 400
    assert response.json()["valid"] is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"code": "1"}, "Missing required field: phone_number."),
        ({"phone_number": US}, "Missing required field: code."),
        ({"phone_number": US, "code": " "}, "Missing required field: code."),
        ({"phone_number": "123", "code": "1"}, "Phone number is invalid"),
    ],
)
def test_verify_code_errors_carry_valid_false(
    wire: httpx.Client, body: dict[str, Any], message: str
) -> None:
    response = wire.post("/verify-code", json=body, headers=auth())
    assert error(response, 400, message)["valid"] is False


# --- bulk-sms -----------------------------------------------------------------------------------


def test_bulk_sms_delivers_to_every_recipient(wire: httpx.Client, fake: FakeTextFlow) -> None:
    body = {"phone_numbers": [US, RS, "+44 7700 900123"], "text": "Sale"}
    response = wire.post("/bulk-sms", json=body, headers=auth())
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "status": 200,
        "message": "Bulk SMS job started",
        "data": {"recipients": 3, "price": 0.45, "timestamp": NOW_MS},
    }
    assert [(m.phone_number, m.kind) for m in fake.messages] == [
        (US, "bulk"),
        (RS, "bulk"),
        ("+447700900123", "bulk"),
    ]
    assert fake.balance == Decimal(100) - 3 * PRICE_PER_SMS


def test_bulk_sms_takes_a_comma_separated_string(wire: httpx.Client) -> None:
    body = {"phone_numbers": f"{US},{RS}", "text": "x"}
    assert wire.post("/bulk-sms", json=body, headers=auth()).json()["data"]["recipients"] == 2


def test_one_invalid_number_fails_the_whole_bulk(wire: httpx.Client, fake: FakeTextFlow) -> None:
    body = {"phone_numbers": [US, "12"], "text": "x"}
    error(wire.post("/bulk-sms", json=body, headers=auth()), 400, "Phone number is invalid")
    assert fake.messages == []
    assert fake.balance == 100


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x"}, "phone_numbers"),
        ({"phone_numbers": [], "text": "x"}, "phone_numbers"),
        ({"phone_numbers": [US]}, "text"),
    ],
)
def test_bulk_missing_fields(wire: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = wire.post("/bulk-sms", json=body, headers=auth())
    error(response, 400, f"Missing required field: {field}.")


# --- balance and credit -------------------------------------------------------------------------


def test_balance_is_a_decimal_string_that_goes_down(wire: httpx.Client) -> None:
    first = wire.get("/balance", headers=auth())
    assert first.status_code == 200
    assert first.json() == {"ok": True, "credits": "100", "packages": {}}
    wire.post("/send-sms", json={"phone_number": US, "text": "x"}, headers=auth())
    assert wire.get("/balance", headers=auth()).json()["credits"] == "99.85"


def test_insufficient_credit_sends_nothing(fake: FakeTextFlow, wire: httpx.Client) -> None:
    fake.balance = Decimal("0.20")
    sms = {"phone_number": US, "text": "x"}
    assert wire.post("/send-sms", json=sms, headers=auth()).status_code == 200
    error(wire.post("/send-sms", json=sms, headers=auth()), 402, "Insufficient credits.")
    error(wire.post("/send-code", json=sms, headers=auth()), 402, "Insufficient credits.")
    bulk = {"phone_numbers": [US, RS], "text": "x"}
    fake.balance = Decimal("0.29")
    error(wire.post("/bulk-sms", json=bulk, headers=auth()), 402, "Insufficient credits.")
    assert len(fake.messages) == 1
    assert fake.balance == Decimal("0.29")


# --- magic numbers ------------------------------------------------------------------------------

MAGIC = [
    (INVALID_NUMBER, 400, "Phone number is invalid"),
    (INSUFFICIENT_CREDIT_NUMBER, 402, "Insufficient credits."),
    (RATE_LIMITED_NUMBER, 429, "Too many requests. Try again later."),
    (UNAVAILABLE_NUMBER, 503, "Service temporarily unavailable."),
]


@pytest.mark.parametrize(("number", "status", "message"), MAGIC)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/send-sms", {"text": "x"}),
        ("/send-code", {"service_name": "Acme"}),
        ("/bulk-sms", {"text": "x"}),
    ],
)
def test_magic_numbers_fail_the_same_way(
    wire: httpx.Client,
    fake: FakeTextFlow,
    number: str,
    status: int,
    message: str,
    path: str,
    body: dict[str, Any],
) -> None:
    if path == "/bulk-sms":
        body = {**body, "phone_numbers": [US, number]}
    else:
        body = {**body, "phone_number": number}
    for _ in range(2):
        response = wire.post(path, json=body, headers=auth())
        error(response, status, message)
        if status == 429:
            assert response.headers["retry-after"] == "1"
    assert fake.messages == []
    assert fake.balance == 100


@pytest.mark.parametrize(("number", "status", "message"), MAGIC)
def test_magic_numbers_on_verify_code(
    wire: httpx.Client, number: str, status: int, message: str
) -> None:
    response = wire.post("/verify-code", json={"phone_number": number, "code": "1"}, headers=auth())
    if number == INSUFFICIENT_CREDIT_NUMBER:  # verifying costs nothing: an ordinary number
        assert (response.status_code, response.json()["ok"]) == (400, True)
    else:
        error(response, status, message)
    assert response.json()["valid"] is False


# --- routing ------------------------------------------------------------------------------------


def test_unknown_paths_are_404(wire: httpx.Client) -> None:
    error(wire.post("/send-mms", json={}, headers=auth()), 404, "Not found.")
    error(wire.get("/", headers=auth()), 404, "Not found.")


def test_wrong_methods_are_405_with_allow(wire: httpx.Client) -> None:
    response = wire.get("/send-sms", headers=auth())
    error(response, 405, "Method not allowed.")
    assert response.headers["allow"] == "POST"
    assert wire.post("/balance", headers=auth()).headers["allow"] == "GET"


def test_trailing_slash_and_query_string_are_tolerated(wire: httpx.Client) -> None:
    assert wire.get("/balance/?x=1", headers=auth()).json()["ok"] is True
