"""Odd and hostile inputs and answers: still a model or a TextFlowError, and no secret leaks."""

from __future__ import annotations

import re
from typing import Any, Union

import httpx
import pytest
import respx

import textflow
from textflow.webhooks import WebhookError, parse_webhook

from tests.core.core_support import (
    KEY,
    OK_BODIES,
    Harness,
    ScriptedServer,
    asyncio_until_early_stop_closes,
    ok_sms,
    response,
)

pytestmark = pytest.mark.anyio

DEEP = b"[" * 100_000 + b"]" * 100_000
SURROGATE = "caf\udce9"  # what os.fsdecode makes of the latin-1 byte 0xe9


@pytest.mark.parametrize(
    "key", ["tf_key\nX-Injected: 1", "tf key", "tf_k\x00ey", "tf_\ud800", "tf_é"]
)
async def test_a_key_that_cannot_be_a_header_is_refused_without_echo(
    api: Harness, key: Any
) -> None:
    with pytest.raises(textflow.ConfigurationError) as info:
        api.make(api_key=key)
    assert key.strip() not in str(info.value)
    assert "characters" in str(info.value)


def test_legacy_bad_key_is_a_400_result_without_the_key(mock_api: respx.MockRouter) -> None:
    route = mock_api.route()
    textflow.useKey("tf_secret\nvalue")
    result = textflow.sendSMS("+11234567890", "hi")
    assert (result.ok, result.status) == (False, 400)
    assert "tf_secret" not in result.message
    assert route.call_count == 0


@pytest.mark.not_on_aiohttp("it passes its own http_client")
async def test_a_header_h11_refuses_is_reported_as_not_sent_and_not_retried(
    api: Harness, server: ScriptedServer
) -> None:
    # default_headers are checked at construction; a caller's own http client is not.
    http = (httpx.AsyncClient if api.is_async else httpx.Client)(headers={"X-Note": "a\nb"})
    client = api.make(base_url=server.base_url, http_client=http)
    with pytest.raises(textflow.APIConnectionError, match="was not sent") as info:
        await api.call("send_sms", "+11234567890", "hi", client=client)
    assert KEY not in str(info.value)
    assert info.value.may_have_been_sent is False
    assert server.requests == []
    if isinstance(http, httpx.AsyncClient):
        await http.aclose()
    else:
        http.close()


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"X-Count": 1}, "must be a str, not int"),
        ({"X-Note": b"bytes"}, "must be a str, not bytes"),
        ({"X-Note": "caf\u00e9 secret-value"}, "characters a header cannot carry"),
        ({"X-Note": "a\r\nX-Injected: 1"}, "characters a header cannot carry"),
        ({"X-Note": "a\x00b"}, "characters a header cannot carry"),
        ({"X-Note": "\ud800"}, "characters a header cannot carry"),
        ({"X Note": "v"}, "not an HTTP header name: 'X Note'"),
        ({"X-N\u00f6te": "v"}, "not an HTTP header name: 'X-N\\xf6te'"),
        ({"X-Note\n": "v"}, "not an HTTP header name"),
        ({"": "v"}, "not an HTTP header name"),
        ({1: "v"}, "not an HTTP header name: 1"),
        (42, "must be a mapping of header names to values, not int"),
        (["X-Note"], "must be a mapping of header names to values, not list"),
    ],
)
async def test_unusable_default_headers_are_refused_at_construction(
    api: Harness, headers: Any, says: str
) -> None:
    with pytest.raises(textflow.ConfigurationError, match=re.escape(says)) as info:
        api.make(default_headers=headers)
    assert "secret-value" not in str(info.value)


async def test_usable_default_headers_are_sent(api: Harness, mock_api: respx.MockRouter) -> None:
    route = mock_api.get("/balance").mock(return_value=response(200, OK_BODIES["get_balance"]))
    client = api.make(default_headers={"X-Trace": "abc 123\t~", "x-empty": ""})
    await api.call("get_balance", client=client)
    sent = route.calls.last.request.headers
    assert (sent["X-Trace"], sent["x-empty"]) == ("abc 123\t~", "")


@pytest.mark.parametrize(
    ("argument", "args"),
    [
        ("text", ("+11234567890", SURROGATE)),
    ],
)
async def test_text_that_cannot_be_utf8_is_bad_input(
    api: Harness, mock_api: respx.MockRouter, argument: str, args: tuple[Any, ...]
) -> None:
    route = mock_api.route()
    with pytest.raises(textflow.InputValidationError) as info:
        await api.call("send_sms", *args)
    assert info.value.argument == argument
    assert route.call_count == 0


async def test_service_name_and_code_that_cannot_be_utf8_are_bad_input(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    route = mock_api.route()
    with pytest.raises(textflow.InputValidationError, match="service_name"):
        await api.call("send_verification_sms", "+11234567890", SURROGATE, 60)
    with pytest.raises(textflow.InputValidationError, match="code"):
        await api.call("verify_code", "+11234567890", "12\udc00")
    assert route.call_count == 0


def test_legacy_surrogate_text_is_a_400_result(mock_api: respx.MockRouter) -> None:
    mock_api.route()
    textflow.useKey(KEY)
    assert textflow.sendSMS("+11234567890", SURROGATE).status == 400


@asyncio_until_early_stop_closes
async def test_a_body_that_cannot_be_decoded_is_malformed_and_not_resent(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    garbled = httpx.Response(
        200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")
    )
    route = mock_api.post("/send-sms").mock(return_value=garbled)
    with pytest.raises(textflow.MalformedResponseError, match="could not be decoded") as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert (info.value.status_code, info.value.response) == (None, None)
    assert route.call_count == 1


def test_legacy_undecodable_body_is_a_500_result(mock_api: respx.MockRouter) -> None:
    mock_api.post("/send-sms").mock(
        return_value=httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"x")
        )
    )
    textflow.useKey(KEY)
    result = textflow.sendSMS("+11234567890", "hi")
    assert (result.ok, result.status) == (False, 500)


async def test_absurdly_nested_json_is_malformed(api: Harness, mock_api: respx.MockRouter) -> None:
    mock_api.post("/send-sms").mock(return_value=httpx.Response(200, content=DEEP))
    with pytest.raises(textflow.MalformedResponseError):
        await api.call("send_sms", "+11234567890", "hi")


def test_absurdly_nested_webhook_body_is_a_webhook_error() -> None:
    with pytest.raises(WebhookError):
        parse_webhook(DEEP, secret="s3cret")


@pytest.mark.not_on_aiohttp("it passes its own http_client")
async def test_a_callers_http_client_auth_never_replaces_the_key(api: Harness) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return response(200, OK_BODIES["get_balance"])

    transport = httpx.MockTransport(handler)
    http: Union[httpx.Client, httpx.AsyncClient]
    if api.is_async:
        http = httpx.AsyncClient(transport=transport, auth=("proxyuser", "pw"))
    else:
        http = httpx.Client(transport=transport, auth=("proxyuser", "pw"))
    client = api.make(http_client=http)
    await api.call("get_balance", client=client)
    assert seen == [f"Bearer {KEY}"]


async def test_an_endless_retry_after_is_not_waited_for(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    busy = response(
        429, {"ok": False, "status": 429, "message": "x"}, headers={"Retry-After": "1e400"}
    )
    route = mock_api.post("/send-sms").mock(return_value=busy)
    with pytest.raises(textflow.RateLimitError) as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert route.call_count == 1
    assert info.value.retry_after == float("inf")


@pytest.mark.parametrize(
    ("http_status", "body", "cls", "status"),
    [
        (400, {"ok": False, "status": 99999, "message": "odd"}, textflow.BadRequestError, 400),
        (400, {"ok": False, "status": "500", "message": "odd"}, textflow.BadRequestError, 400),
        (400, {"ok": False, "status": True, "message": "odd"}, textflow.BadRequestError, 400),
        (
            429,
            {"ok": False, "status": 429, "message": "API key over its quota"},
            textflow.RateLimitError,
            429,
        ),
        (
            503,
            {"ok": False, "status": 503, "message": "API key service down"},
            textflow.InternalServerError,
            503,
        ),
    ],
)
async def test_the_body_status_is_trusted_only_when_it_is_an_error_status(
    api: Harness,
    mock_api: respx.MockRouter,
    http_status: int,
    body: Any,
    cls: type[textflow.APIStatusError],
    status: int,
) -> None:
    mock_api.post("/send-sms").mock(return_value=response(http_status, body))
    client = api.make(max_retries=0)
    with pytest.raises(cls) as info:
        await api.call("send_sms", "+11234567890", "hi", client=client)
    assert type(info.value) is cls
    assert info.value.status == status


async def test_ok_send_answer_is_still_parsed_after_all_this(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    mock_api.post("/send-sms").mock(return_value=response(200, ok_sms()))
    assert (await api.call("send_sms", "+11234567890", "hi")).ok


def test_a_key_echoed_in_an_extra_field_stays_out_of_the_legacy_result(
    mock_api: respx.MockRouter,
) -> None:
    body = {"ok": False, "status": 400, "message": "Bad number", "debug": f"auth={KEY}"}
    mock_api.post("/send-sms").mock(return_value=response(400, body))
    textflow.useKey(KEY)
    result = textflow.sendSMS("+11234567890", "hi")
    assert (result.ok, result.status, result.message) == (False, 400, "Bad number")
    assert KEY not in str(result)
    assert KEY not in repr(result)
    assert result.model_extra == {"debug": "auth=******"}


@pytest.mark.parametrize("headers", [[("X-A", "1")], "X-A: 1", 5])
def test_check_headers_wants_a_mapping(headers: Any) -> None:
    from textflow._config import check_headers

    with pytest.raises(textflow.ConfigurationError, match="must be a mapping"):
        check_headers(headers)


async def test_a_short_key_is_not_scrubbed_out_of_every_word(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    # A 1-3 character "key" would mask unrelated letters; such keys are not masked at all.
    body = {"ok": False, "status": 400, "message": "bad number"}
    mock_api.post("/send-sms").mock(return_value=response(400, body))
    client = api.make(api_key="b")
    with pytest.raises(textflow.BadRequestError, match="bad number"):
        await api.call("send_sms", "+11234567890", "hi", client=client)
