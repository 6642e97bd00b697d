"""Every exception survives pickling (a worker pool hands it back), and its pickle
holds no API key, no verification code and no full phone number."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import pickle
from typing import Any

import httpx
import pytest
import respx

import textflow
from textflow import _operations as ops
from textflow import _wire
from textflow.webhooks import parse_webhook

from tests.core.core_support import KEY, Harness, response

pytestmark = pytest.mark.anyio

PHONE = "+11234567890"
CODE = "40451"
SECRETS = [KEY, CODE, PHONE, PHONE[1:]]


def _request(op: ops.Operation[Any]) -> httpx.Request:
    payload = {"phone_number": PHONE, "code": CODE, "text": f"Your code is {CODE}"}
    return httpx.Request(
        op.method,
        f"https://textflow.me/api{op.path}",
        headers={"Authorization": f"Bearer {KEY}"},
        content=json.dumps(payload).encode(),
    )


def _status_error(op: ops.Operation[Any], status: int, **headers: str) -> textflow.APIStatusError:
    """What the SDK raises for an answer that echoes everything it should not."""
    body = {
        "ok": False,
        "status": status,
        "message": f"Code {CODE} for {PHONE} refused",
        "valid_code": CODE,
        "phone_number": PHONE,
        "data": {"to": PHONE, "verification_code": CODE, "message_text": f"code {CODE}"},
        "echo": f"key {KEY}",
    }
    answer = httpx.Response(status, json=body, headers=headers, request=_request(op))
    return _wire.status_error(op, answer, body)


def _examples() -> list[textflow.TextFlowError]:
    request = _request(ops.SEND_CODE)
    return [
        textflow.ConfigurationError("No API key", missing="api_key"),
        textflow.ClientStateError("This client is closed."),
        textflow.InputValidationError("phone_number must be ...", argument="phone_number"),
        textflow.WebhookError("The webhook body is not JSON."),
        textflow.WebhookVerificationError("The webhook secret is missing or does not match."),
        _wire.connection_error(ops.SEND_CODE, httpx.ReadTimeout("", request=request)),
        _wire.connection_error(ops.SEND_CODE, httpx.ConnectError("refused", request=request)),
        _wire.undecodable(ops.SEND_CODE, httpx.DecodingError("bad gzip", request=request)),
        _status_error(ops.VERIFY_CODE, 400),
        _status_error(ops.SEND_CODE, 401),
        _status_error(ops.SEND_CODE, 403),
        _status_error(ops.SEND_CODE, 404),
        _status_error(ops.SEND_CODE, 409),
        _status_error(ops.SEND_SMS, 429, **{"Retry-After": "7"}),
        _status_error(ops.VERIFY_CODE, 503),
    ]


FIELDS = ("status", "status_code", "retry_after", "argument", "missing", "may_have_been_sent")


@pytest.mark.parametrize("exc", _examples(), ids=lambda exc: type(exc).__name__)
def test_every_exception_round_trips_through_pickle_without_secrets(
    exc: textflow.TextFlowError,
) -> None:
    data = pickle.dumps(exc)
    for secret in SECRETS:
        assert secret.encode() not in data, secret
    back = pickle.loads(data)
    assert type(back) is type(exc)
    assert str(back) == str(exc)
    assert back.args == exc.args
    for name in FIELDS:
        assert getattr(back, name, None) == getattr(exc, name, None), name
    if isinstance(exc, textflow.APIError):
        assert isinstance(back, textflow.APIError)
        assert (back.request, back.response) == (None, None)
    if isinstance(exc, textflow.APIStatusError):
        assert isinstance(back, textflow.APIStatusError)
        assert back.message == exc.message
        assert back.body["ok"] is False
        assert back.body["status"] == exc.body["status"]
        assert back.body["phone_number"] == "+1123*****90"
        assert back.body["valid_code"] == back.body["data"]["verification_code"] == "******"
        assert (back.result is None) is (exc.result is None)
        if exc.result is not None:
            assert back.result is not None
            assert type(back.result) is type(exc.result)
            assert (back.result.ok, back.result.model_dump()["status"]) == (False, exc.status)


def test_the_live_exception_keeps_the_users_own_body() -> None:
    exc = _status_error(ops.VERIFY_CODE, 400)
    assert exc.result is not None
    assert exc.body["valid_code"] == CODE  # masked only in the pickle
    back = pickle.loads(pickle.dumps(exc))
    assert back.result.valid_code == "******"
    assert exc.request is not None
    pickle.dumps(exc)
    assert exc.body["valid_code"] == CODE
    assert exc.request is not None


def test_a_message_that_echoes_the_number_or_code_shows_neither() -> None:
    exc = _status_error(ops.VERIFY_CODE, 400)
    assert exc.message == "Code ****** for +1123*****90 refused"
    assert CODE not in str(exc)
    assert PHONE not in str(exc)


def test_a_key_echoed_in_the_body_reaches_neither_result_nor_body() -> None:
    exc = _status_error(ops.SEND_SMS, 400)
    assert KEY not in str(exc.result)
    assert KEY not in repr(exc.result)
    assert KEY not in json.dumps(exc.body)
    assert exc.body["echo"] == "key ******"


def test_a_redirect_location_that_echoes_the_key_is_scrubbed() -> None:
    request = _request(ops.SEND_SMS)
    answer = httpx.Response(
        302, headers={"Location": f"https://evil.example/?k={KEY}"}, request=request
    )
    exc = _wire.status_error(ops.SEND_SMS, answer, None)
    assert "a redirect to" in str(exc)
    assert "evil.example" in str(exc)
    assert KEY not in str(exc)
    assert exc.may_have_been_sent is False


def test_a_webhook_error_from_parse_webhook_pickles() -> None:
    with pytest.raises(textflow.WebhookVerificationError) as info:
        parse_webhook({"secret": "guess", "phone_number": PHONE, "text": "hi"}, secret="s3cret")
    back = pickle.loads(pickle.dumps(info.value))
    assert type(back) is textflow.WebhookVerificationError
    assert str(back) == str(info.value)


def _fail_in_worker() -> None:
    raise _status_error(ops.VERIFY_CODE, 429, **{"Retry-After": "3"})


def test_a_process_pool_hands_the_exception_back() -> None:
    context = multiprocessing.get_context("spawn")  # no fork of a threaded test process
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(_fail_in_worker)
        with pytest.raises(textflow.RateLimitError) as info:
            future.result(timeout=120)
    assert info.value.retry_after == 3.0
    assert info.value.may_have_been_sent is False
    assert info.value.response is None
    assert KEY not in str(info.value)


async def test_an_exception_raised_by_a_client_pickles_without_secrets(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    body = {"ok": False, "status": 400, "message": f"{PHONE}: wrong code {CODE}"}
    mock_api.post("/verify-code").mock(return_value=response(400, body))
    with pytest.raises(textflow.BadRequestError) as info:
        await api.call("verify_code", PHONE, CODE)
    data = pickle.dumps(info.value)
    for secret in SECRETS:
        assert secret.encode() not in data, secret
    assert pickle.loads(data).status == 400


async def test_a_bulk_refusal_pickles_without_any_recipient(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    numbers = [PHONE, "+381611231234"]
    body = {
        "ok": False,
        "status": 400,
        "message": "Some numbers are invalid",
        "data": {"phone_numbers": numbers, "rejected": [{"to": numbers[1], "why": "x"}]},
        "phone_numbers": [numbers[0], 5],
        "phone_number": 12345678,
    }
    mock_api.post("/bulk-sms").mock(return_value=response(400, body))
    with pytest.raises(textflow.BadRequestError) as info:
        await api.call("send_bulk_sms", numbers, "Hi")
    data = pickle.dumps(info.value)
    for number in numbers:
        assert number.encode() not in data
    back = pickle.loads(data)
    assert back.body["data"]["phone_numbers"] == ["+1123*****90", "+3816******34"]
    assert back.body["data"]["rejected"] == [{"to": "+3816******34", "why": "x"}]
    assert back.body["phone_numbers"] == ["+1123*****90", "******"]
    assert back.body["phone_number"] == "******"
    assert info.value.body == body  # the live exception keeps the caller's data


def test_an_exception_built_by_hand_pickles() -> None:
    answer = httpx.Response(500, json={"ok": False})  # no request attached
    exc = textflow.InternalServerError("down", response=answer, status=500, body=[{"to": PHONE}])
    assert exc.request is None
    back = pickle.loads(pickle.dumps(exc))
    assert back.body == [{"to": "+1123*****90"}]
    assert (back.status, back.result) == (500, None)
