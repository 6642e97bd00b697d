""" "May it have been sent?": one table (textflow._http.sent), the same answer on every transport.

Each failure point is driven by a hostile server on 127.0.0.1, for a sending and a
read-only call, on the sync client, the async client (asyncio and trio) and the
async client over aiohttp; every one must give the table's answer. Each call has
``max_retries=0``: what is checked is the verdict on one attempt, not the retries.

The "writing" point has no case here: a request of the SDK's is held and written
in one send, so no server can fail it between its first byte and its last; the
streams' own tests cover a write that fails (test_core_sync_writes.py), and a
header refused before any write is covered by test_core_hostile.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any, Callable

import httpx
import pytest

import textflow
from textflow._http.sent import Point, may_have_been_sent, point_of

from tests.core.core_support import CALLS, Harness
from tests.core.hostile_support import LIMIT, LoopbackServer, read_request

pytestmark = pytest.mark.anyio

NAP = 0.05


class Hostile(LoopbackServer):
    """Serves every connection with one behaviour (``Behaviour``), bounded by LIMIT."""

    def __init__(self, behaviour: Callable[[Hostile, socket.socket], None]) -> None:
        self.behaviour = behaviour
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(LIMIT)
        try:
            self.behaviour(self, conn)
        except OSError:
            pass
        finally:
            conn.close()

    def idle(self) -> None:
        """Until the test ends (or LIMIT): the client's deadline must end the call."""
        started = time.monotonic()
        while not self.stopping() and time.monotonic() - started < LIMIT:
            time.sleep(NAP)


def silent(server: Hostile, conn: socket.socket) -> None:
    server.idle()  # over TLS: a handshake that never ends


def not_tls(server: Hostile, conn: socket.socket) -> None:
    conn.recv(65536)  # the ClientHello
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def _read(conn: socket.socket) -> None:
    import h11

    assert read_request(conn, h11.Connection(h11.SERVER)) is not None


def read_then_silent(server: Hostile, conn: socket.socket) -> None:
    _read(conn)
    server.idle()


def read_then_close(server: Hostile, conn: socket.socket) -> None:
    _read(conn)


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 90\r\n\r\n{"


def half_an_answer(server: Hostile, conn: socket.socket) -> None:
    _read(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 90\r\n\r\n{"
    )


def head_then_silent(server: Hostile, conn: socket.socket) -> None:
    _read(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 90\r\n\r\n{"
    )
    server.idle()


#: case -> (server behaviour or None for a port nobody listens on, over TLS, the point)
CASES: dict[str, tuple[Callable[[Hostile, socket.socket], None] | None, bool, Point]] = {
    "connect-refused": (None, False, Point.CONNECTING),
    "tls-handshake-stalls": (silent, True, Point.TLS),
    "tls-handshake-fails": (not_tls, True, Point.TLS),
    "no-answer-until-the-deadline": (read_then_silent, False, Point.WAITING),
    "closed-without-an-answer": (read_then_close, False, Point.WAITING),
    "answer-cut-off": (half_an_answer, False, Point.READING),
    "answer-stalls-until-the-deadline": (head_then_silent, False, Point.READING),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[Callable[[str], str]]:
    """``serve(case)`` starts the case's server and returns the base URL to call."""
    servers: list[Hostile] = []

    def start(case: str) -> str:
        behaviour, tls, _ = CASES[case]
        scheme = "https" if tls else "http"
        if behaviour is None:
            return f"{scheme}://127.0.0.1:{_free_port()}/api"
        servers.append(Hostile(behaviour))
        return f"{scheme}://127.0.0.1:{servers[-1].port}/api"

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("name", ["send_sms", "get_balance"])
@pytest.mark.parametrize("case", list(CASES))
async def test_every_transport_gives_the_tables_answer_at_each_failure_point(
    api: Harness, serve: Callable[[str], str], case: str, name: str
) -> None:
    url = serve(case)
    client = api.make(base_url=url, timeout=0.3, max_retries=0)
    with pytest.raises(textflow.APIConnectionError) as caught:
        await api.call(name, *CALLS[name][1], client=client)
    expected = may_have_been_sent(CASES[case][2], read_only=name == "get_balance")
    assert caught.value.may_have_been_sent is expected, str(caught.value)


TABLE = {
    Point.BEFORE_CONNECTING: False,
    Point.CONNECTING: False,
    Point.TLS: False,
    Point.WRITING: True,
    Point.WAITING: True,
    Point.READING: True,
}


@pytest.mark.parametrize("point", list(Point))
def test_the_table(point: Point) -> None:
    assert may_have_been_sent(point, read_only=False) is TABLE[point]
    assert may_have_been_sent(point, read_only=True) is False  # a read changes nothing


def test_a_report_moves_the_point_later_never_earlier() -> None:
    read = httpx.ReadTimeout("slow")
    # a transport whose report fell behind (a mock below the streams) errs towards "sent"
    assert point_of(read, Point.BEFORE_CONNECTING) is Point.WAITING
    assert point_of(read, Point.READING) is Point.READING
    # a connect error reported while writing is one: held bytes went out, then it broke
    assert point_of(httpx.ConnectError("refused"), Point.WRITING) is Point.WRITING
    # with no report (a caller's own transport) the type decides
    assert point_of(httpx.ConnectError("refused")) is Point.CONNECTING
    assert point_of(httpx.PoolTimeout("full")) is Point.BEFORE_CONNECTING
    assert point_of(httpx.WriteError("broken")) is Point.WRITING


def test_a_proxy_refusing_its_tunnel_failed_while_connecting() -> None:
    # the CONNECT request was written to the proxy; the request itself never was
    assert point_of(httpx.ProxyError("407"), Point.WAITING) is Point.CONNECTING


class RefusingProxy(LoopbackServer):
    """An HTTP proxy that refuses every CONNECT tunnel (403), counting them."""

    def __init__(self) -> None:
        self.tunnels = 0
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(LIMIT)
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            if head.startswith(b"CONNECT "):
                self.tunnels += 1
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()


async def _send_through(kind: str, options: dict[str, Any]) -> None:
    if kind == "sync":
        with textflow.TextFlowClient("tf_test_0123456789abcdef", **options) as client:
            client.send_sms("+11234567890", "hi")
        return
    async with textflow.AsyncTextFlowClient("tf_test_0123456789abcdef", **options) as aclient:
        await aclient.send_sms("+11234567890", "hi")


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_proxy_refusing_the_tunnel_is_not_sent_and_not_retried(
    kind: str, anyio_backend: str, no_backoff: list[float]
) -> None:
    # aiohttp takes no proxy= through the SDK (its own client holds the proxy settings)
    proxy = RefusingProxy()
    try:
        url = f"https://127.0.0.1:{_free_port()}/api"  # never reached: the tunnel is refused
        options = {"base_url": url, "proxy": f"http://127.0.0.1:{proxy.port}", "max_retries": 2}
        with pytest.raises(textflow.APIConnectionError) as caught:
            await _send_through(kind, options)
        assert caught.value.may_have_been_sent is False
        assert proxy.tunnels == 1  # a refusal would come again: not retried
    finally:
        proxy.close()
