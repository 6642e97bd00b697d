"""One APIError base for the wire, and its answer to "did it go out?" for every operation."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import pytest
import respx

import textflow
from textflow import errors, webhooks
from textflow._wire import KEY_MESSAGES, is_about_the_key

from tests.core.core_support import (
    CALLS,
    KEY,
    SENDS,
    Harness,
    asyncio_until_early_stop_closes,
    response,
)

pytestmark = pytest.mark.anyio

OPS = [*SENDS, "get_balance"]


def _route(mock_api: respx.MockRouter, name: str) -> respx.Route:
    path, _ = CALLS[name]
    method = mock_api.get if name == "get_balance" else mock_api.post
    return method(path)


async def _failure(
    api: Harness, mock_api: respx.MockRouter, name: str, **mock: Any
) -> textflow.APIError:
    _route(mock_api, name).mock(**mock)
    client = api.make(max_retries=0)
    with pytest.raises(textflow.APIError) as info:
        await api.call(name, *CALLS[name][1], client=client)
    return info.value


def test_every_wire_error_is_an_api_error_and_webhook_errors_live_in_errors() -> None:
    for cls in (
        textflow.APIConnectionError,
        textflow.APITimeoutError,
        textflow.MalformedResponseError,
        textflow.APIStatusError,
        textflow.RateLimitError,
        textflow.InternalServerError,
    ):
        assert issubclass(cls, textflow.APIError)
    assert not issubclass(textflow.InputValidationError, textflow.APIError)
    assert webhooks.WebhookError is errors.WebhookError is textflow.WebhookError
    assert webhooks.WebhookVerificationError is textflow.WebhookVerificationError
    assert {"APIError", "WebhookError", "WebhookVerificationError"} <= set(textflow.__all__)
    for name in errors.__all__:  # the tree in the docstring names every class
        assert name in errors.__doc__


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, textflow.BadRequestError),
        (404, textflow.NotFoundError),
        (429, textflow.RateLimitError),
    ],
)
async def test_a_refusal_was_not_sent(
    api: Harness, mock_api: respx.MockRouter, name: str, status: int, cls: type[textflow.APIError]
) -> None:
    body = {"ok": False, "status": status, "message": "no"}
    exc = await _failure(api, mock_api, name, return_value=response(status, body))
    assert type(exc) is cls
    assert exc.may_have_been_sent is False
    assert exc.status_code == status
    assert exc.request is not None
    assert exc.response is not None


@pytest.mark.parametrize("name", OPS)
async def test_a_5xx_may_have_been_sent_unless_the_call_only_reads(
    api: Harness, mock_api: respx.MockRouter, name: str
) -> None:
    body = {"ok": False, "status": 503, "message": "down"}
    exc = await _failure(api, mock_api, name, return_value=response(503, body))
    assert isinstance(exc, textflow.InternalServerError)
    assert exc.may_have_been_sent is (name != "get_balance")


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize(
    ("error", "cls", "written"),
    [
        (httpx.ConnectError("refused"), textflow.APIConnectionError, False),
        (httpx.ConnectTimeout("slow"), textflow.APITimeoutError, False),
        (httpx.ReadTimeout("slow"), textflow.APITimeoutError, True),
        (httpx.ReadError("reset"), textflow.APIConnectionError, True),
        (httpx.RemoteProtocolError("closed"), textflow.APIConnectionError, True),
    ],
)
async def test_a_connection_failure_may_have_been_sent_only_once_written(
    api: Harness,
    mock_api: respx.MockRouter,
    name: str,
    error: Exception,
    cls: type[textflow.APIError],
    written: bool,
) -> None:
    exc = await _failure(api, mock_api, name, side_effect=error)
    assert type(exc) is cls
    assert exc.may_have_been_sent is (written and name != "get_balance")
    assert exc.request is not None
    assert (exc.response, exc.status_code) == (None, None)


@asyncio_until_early_stop_closes
@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"<html>"),
        httpx.Response(200, json={"ok": True}),  # fields missing
        httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")
        ),
    ],
)
async def test_an_unreadable_answer_may_have_been_sent(
    api: Harness, mock_api: respx.MockRouter, name: str, answer: Any
) -> None:
    exc = await _failure(api, mock_api, name, return_value=answer)
    assert isinstance(exc, textflow.MalformedResponseError)
    assert exc.may_have_been_sent is (name != "get_balance")


async def test_a_gzip_answer_that_is_fine_is_not_an_error(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    body = gzip.compress(b'{"ok": true, "credits": "1"}')
    _route(mock_api, "get_balance").mock(
        return_value=httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=body)
    )
    assert (await api.call("get_balance")).ok


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (httpx.ReadError(""), "the connection broke while waiting for the answer"),
        (httpx.RemoteProtocolError(""), "the connection was closed before a whole answer came"),
        (httpx.ConnectError(""), "no connection could be made"),
        (httpx.ReadTimeout(""), "no answer came in time"),
    ],
)
async def test_a_failure_without_text_is_said_in_words(
    api: Harness, mock_api: respx.MockRouter, error: Exception, words: str
) -> None:
    exc = await _failure(api, mock_api, "send_sms", side_effect=error)
    name = type(error).__name__
    assert f"({name}: {words})" in str(exc)
    assert f"{name}: {name}" not in str(exc)


@pytest.mark.parametrize("message", KEY_MESSAGES)
async def test_the_key_messages_the_api_sends_are_authentication_errors(
    api: Harness, mock_api: respx.MockRouter, message: str
) -> None:
    body = {"ok": False, "status": 400, "message": message}
    exc = await _failure(api, mock_api, "send_sms", return_value=response(400, body))
    assert type(exc) is textflow.AuthenticationError
    assert exc.message == message


@pytest.mark.parametrize(
    ("message", "about_the_key"),
    [
        ("Invalid API key", True),
        ("Invalid API key or user id.", True),
        ("API key not found", True),
        (" API key not found ", True),
        ("Your api key was revoked", True),  # the fallback: any message naming the API key
        ("Phone number is invalid", False),
        ("Not enough credits", False),
        ("apikey", False),
    ],
)
def test_is_about_the_key(message: str, about_the_key: bool) -> None:
    assert is_about_the_key(message) is about_the_key


def test_old_constructor_keywords_still_work() -> None:
    request = httpx.Request("GET", "https://textflow.me/api/balance")
    answer = httpx.Response(503, request=request)
    conn = textflow.APIConnectionError("x", request=request)
    assert (conn.request, conn.response, conn.may_have_been_sent) == (request, None, False)
    malformed = textflow.MalformedResponseError("x", response=answer)
    assert (malformed.status_code, malformed.request) == (503, request)
    status = textflow.InternalServerError("down", response=answer, status=503)
    assert (status.status, status.status_code, status.message) == (503, 503, "down")
    assert str(status) == "TextFlow API error 503: down"
    limited = textflow.RateLimitError("slow", response=answer, status=429, retry_after=2.0)
    assert limited.retry_after == 2.0
    assert KEY not in repr(limited)


@pytest.mark.parametrize(
    ("name", "args"),
    [("send_sms", ("12345", "hi")), ("verify_code", ("+11234567890", 10**5000))],
)
async def test_an_input_error_was_not_sent_either(
    api: Harness, mock_api: respx.MockRouter, name: str, args: tuple[Any, ...]
) -> None:
    route = mock_api.route()
    with pytest.raises(textflow.TextFlowError) as info:
        await api.call(name, *args)
    assert info.value.may_have_been_sent is False  # one question for every failure
    assert route.call_count == 0


class _DownRedis:
    """A redis client whose server is gone: every command raises its ConnectionError."""

    def register_script(self, script: str) -> Any:
        def run(**_: Any) -> Any:
            raise ConnectionError("Error 111 connecting to localhost:6379. Connection refused.")

        return run

    def delete(self, *names: str) -> Any:
        raise ConnectionError("Error 111 connecting to localhost:6379. Connection refused.")


class _DownAsyncRedis(_DownRedis):
    def register_script(self, script: str) -> Any:
        async def run(**_: Any) -> Any:
            raise ConnectionError("Error 111 connecting to localhost:6379. Connection refused.")

        return run


def test_a_failing_guard_store_is_a_guard_store_error_with_the_cause(tmp_path: Any) -> None:
    from textflow.guard import RedisStore, SQLiteStore, VerificationGuard
    from textflow.testing import FakeTextFlow

    fake = FakeTextFlow()
    with fake.client() as client:
        guard = VerificationGuard(client, store=RedisStore(_DownRedis()))
        with pytest.raises(errors.GuardStoreError) as caught:
            guard.send_code("+11234567890", service_name="Acme")
        assert isinstance(caught.value.__cause__, ConnectionError)
        assert "+11234567890" not in str(caught.value)
        assert not fake.messages  # nothing sent when the guard could not count
        path = tmp_path / "guard.sqlite3"
        path.write_bytes(b"not a database" * 100)
        with pytest.raises(errors.GuardStoreError) as caught:
            VerificationGuard(client, store=SQLiteStore(path))
        assert type(caught.value.__cause__).__module__ == "sqlite3"


async def test_a_failing_async_redis_store_is_a_guard_store_error() -> None:
    from textflow.guard import AsyncRedisStore
    from textflow.guard._checks import Delete, Limit

    store = AsyncRedisStore(_DownAsyncRedis())
    with pytest.raises(errors.GuardStoreError) as caught:
        await store.decide(0.0, [Limit("k", 1, 10.0)])
    assert isinstance(caught.value.__cause__, ConnectionError)
    with pytest.raises(errors.GuardStoreError):
        await store.write(0.0, [Delete("k")])
