"""Hostile answers and hostile proxies through a CONNECT tunnel, TLS inside: sync, asyncio, trio.

The corpus of tests/core/test_core_answer_framing.py, each case's server speaking TLS
(a certificate made at test time) behind ``ConnectProxy`` on 127.0.0.1: the corporate
setup, an ``https://`` API behind an HTTP proxy. Every case must end as it does on a
direct connection (its outcome, the next call's own answer, reuse or not). Then proxies
that misbehave around the tunnel itself: each call fails as "not sent", in time.

On httpcore's tunnelled connection (before ``textflow._http.tunnel``) this found: under
trio, an unasked answer in a TLS record of its own read as the next call's answer
(``second-answer-own-write``); a proxy slow to answer CONNECT made the deadline say "may
have been sent"; folded header lines read (h11) where a direct answer is refused; a
request body's generator left to garbage collection under trio."""

from __future__ import annotations

import socket
import ssl
import struct
import sys
import threading
from collections.abc import Iterator
from typing import Callable

import anyio
import httpx
import pytest

import textflow
from textflow import _config
from textflow._http import proxies

from tests.core.core_support import Harness
from tests.core.hostile_support import Answer, RawServer, trickle
from tests.core.proxy_support import (
    ConnectProxy,
    TLSRawServer,
    TLSScriptedServer,
)
from tests.core.test_core_answer_framing import CASES, Case, run_case, serving

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.not_on_aiohttp("a caller's http_client has its own proxy settings"),
]


@pytest.fixture
def proxy(
    tls: tuple[ssl.SSLContext, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ConnectProxy]:
    """A CONNECT proxy; the SDK's shared TLS settings trust the test authority."""
    monkeypatch.setattr(_config, "_ssl_context", tls[1])
    server = ConnectProxy()
    yield server
    server.close()


#: The corpus's cases about where an answer ends, what follows it, and time: the ones where
#: a tunnel's TLS layer (its records, its buffer, its close) could change the outcome. The
#: rest test the codec, the same on every connection of the SDK's (all of them pass here).
CHOSEN = {
    "cl-exact",
    "cl-bytes-after",
    "cl-short",
    "cl-long-close-early",
    "cl-conflicting",
    "chunked",
    "chunked-close-in-body",
    "chunked-missing-final-crlf",
    "te-and-cl",
    "http10",
    "connection-close-kept-open",
    "to-close",
    "to-close-never-closed",
    "endless-100s",
    "obs-fold",
    "head-of-1-mib",
    "trickled",
    "trickled-past-the-deadline",
    "answered-before-the-body",
    "refused-before-the-body",
    "close-before-answer",
    "close-in-head",
    "close-in-body",
    "second-answer-at-once",
    "second-answer-after-chunked",
    "second-answer-own-write",
    "second-answer-while-idle",
}
TUNNEL_CASES = [case for case in CASES if case.name in CHOSEN]


@pytest.mark.parametrize("case", TUNNEL_CASES, ids=[case.name for case in TUNNEL_CASES])
async def test_an_answer_through_a_tunnel_as_framed_on_the_wire(
    api: Harness,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    proxy: ConnectProxy,
    case: Case,
) -> None:
    first_done = threading.Event()
    server: RawServer = TLSRawServer(tls[0], serving(case, first_done), early=case.early)
    try:
        await run_case(api, case, server, first_done, proxy=proxy.url)
    finally:
        server.close()
    assert [method for method, _, _ in proxy.asked] == ["CONNECT"] * server.connections


# A hostile proxy: what it does once it has read the CONNECT request (the API's origin,
# port 9, is never dialled). Each call must fail as not sent, a TextFlowError, in time.
ORIGIN = "https://127.0.0.1:9/api"
TO = "+11234567890"
TURNS = 10  # loop turns between two calls (asyncio's TLS layer sees a peer's end in 2)


def _refused(status: bytes) -> Answer:
    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 4\r\n\r\nnope")
        return False

    return answer


def _established_then(then: Callable[[socket.socket], None]) -> Answer:
    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        then(conn)
        return False

    return answer


def _closed(conn: socket.socket, number: int, body: bytes) -> bool:
    return False  # no answer to CONNECT: the connection ends


def _reset(conn: socket.socket, number: int, body: bytes) -> bool:
    """As a killed proxy's kernel does: a reset, no answer."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


def _not_http(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    return False


def _garbage(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")


def _close_mid_handshake(conn: socket.socket) -> None:
    conn.recv(5)  # the start of the ClientHello's record


def _silent(conn: socket.socket) -> None:
    """Reads the ClientHello, answers nothing; over when the client goes (or at LIMIT)."""
    while conn.recv(65536):
        pass


@pytest.mark.parametrize(
    ("name", "behaviour", "error"),
    [
        ("407", _refused(b"407 Proxy Authentication Required"), textflow.APIConnectionError),
        ("403", _refused(b"403 Forbidden"), textflow.APIConnectionError),
        ("closed", _closed, textflow.APIConnectionError),
        ("reset", _reset, textflow.APIConnectionError),
        ("not-http", _not_http, textflow.APIConnectionError),
        ("200-plus-bytes", _established_then(_garbage), textflow.APIConnectionError),
        ("close-mid-tls", _established_then(_close_mid_handshake), textflow.APIConnectionError),
        ("silent-after-200", _established_then(_silent), textflow.APITimeoutError),
    ],
)
async def test_a_hostile_proxy_fails_the_call_as_not_sent(
    api: Harness,
    hostile: Callable[..., RawServer],
    trusted: ssl.SSLContext,
    name: str,
    behaviour: Answer,
    error: type[textflow.APIError],
) -> None:
    server = hostile(behaviour)
    client = api.make(
        base_url=ORIGIN, proxy=server.base_url[: -len("/api")], max_retries=0, timeout=0.5
    )
    with pytest.raises(error) as caught:
        await api.call("send_sms", TO, "Hello", client=client)
    assert caught.value.may_have_been_sent is False
    assert server.targets == [b"127.0.0.1:9"]


async def test_a_proxy_trickling_its_answer_to_connect_cannot_outlive_the_deadline(
    api: Harness, hostile: Callable[..., RawServer], trusted: ssl.SSLContext
) -> None:
    """A byte of the CONNECT answer every 50 ms (no single read times out), whose header
    never ends until the proxy gives up after 30 s: the call ends at its deadline, as not
    sent, not when the proxy closes (that would be a connection error)."""
    ref: list[RawServer] = []

    def trickling(conn: socket.socket, number: int, body: bytes) -> bool:
        trickle(conn, b"HTTP/1.1 200 Connection established\r\nX-Slow: ", ref[0])
        return False

    ref.append(hostile(trickling))
    proxy = ref[0].base_url[: -len("/api")]
    client = api.make(base_url=ORIGIN, proxy=proxy, max_retries=0, timeout=0.5)
    with pytest.raises(textflow.APITimeoutError) as caught:
        await api.call("send_sms", TO, "Hello", client=client)
    assert caught.value.may_have_been_sent is False


@pytest.fixture
def tls_server(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[TLSScriptedServer]:
    server = TLSScriptedServer(tls[0])
    yield server
    server.close()


async def test_the_proxys_credentials_go_to_the_proxy_only_and_never_into_an_error(
    api: Harness, proxy: ConnectProxy, tls_server: TLSScriptedServer
) -> None:
    route = httpx.Proxy(proxy.url, auth=("user", "s3cret-proxy-pass"))
    client = api.make(base_url=tls_server.base_url, proxy=route)
    for _ in range(2):
        assert (await api.call("send_sms", TO, "Hello", client=client)).ok
    target = f"127.0.0.1:{tls_server.port}"
    assert proxy.asked == [("CONNECT", target, True)], "one tunnel, reused"
    assert (b"Host", target.encode()) in proxy.heads[0]
    for head in tls_server.heads:  # inside the tunnel: the API never sees them
        assert all(name.lower() != b"proxy-authorization" for name, _ in head)


async def test_a_refused_tunnel_names_no_credential(
    api: Harness, hostile: Callable[..., RawServer], trusted: ssl.SSLContext
) -> None:
    server = hostile(_refused(b"407 Proxy Authentication Required"))
    route = httpx.Proxy(server.base_url[: -len("/api")], auth=("user", "s3cret-proxy-pass"))
    client = api.make(base_url=ORIGIN, proxy=route, max_retries=0)
    with pytest.raises(textflow.APIConnectionError) as caught:
        await api.call("send_sms", TO, "Hello", client=client)
    assert "407" in str(caught.value)
    for text in (str(caught.value), repr(caught.value), repr(caught.value.__cause__)):
        assert "s3cret" not in text
        assert "dXNlcjpzM2NyZXQ" not in text  # its base64, as Proxy-Authorization holds it


async def test_concurrent_calls_through_one_proxy_each_get_their_own_answer(
    api: Harness, proxy: ConnectProxy, tls_server: TLSScriptedServer
) -> None:
    client = api.make(base_url=tls_server.base_url, proxy=proxy.url)
    numbers = [f"+1123456{index:04d}" for index in range(20)]
    results: dict[str, str] = {}

    async def send(number: str) -> None:
        results[number] = (await api.call("send_sms", number, "Hello", client=client)).data.to

    if api.is_async:
        async with anyio.create_task_group() as group:
            for number in numbers:
                group.start_soon(send, number)
    else:
        for number in numbers:
            await send(number)
    assert results == {number: number for number in numbers}
    assert len(tls_server.requests) == 20
    assert len(proxy.asked) == tls_server.connections  # a tunnel per connection, no more


async def test_a_tunnel_the_proxy_dropped_while_idle_is_replaced_before_the_next_call(
    api: Harness, proxy: ConnectProxy, tls_server: TLSScriptedServer
) -> None:
    """A restarted proxy: the next call goes on a new tunnel and is sent once."""
    client = api.make(base_url=tls_server.base_url, proxy=proxy.url, max_retries=0)
    assert (await api.call("send_sms", TO, "Hello", client=client)).ok
    proxy.drop_connections()  # its FIN is in the client's socket when this returns (loopback)
    if api.is_async:  # as between two calls of a real program
        for _ in range(TURNS):
            await anyio.sleep(0)
    assert (await api.call("send_sms", TO, "Hello", client=client)).ok
    assert len(tls_server.requests) == 2
    assert [method for method, _, _ in proxy.asked] == ["CONNECT", "CONNECT"]


def test_every_chosen_case_is_in_the_corpus() -> None:
    assert len(TUNNEL_CASES) == len(CHOSEN)


HTTPS_PROXY_CASES = [case for case in CASES if case.name.startswith("second-answer")]


@pytest.mark.parametrize("case", HTTPS_PROXY_CASES, ids=[c.name for c in HTTPS_PROXY_CASES])
async def test_an_unasked_answer_through_an_https_proxys_tunnel_is_never_the_next_calls(
    api: Harness,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    trusted: ssl.SSLContext,
    case: Case,
    anyio_backend: str,
) -> None:
    """TLS to the proxy, TLS to the API inside (httpcore's tunnel connection). On sync
    (httpcore's ``ssl.SSLObject`` on memory buffers) and trio (``trio.SSLStream``) a record
    of an unasked answer behind the last answer's was unseen, and read as the next call's
    answer: there such a connection now serves one request (``pools._hides_records``)."""
    if proxies.httpcore_version() < (1, 0, 2):
        pytest.skip("an https proxy needs httpcore 1.0.2 (refused: test_core_proxy_routes)")
    if sys.version_info < (3, 11) and api.is_async and anyio_backend == "asyncio":
        pytest.skip("TLS inside TLS needs Python 3.11 on asyncio (refused: test_core_proxy_routes)")
    tls_proxy = ConnectProxy(tls=tls[0])
    first_done = threading.Event()
    server: RawServer = TLSRawServer(tls[0], serving(case, first_done), early=case.early)
    route = httpx.Proxy(tls_proxy.url, ssl_context=tls[1])
    try:
        await run_case(api, case, server, first_done, proxy=route)
    finally:
        server.close()
        tls_proxy.close()
