"""The aiohttp extra: ``textflow.DefaultAioHttpClient``. The client test matrix runs on it too
(the ``aiohttp`` kind of the ``api`` fixture); here is what only it does."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import subprocess
import sys
import threading
import warnings
from typing import Any, Callable

import anyio
import httpx
import pytest

import textflow
from textflow import _config
from textflow._http.sent import may_have_been_sent, point_of

from tests.core.core_support import ScriptedServer, ok_sms
from tests.core.hostile_support import LIMIT, RawServer

aiohttp = pytest.importorskip("aiohttp", reason="the aiohttp extra is not installed")
from textflow._http import aiohttp_client as _aiohttp  # noqa: E402

from tests.core.core_support import KEY  # noqa: E402

pytestmark = pytest.mark.anyio
# aiohttp runs on asyncio only (under trio the client refuses, tested below)
asyncio_only = pytest.mark.parametrize("anyio_backend", ["asyncio"])


def test_import_textflow_does_not_import_aiohttp() -> None:
    code = (
        "import sys, textflow\n"
        "assert 'aiohttp' not in sys.modules\n"
        "assert 'textflow._http.aiohttp_client' not in sys.modules\n"
        "assert textflow.DefaultAioHttpClient.__module__ == 'textflow._http.aiohttp_client'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_an_unknown_attribute_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        textflow.no_such_name  # noqa: B018


def test_without_the_extra_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx_aiohttp", None)  # import fails
    with pytest.raises(textflow.ConfigurationError, match=r"textflowsms\[aiohttp\]"):
        textflow.DefaultAioHttpClient()


@asyncio_only
async def test_it_has_the_sdks_limits_timeouts_and_shared_tls_settings() -> None:
    async with textflow.DefaultAioHttpClient() as http:
        assert http.timeout == _config.DEFAULT_TIMEOUT
        inner = http._transport._inner  # type: ignore[attr-defined]
        assert inner.limits == _config.DEFAULT_LIMITS
        assert inner.ssl_context is _config.ssl_context()


@asyncio_only
async def test_a_callers_settings_win() -> None:
    own_tls = httpx.create_ssl_context()
    limits = httpx.Limits(max_connections=7)
    async with textflow.DefaultAioHttpClient(verify=own_tls, limits=limits, timeout=3) as http:
        assert http.timeout == httpx.Timeout(3)
        inner = http._transport._inner  # type: ignore[attr-defined]
        assert (inner.ssl_context, inner.limits) == (own_tls, limits)
    assert _config.ssl_context() is not own_tls
    mock = httpx.MockTransport(lambda request: httpx.Response(204))
    async with textflow.DefaultAioHttpClient(transport=mock) as http:
        assert (await http.get("http://127.0.0.1:9/")).status_code == 204


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_under_trio_it_refuses_at_once_and_sends_nothing(
    server: ScriptedServer, anyio_backend: str
) -> None:
    http = textflow.DefaultAioHttpClient()
    client = textflow.AsyncTextFlowClient(KEY, base_url=server.base_url, http_client=http)
    with anyio.fail_after(10), pytest.raises(textflow.ConfigurationError, match="asyncio only"):
        await client.send_sms("+11234567890", "hi")
    assert server.connections == 0
    assert KEY not in repr(client)


@asyncio_only
async def test_a_refused_connection_is_not_sent_and_is_retried(no_backoff: None) -> None:
    with socket.socket() as probe:  # a port with nobody listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = textflow.DefaultAioHttpClient()
    async with (
        http,
        textflow.AsyncTextFlowClient(
            KEY, base_url=f"http://127.0.0.1:{port}/api", http_client=http, max_retries=1
        ) as client,
    ):
        with pytest.raises(textflow.APIConnectionError, match="was not sent") as info:
            await client.send_sms("+11234567890", "hi")
    assert "ConnectError" in str(info.value)


@asyncio_only
async def test_a_connection_dropped_after_the_request_is_not_resent(
    server: ScriptedServer, no_backoff: None
) -> None:
    server.script = [("drop",)]
    http = textflow.DefaultAioHttpClient()
    async with (
        http,
        textflow.AsyncTextFlowClient(KEY, base_url=server.base_url, http_client=http) as client,
    ):
        with pytest.raises(textflow.APIConnectionError, match="may have reached"):
            await client.send_sms("+11234567890", "hi")
    assert len(server.requests) == 1  # httpx-aiohttp 0.2 alone calls this a ConnectTimeout


def _bare(cls: type[BaseException]) -> BaseException:
    return cls.__new__(cls)  # aiohttp's exceptions need connection details to build


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
        (aiohttp.ClientConnectorError, httpx.ConnectError),
        (aiohttp.ClientConnectorCertificateError, httpx.ConnectError),
        (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
        (aiohttp.ClientPayloadError, httpx.ReadError),
        (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
        (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
        (aiohttp.ClientOSError, httpx.ReadError),
        (ConnectionResetError, httpx.ReadError),
        (asyncio.TimeoutError, httpx.ReadTimeout),
        (ValueError, httpx.LocalProtocolError),
    ],
)
def test_only_failures_before_writing_count_as_not_sent(
    raised: type[BaseException], expected: type[httpx.TransportError]
) -> None:
    exc = _bare(raised)
    assert _aiohttp._aiohttp_exception(exc) is expected
    with pytest.raises(expected) as info, _aiohttp._mapped():
        raise httpx.ConnectTimeout("x") from exc  # as httpx-aiohttp 0.2 re-raises it
    assert info.value.__cause__ is exc
    with pytest.raises(expected) as info, _aiohttp._mapped():
        raise exc  # as aiohttp raises it, reading the body
    assert info.value.__cause__ is exc
    before_writing = expected in (
        httpx.ConnectTimeout,
        httpx.ConnectError,
        httpx.UnsupportedProtocol,
        httpx.LocalProtocolError,
    )
    # with no point reported, the type alone decides
    assert may_have_been_sent(point_of(info.value), read_only=False) != before_writing


def test_other_exceptions_pass_through_unchanged() -> None:
    with pytest.raises(KeyError), _aiohttp._mapped():
        raise KeyError("x")
    plain = httpx.ReadError("no cause")
    with pytest.raises(httpx.ReadError) as info, _aiohttp._mapped():
        raise plain
    assert info.value is plain


def _sms(price: float) -> bytes:
    body = json.dumps(
        {**ok_sms("+11234567890"), "data": {**ok_sms("+11234567890")["data"], "price": price}}
    )
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body.encode())


@asyncio_only
async def test_bytes_the_loop_has_not_read_yet_keep_an_idle_connection_out_of_use(
    hostile: Callable[..., RawServer],
) -> None:
    # The unasked answer is in the socket, not yet in aiohttp's protocol: the loop has not
    # run since it came (the test blocks it), so only a look at the socket sees it.
    go, unasked = threading.Event(), threading.Event()

    def serve(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(_sms(1.25 if number == 1 else 2.5))
        if number == 1:
            assert go.wait(LIMIT)
            conn.sendall(_sms(6.75))
            unasked.set()
        return True

    server = hostile(serve)
    http = textflow.DefaultAioHttpClient()
    async with (
        http,
        textflow.AsyncTextFlowClient(KEY, base_url=server.base_url, http_client=http) as client,
    ):
        first = await client.send_sms("+11234567890", "hi")
        go.set()
        assert unasked.wait(LIMIT)  # blocks the loop: aiohttp cannot read what came
        second = await client.send_sms("+11234567890", "hi")
    assert (str(first.data.price), str(second.data.price)) == ("1.25", "2.5")
    assert len(server.requests) == 2
    assert server.connections == 2


@asyncio_only
async def test_an_answer_httpx_aiohttp_fails_to_take_closes_its_connection(
    hostile: Callable[..., RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the reason phrase's repair, httpx-aiohttp fails on an answer that aiohttp
    # read whole and whose connection it has pooled already: the next call must not
    # reuse a connection whose answer was not understood.
    async def unrepaired(session: Any, context: Any, params: Any) -> None:
        pass

    monkeypatch.setattr(_aiohttp, "_encodable_reason", unrepaired)

    def serve(conn: socket.socket, number: int, body: bytes) -> bool:
        answer = _sms(1.25 if number == 1 else 2.5)
        conn.sendall(answer.replace(b"200 OK", b"200 \xc4\xfe") if number == 1 else answer)
        return True

    server = hostile(serve)
    http = textflow.DefaultAioHttpClient()
    async with (
        http,
        textflow.AsyncTextFlowClient(
            KEY, base_url=server.base_url, http_client=http, max_retries=0
        ) as client,
    ):
        with pytest.raises(textflow.APIConnectionError) as info:
            await client.send_sms("+11234567890", "hi")
        assert info.value.may_have_been_sent
        second = await client.send_sms("+11234567890", "hi")
    assert str(second.data.price) == "2.5"
    assert len(server.requests) == 2
    assert server.connections == 2


@pytest.mark.parametrize("answered", [True, False], ids=["answered-early", "cut-by-deadline"])
def test_closing_the_client_ends_a_connection_still_writing_a_body(
    hostile: Callable[..., RawServer], answered: bool
) -> None:
    # The server reads the request's head, then no more until the client is closed: it
    # answers at once, or never (the call's deadline ends it). Megabytes of the body wait
    # in the transport's buffer; a graceful close would wait for them, the loop ends
    # first, the transport is left "closing", and garbage collection finds it open.
    closed = threading.Event()

    def serve(conn: socket.socket, number: int, body: bytes) -> bool:
        if answered:
            conn.sendall(_sms(1.25))
        return closed.wait(LIMIT)  # then the server reads the body

    server = hostile(serve, early=True)
    reported: list[str] = []  # what the loop was told of: an unretrieved "Connection lost"

    async def send_and_close() -> str:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, context: reported.append(context["message"]))
        http = textflow.DefaultAioHttpClient()
        async with (
            http,
            textflow.AsyncTextFlowClient(
                KEY, base_url=server.base_url, http_client=http, timeout=0.5, max_retries=0
            ) as client,
        ):
            try:
                result = await client.send_sms("+11234567890", "x" * (8 * 1024 * 1024))
            except textflow.APITimeoutError:
                return "cut"
        return str(result.data.price)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(send_and_close()) == ("1.25" if answered else "cut")
        closed.set()
        gc.collect()
    unclosed = [
        w
        for w in caught
        if issubclass(w.category, ResourceWarning) and "unclosed" in str(w.message)
    ]
    assert not unclosed, [str(w.message) for w in unclosed]
    assert not reported
