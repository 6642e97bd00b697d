"""What each operation returns or raises for each kind of answer, on both clients."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

import textflow
from textflow.testing import FakeTextFlow

from tests.core.core_support import CALLS, KEY, OK_BODIES, Harness, ok_sms, response

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("name", list(CALLS))
async def test_each_operation_returns_its_model(
    api: Harness, mock_api: respx.MockRouter, name: str
) -> None:
    path, args = CALLS[name]
    route = mock_api.route(path=path).mock(return_value=response(200, OK_BODIES[name]))
    result = await api.call(name, *args)
    assert route.call_count == 1
    assert result.ok is True
    expected: type[object] = {
        "send_sms": textflow.SendMessageOk,
        "send_verification_sms": textflow.VerifyPhoneOk,
        "verify_code": textflow.VerifyCodeResult,
        "send_bulk_sms": textflow.BulkSMSResult,
        "get_balance": textflow.BalanceResult,
    }[name]
    assert type(result) is expected
    # The 0.1.0 classes stay the bases: isinstance checks written for them keep working.
    if name == "send_sms":
        assert isinstance(result, textflow.SendMessageResult)
    if name == "send_verification_sms":
        assert isinstance(result, textflow.VerifyPhoneResult)


async def test_send_sms_result_fields(api: Harness, mock_api: respx.MockRouter) -> None:
    mock_api.post("/send-sms").mock(return_value=response(200, OK_BODIES["send_sms"]))
    result = await api.call("send_sms", "+11234567890", "Dummy message text...")
    assert result.status == 200
    assert result.data.to == "+11234567890"
    assert result.data.price == Decimal("0.15")
    assert type(result.data.price) is Decimal
    assert result.data.timestamp == 1676842652256
    assert result.data.sent_at.isoformat() == "2023-02-19T21:37:32.256000+00:00"


async def test_verification_result_fields(api: Harness, mock_api: respx.MockRouter) -> None:
    mock_api.post("/send-code").mock(return_value=response(200, OK_BODIES["send_verification_sms"]))
    result = await api.call("send_verification_sms", "+11234567890", "Guest", 600)
    assert result.data.verification_code == "4045"
    assert result.data.expires_at.year == 2023
    assert result.data.message_text.endswith("4045")


async def test_balance_credits_are_decimal(api: Harness, mock_api: respx.MockRouter) -> None:
    mock_api.get("/balance").mock(return_value=response(200, OK_BODIES["get_balance"]))
    result = await api.call("get_balance")
    assert result.credits == Decimal("0.11437")
    assert result.packages == {"USA Canada": 2100}


async def test_wrong_code_is_an_answer_not_an_error(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    body = {"ok": True, "valid": False, "status": 400, "message": "Code is not valid"}
    mock_api.post("/verify-code").mock(return_value=response(400, body))
    result = await api.call("verify_code", "+11234567890", "0000")
    assert isinstance(result, textflow.VerifyCodeResult)
    assert result.valid is False
    assert result.ok is True
    assert result.status == 400
    assert result.valid_code is None
    assert result.expires_at is None


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"ok": False, "status": 400, "message": "Invalid API key or user id."}),
        (400, {"ok": False, "status": 400, "message": "Invalid API key"}),
        (404, {"ok": False, "status": 404, "message": "API key not found"}),
        (401, {"ok": False, "status": 401, "message": "Unauthorized"}),
        (401, {"ok": False, "valid": False}),
    ],
)
async def test_refused_key_raises_authentication_error(
    api: Harness, mock_api: respx.MockRouter, status: int, body: Any
) -> None:
    mock_api.post("/verify-code").mock(return_value=response(status, body))
    with pytest.raises(textflow.AuthenticationError) as info:
        await api.call("verify_code", "+11234567890", "4045")
    exc = info.value
    assert exc.status_code == status
    assert isinstance(exc, textflow.APIStatusError)
    for text in (str(exc), repr(exc), exc.message, str(exc.result), repr(exc.args)):
        assert KEY not in text


async def test_echoed_key_is_redacted_from_the_message(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    body = {"ok": False, "status": 400, "message": f"Key {KEY} is suspended"}
    mock_api.post("/send-sms").mock(return_value=response(400, body))
    with pytest.raises(textflow.BadRequestError) as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert KEY not in str(info.value)
    assert "***" in info.value.message


@pytest.mark.parametrize(
    ("status", "message", "cls"),
    [
        (400, "Phone number is invalid", textflow.BadRequestError),
        (403, "Forbidden", textflow.PermissionDeniedError),
        (404, "Not found", textflow.NotFoundError),
        (409, "Conflict", textflow.APIStatusError),
        (402, "Insufficient credit", textflow.APIStatusError),
        (500, "Server error", textflow.InternalServerError),
    ],
)
async def test_status_errors_map_to_classes(
    api: Harness,
    mock_api: respx.MockRouter,
    status: int,
    message: str,
    cls: type[textflow.APIStatusError],
) -> None:
    body = {"ok": False, "status": status, "message": message}
    mock_api.post("/send-sms").mock(return_value=response(status, body))
    with pytest.raises(cls) as info:
        await api.call("send_sms", "+11234567890", "hi")
    exc = info.value
    assert type(exc) is cls
    assert (exc.status, exc.status_code, exc.message, exc.body) == (status, status, message, body)
    assert isinstance(exc.result, textflow.SendMessageResult)
    assert exc.result.ok is False
    assert exc.result.message == message
    assert str(exc) == f"TextFlow API error {status}: {message}"


async def test_ok_false_on_http_200_is_an_error(api: Harness, mock_api: respx.MockRouter) -> None:
    body = {"ok": False, "status": 400, "message": "Phone number is invalid"}
    mock_api.post("/send-sms").mock(return_value=response(200, body))
    with pytest.raises(textflow.BadRequestError) as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert info.value.status_code == 200
    assert info.value.status == 400


async def test_bare_ok_false_on_http_200_is_a_bad_request(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    mock_api.post("/send-sms").mock(return_value=response(200, {"ok": False}))
    with pytest.raises(textflow.BadRequestError) as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert (info.value.status_code, info.value.status) == (200, 400)
    assert info.value.message == "send_sms failed with HTTP 200"


async def test_balance_error_body_is_just_ok_false(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    mock_api.get("/balance").mock(return_value=response(401, {"ok": False}))
    with pytest.raises(textflow.AuthenticationError) as info:
        await api.call("get_balance")
    result = info.value.result
    assert isinstance(result, textflow.BalanceFailed)  # was None: a BalanceResult needs credits
    assert (result.ok, result.status, result.credits) == (False, 401, None)
    assert "get_balance failed with HTTP 401" in str(info.value)


FAILED_MODELS: dict[str, type[textflow.Result]] = {
    "send_sms": textflow.SendMessageFailed,
    "send_verification_sms": textflow.VerifyPhoneFailed,
    "verify_code": textflow.VerifyCodeResult,
    "send_bulk_sms": textflow.BulkSMSResult,
    "get_balance": textflow.BalanceFailed,
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422, 429])
@pytest.mark.parametrize("full", [True, False], ids=["body", "bare-ok-false"])
async def test_every_operation_keeps_the_result_promise_on_a_4xx(
    api: Harness,
    mock_api: respx.MockRouter,
    no_backoff: list[float],
    name: str,
    status: int,
    full: bool,
) -> None:
    """docs/errors.md: ``result`` is the body as the call's result model with ``ok=False``."""
    path, args = CALLS[name]
    message = "Refused for a reason"
    body: dict[str, Any] = (
        {"ok": False, "status": status, "message": message} if full else {"ok": False}
    )
    mock_api.route(path=path).mock(return_value=response(status, body))
    with pytest.raises(textflow.APIStatusError) as info:
        await api.call(name, *args)
    exc = info.value
    result = exc.result
    assert result is not None, (name, status)
    assert type(result) is FAILED_MODELS[name]
    assert result.ok is False
    dumped = result.model_dump()
    assert (dumped["status"], dumped["message"]) == (exc.status, exc.message)


async def test_rate_limit_error_carries_retry_after(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    body = {"ok": False, "status": 429, "message": "Slow down"}
    mock_api.post("/send-sms").mock(
        return_value=response(429, body, headers={"Retry-After": "120"})
    )
    with pytest.raises(textflow.RateLimitError) as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert info.value.retry_after == 120.0


@pytest.mark.parametrize(
    "content",
    [b"<html>hello</html>", b"", b"[1, 2]", b'"ok"', b"\xff\xfe", b'{"status": 200}'],
)
async def test_2xx_that_is_not_the_promised_json_is_malformed(
    api: Harness, mock_api: respx.MockRouter, content: Any
) -> None:
    mock_api.post("/send-sms").mock(return_value=httpx.Response(200, content=content))
    with pytest.raises(textflow.MalformedResponseError) as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert info.value.status_code == 200


async def test_ok_true_with_missing_fields_is_malformed(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    body = {"ok": True, "status": 200, "message": "sent", "data": {"to": "+1"}}
    mock_api.post("/send-sms").mock(return_value=response(200, body))
    with pytest.raises(textflow.MalformedResponseError, match=r"data\.content"):
        await api.call("send_sms", "+11234567890", "hi")


async def test_verify_answer_without_verdict_is_malformed(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    mock_api.post("/verify-code").mock(
        return_value=response(200, {"ok": True, "status": 200, "message": "?"})
    )
    with pytest.raises(textflow.MalformedResponseError, match="valid"):
        await api.call("verify_code", "+11234567890", "4045")


async def test_5xx_html_page_is_internal_server_error(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    mock_api.post("/send-sms").mock(
        return_value=httpx.Response(502, content=b"<html><h1>Bad Gateway</h1></html>")
    )
    with pytest.raises(textflow.InternalServerError) as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert info.value.status_code == 502
    assert info.value.body is None


async def test_redirect_is_not_followed(api: Harness, mock_api: respx.MockRouter) -> None:
    mock_api.post("/send-sms").mock(
        return_value=httpx.Response(302, headers={"Location": "https://elsewhere.example/x"})
    )
    elsewhere = mock_api.route(host="elsewhere.example")
    with pytest.raises(textflow.APIStatusError) as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert type(info.value) is textflow.APIStatusError
    assert (info.value.status_code, info.value.status) == (302, 302)
    assert "not followed" in str(info.value)
    assert "https://elsewhere.example/x" in str(info.value)
    assert elsewhere.call_count == 0


async def test_str_is_compact_json_and_unknown_fields_are_kept(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    body = {**OK_BODIES["send_sms"], "job_id": "j-1"}
    body["data"] = {**body["data"], "parts": 2}
    mock_api.post("/send-sms").mock(return_value=response(200, body))
    result = await api.call("send_sms", "+11234567890", "Dummy message text...")
    assert json.loads(str(result)) == body
    assert str(result) == json.dumps(body, separators=(",", ":"))
    assert result.job_id == "j-1"
    assert result.model_extra == {"job_id": "j-1"}
    assert result.data.parts == 2


async def test_codes_are_masked_in_str_and_repr(api: Harness, mock_api: respx.MockRouter) -> None:
    mock_api.post("/send-code").mock(return_value=response(200, OK_BODIES["send_verification_sms"]))
    mock_api.post("/verify-code").mock(return_value=response(200, OK_BODIES["verify_code"]))
    sent = await api.call("send_verification_sms", "+11234567890", "Guest", 600)
    checked = await api.call("verify_code", "+11234567890", "4045")
    for text in (str(sent), repr(sent), str(checked), repr(checked), repr(sent.data)):
        assert "4045" not in text
    assert json.loads(str(sent))["data"]["verification_code"] == "******"
    assert sent.data.verification_code == "4045"
    assert checked.valid_code == "4045"


async def test_request_wire_format(api: Harness, mock_api: respx.MockRouter) -> None:
    route = mock_api.post("/send-code").mock(
        return_value=response(200, OK_BODIES["send_verification_sms"])
    )
    await api.call("send_verification_sms", "+1 (123) 456-7890")
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Content-Type"] == "application/json"
    user_agent = request.headers["User-Agent"]
    assert user_agent.startswith(f"textflow-python/{textflow.__version__} httpx/")
    assert "Python/" in user_agent
    assert json.loads(request.content) == {
        "phone_number": "+11234567890",
        "service_name": "",
        "seconds": 600,
    }


async def test_bulk_body_normalises_and_sends_each_number_once(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    route = mock_api.post("/bulk-sms").mock(return_value=response(200, OK_BODIES["send_bulk_sms"]))
    numbers = ("+1 123 456 7890", "+11234567890", "+381.61.123.1234")
    await api.call("send_bulk_sms", numbers, "Hello")
    assert json.loads(route.calls.last.request.content) == {
        "phone_numbers": ["+11234567890", "+381611231234"],
        "text": "Hello",
    }


async def test_get_balance_is_a_get_without_body(api: Harness, mock_api: respx.MockRouter) -> None:
    route = mock_api.get("/balance").mock(return_value=response(200, OK_BODIES["get_balance"]))
    await api.call("get_balance")
    request = route.calls.last.request
    assert request.content == b""
    assert "Content-Type" not in request.headers


async def test_default_headers_are_sent_but_cannot_replace_the_key(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    route = mock_api.get("/balance").mock(return_value=response(200, OK_BODIES["get_balance"]))
    client = api.make(default_headers={"X-Team": "growth", "Authorization": "Bearer other"})
    await api.call("get_balance", client=client)
    headers = route.calls.last.request.headers
    assert headers["X-Team"] == "growth"
    assert headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("millis", [10**20, -(10**20), 2**63, 10**400])
async def test_an_absurd_time_from_the_server_reads_as_none(
    api: Harness, mock_api: respx.MockRouter, millis: int
) -> None:
    sms = ok_sms()
    sms["data"]["timestamp"] = millis
    code = dict(OK_BODIES["send_verification_sms"])
    code["data"] = {**code["data"], "expires": millis}
    verdict = {**OK_BODIES["verify_code"], "expires": millis}
    mock_api.post("/send-sms").mock(return_value=response(200, sms))
    mock_api.post("/send-code").mock(return_value=response(200, code))
    mock_api.post("/verify-code").mock(return_value=response(200, verdict))
    sent = await api.call("send_sms", "+11234567890", "hi")
    assert (sent.data.timestamp, sent.data.sent_at) == (millis, None)
    coded = await api.call("send_verification_sms", "+11234567890", "Guest", 600)
    assert (coded.data.expires, coded.data.expires_at) == (millis, None)
    verified = await api.call("verify_code", "+11234567890", "4045")
    assert (verified.expires, verified.expires_at) == (millis, None)


async def test_str_of_a_result_shows_number_and_text_but_an_error_message_masks_them(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    # The documented split (docs/configuration.md, "What is never logged"): a result is the
    # caller's own data, shown whole as in 0.1.0 but for codes; exceptions travel to logs.
    mock_api.post("/send-sms").mock(return_value=response(200, ok_sms()))
    result = await api.call("send_sms", "+11234567890", "Hi Ann")
    assert "+11234567890" in str(result)
    assert '"content":"Dummy message text..."' in str(result)
    refusal = {"ok": False, "status": 400, "message": "Cannot send to +11234567890"}
    mock_api.post("/send-sms").mock(return_value=response(400, refusal))
    with pytest.raises(textflow.BadRequestError) as info:
        await api.call("send_sms", "+11234567890", "Hi Ann")
    assert str(info.value) == "TextFlow API error 400: Cannot send to +1123*****90"
    assert "+11234567890" not in repr(info.value)


@pytest.mark.parametrize("wire", [0.1, "0.1", "0.10"])
async def test_prices_are_exact_decimals(
    api: Harness, mock_api: respx.MockRouter, wire: object
) -> None:
    """A price is money: three 0.1 prices add up to 0.3, not 0.30000000000000004."""
    body = ok_sms()
    body["data"]["price"] = wire
    mock_api.post("/send-sms").mock(return_value=response(200, body))
    total = Decimal(0)
    for _ in range(3):
        total += (await api.call("send_sms", "+11234567890", "hi")).data.price
    assert total == Decimal("0.3")


async def test_price_is_a_json_number_in_str_and_json(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    """Users parse ``str(result)`` (0.1.0's compact JSON): the price stays a number there."""
    mock_api.post("/send-sms").mock(return_value=response(200, ok_sms()))
    result = await api.call("send_sms", "+11234567890", "hi")
    for text in (str(result), result.model_dump_json()):
        assert json.loads(text)["data"]["price"] == 0.15
        assert '"price":0.15' in text
    assert json.loads(str(result)) == ok_sms()
    assert result.model_dump()["data"]["price"] == Decimal("0.15")  # Python mode: the Decimal


@pytest.mark.parametrize("wire", ["1e400", "1" * 400])
async def test_a_price_no_float_holds_stays_exact_and_str_stays_json(
    api: Harness, mock_api: respx.MockRouter, wire: str
) -> None:
    """A hostile server's absurd price: exact in Python, a string in JSON (never Infinity)."""
    body = ok_sms()
    body["data"]["price"] = wire
    mock_api.post("/send-sms").mock(return_value=response(200, body))
    result = await api.call("send_sms", "+11234567890", "hi")
    assert result.data.price == Decimal(wire)
    for text in (str(result), result.model_dump_json()):
        assert "Infinity" not in text
        assert Decimal(json.loads(text)["data"]["price"]) == Decimal(wire)


async def test_a_price_that_is_not_a_number_is_a_malformed_answer(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    body = ok_sms()
    body["data"]["price"] = "free"
    mock_api.post("/send-sms").mock(return_value=response(200, body))
    with pytest.raises(textflow.MalformedResponseError):
        await api.call("send_sms", "+11234567890", "hi")


@pytest.mark.parametrize("path", ["", "/", "/textflow"])
async def test_a_404_from_a_base_url_without_api_says_where_the_api_is(
    api: Harness, path: str
) -> None:
    """``https://textflow.me`` instead of ``https://textflow.me/api``: the error says so."""
    fake = FakeTextFlow(api_key=KEY)
    with fake.serve() as served:
        root = served.removesuffix("/api")
        client = api.make(base_url=root + path)
        with pytest.raises(textflow.NotFoundError) as info:
            await api.call("get_balance", client=client)
    wanted = (root + path).rstrip("/") + "/api"
    assert f"(did you mean base_url={wanted!r}? TextFlow's API is under /api)" in str(info.value)
    assert info.value.may_have_been_sent is False
    assert info.value.request is not None
    assert "//" not in info.value.request.url.path  # joined with one slash


async def test_a_404_under_api_gets_no_hint(api: Harness, mock_api: respx.MockRouter) -> None:
    body = {"ok": False, "status": 404, "message": "Not found"}
    mock_api.post("/send-sms").mock(return_value=response(404, body))
    with pytest.raises(textflow.NotFoundError) as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert "did you mean" not in str(info.value)
    assert info.value.message == "Not found"


@pytest.mark.parametrize(
    ("price", "expected"),
    [(0.45, Decimal("0.45")), (3, Decimal("3")), ("0.45", "0.45"), (True, True), (None, None)],
)
async def test_a_bulk_jobs_numeric_price_is_money_too(
    api: Harness, mock_api: respx.MockRouter, price: object, expected: object
) -> None:
    """Bulk data's shape is not documented: a numeric ``price`` becomes a Decimal (and JSON
    gets the number back); anything else is kept as the server sent it."""
    body = {"ok": True, "status": 200, "message": "Bulk job started"}
    body["data"] = {"recipients": 3, "price": price}
    mock_api.post("/bulk-sms").mock(return_value=response(200, body))
    result = await api.call("send_bulk_sms", ["+11234567890"], "hi")
    assert result.data is not None
    assert result.data["price"] == expected
    assert type(result.data["price"]) is type(expected)
    assert json.loads(str(result))["data"] == body["data"]
