"""The call's deadline cuts a call stalled in each phase the "was it sent?" table test
(test_core_sent.py) has no stall for: connecting, writing, and reading the head.

Each stall is made by what the server does (an event fact), never by a timing margin:

* connecting: a listener whose accept queue is full (filled by the test, never
  accepted), so the kernel answers no SYN;
* writing: a server that accepts and never reads, with a receive buffer kept small,
  and a text larger than every socket buffer between the two;
* reading the head: half a head, then nothing.

On every client; each must raise ``APITimeoutError`` with the table's
``may_have_been_sent``, and give its connection up (the server sees it closed).
"""

from __future__ import annotations

import socket
import threading
from typing import Callable

import anyio
import pytest

import textflow

from tests.core.core_support import Harness
from tests.core.hostile_support import LIMIT, full_accept_queue, read_request

pytestmark = pytest.mark.anyio

DEADLINE = 0.3
BIG = 16 * 1024 * 1024  # characters of text: more than loopback's buffers hold (4 MiB)


class OneConnection:
    """Accepts one connection and runs ``behaviour`` on it; once the test says the call is
    over (``given_up``), reads to the end: ``closed`` is set if the client closed it."""

    def __init__(self, behaviour: Callable[[socket.socket], None], rcvbuf: int = 0) -> None:
        self.listener = socket.socket()
        if rcvbuf:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(LIMIT)
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api"
        self.behaviour = behaviour
        self.closed = threading.Event()
        self.over = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(LIMIT)
            try:
                self.behaviour(conn)
                self.over.wait(LIMIT)  # hold: only the client's deadline ends the call
                while conn.recv(1 << 20):
                    pass
                self.closed.set()
            except OSError:  # (a reset is a close too)
                self.closed.set()

    async def given_up(self) -> bool:
        """After the call: whether the client gave the connection up (closed it). The
        event loop keeps running meanwhile (asyncio closes a transport on its next turn)."""
        self.over.set()
        with anyio.fail_after(LIMIT):  # (anyio 4.0's to_thread fails on today's trio)
            while self.thread.is_alive():
                await anyio.sleep(0.005)
        return self.closed.is_set()

    def close(self) -> None:
        self.over.set()
        self.listener.close()
        self.thread.join(5)


def half_a_head(conn: socket.socket) -> None:
    import h11

    read_request(conn, h11.Connection(h11.SERVER))
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: appl")


def never_read(conn: socket.socket) -> None:
    pass


async def test_a_connect_that_is_never_answered_is_cut_and_was_not_sent(api: Harness) -> None:
    with full_accept_queue() as url:
        client = api.make(base_url=url, timeout=DEADLINE, max_retries=0)
        with pytest.raises(textflow.APITimeoutError) as caught:
            await api.call("send_sms", "+11234567890", "hi", client=client)
    assert caught.value.may_have_been_sent is False, str(caught.value)


# aiohttp warns that a body this large, given as bytes, may hold its event loop
@pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")
async def test_a_write_the_server_never_reads_is_cut_and_may_have_been_sent(
    api: Harness,
) -> None:
    server = OneConnection(never_read, rcvbuf=4096)
    try:
        client = api.make(base_url=server.base_url, timeout=DEADLINE, max_retries=0)
        with pytest.raises(textflow.APITimeoutError) as caught:
            await api.call("send_sms", "+11234567890", "x" * BIG, client=client)
        assert caught.value.may_have_been_sent is True, str(caught.value)
        assert await server.given_up(), "the connection cut mid-request was closed"
    finally:
        server.close()


@pytest.mark.parametrize(
    ("name", "args", "sent"),
    [
        ("send_sms", ("+11234567890", "hi"), True),
        ("get_balance", (), False),
    ],
)
async def test_half_a_head_then_nothing_is_cut_by_the_deadline(
    api: Harness, name: str, args: tuple[str, ...], sent: bool
) -> None:
    server = OneConnection(half_a_head)
    try:
        client = api.make(base_url=server.base_url, timeout=DEADLINE, max_retries=0)
        with pytest.raises(textflow.APITimeoutError) as caught:
            await api.call(name, *args, client=client)
        assert caught.value.may_have_been_sent is sent, str(caught.value)
        assert await server.given_up(), "the connection cut mid-answer was closed"
    finally:
        server.close()
