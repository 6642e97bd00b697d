"""Under trio a call that only the SDK's own connection carries has no cancel scope: the
connection's own waits keep the call's deadline (``textflow._async_io.deadline_scope``,
``textflow._http.trio_stream``), as the sync client's do. A call with a hook keeps the
cancel scope. Both must end alike at every step, and a caller's cancellation must still
end such a call at every wait.

The stalls are made by what the server does (event facts): it reads the request a little
at a time, or sends the answer's head or body a byte at a time, so that each wait of the
client ends well within its phase timeout and only the call's deadline can end the call;
a caller cancels once every task is blocked (``trio.testing.wait_all_tasks_blocked``).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable

import pytest

import textflow
from textflow._http.deadline import DEADLINE_PASSED

from tests.core.core_support import KEY, Harness
from tests.core.hostile_support import full_accept_queue, read_request
from tests.core.test_core_hostile4_deadline_phases import BIG, DEADLINE, OneConnection

pytestmark = pytest.mark.anyio

NAP = 0.01  # the server's pause between two small steps: far below every phase timeout
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n"


#: Bytes the slow reader received, per connection (the last one's last).
RECEIVED: list[int] = []


def slow_reader(stop: threading.Event) -> Callable[[socket.socket], None]:
    """Reads the request 4 KiB at a time while the call runs (every write of the client
    waits a little), then all that came until the client closed: ``RECEIVED`` counts it."""

    def behaviour(conn: socket.socket) -> None:
        RECEIVED.append(0)
        while True:
            got = len(conn.recv(1 << 20 if stop.is_set() else 4096))
            if not got:
                return
            RECEIVED[-1] += got
            if not stop.is_set():
                time.sleep(NAP)

    return behaviour


def trickled(stop: threading.Event, head_first: bool) -> Callable[[socket.socket], None]:
    """Reads the request, then sends the answer a byte at a time (the head whole first,
    if ``head_first``): every read of the client waits a little."""

    def behaviour(conn: socket.socket) -> None:
        import h11

        read_request(conn, h11.Connection(h11.SERVER))
        rest = HEAD
        if head_first:
            conn.sendall(HEAD)
            rest = b"{" + b" " * 62 + b"}"
        for byte in rest:
            if stop.is_set():
                return
            conn.sendall(bytes([byte]))
            time.sleep(NAP)

    return behaviour


STALLS: dict[str, tuple[Callable[[threading.Event], Callable[[socket.socket], None]], int]] = {
    # name -> (the server's behaviour, the receive buffer of its listener)
    "writing": (slow_reader, 4096),
    "reading the head": (lambda stop: trickled(stop, head_first=False), 0),
    "reading the body": (lambda stop: trickled(stop, head_first=True), 0),
}


async def _cut(
    make: Callable[..., Any], call: Callable[[Any], Any], stall: str
) -> textflow.APITimeoutError:
    """The error of a call stalled at ``stall``; checks the connection was given up."""
    stop = threading.Event()
    behaviour, rcvbuf = STALLS[stall]
    server = OneConnection(behaviour(stop), rcvbuf=rcvbuf)
    try:
        client = make(base_url=server.base_url, timeout=DEADLINE, max_retries=0)
        try:
            with pytest.raises(textflow.APITimeoutError) as caught:
                await call(client)
        finally:
            stop.set()
            if isinstance(client, textflow.AsyncTextFlowClient):
                await client.aclose()
        assert await server.given_up(), "the connection cut mid-call was closed"
    finally:
        server.close()
    if stall == "writing":  # cut while writing: the request never went out whole
        assert RECEIVED[-1] < BIG, RECEIVED
    return caught.value


# aiohttp warns that a body this large, given as bytes, may hold its event loop
@pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")
@pytest.mark.parametrize("stall", list(STALLS))
async def test_a_call_stalled_a_little_at_a_time_ends_at_its_deadline(
    api: Harness, stall: str
) -> None:
    text = "x" * BIG if stall == "writing" else "hi"

    async def call(client: Any) -> Any:
        return await api.call("send_sms", "+11234567890", text, client=client)

    error = await _cut(api.make, call, stall)
    assert error.may_have_been_sent is True, str(error)
    if api.kind != "aiohttp":  # (aiohttp's client names its own timeouts)
        assert DEADLINE_PASSED in str(error), str(error)


@pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")
@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.parametrize(
    ("stall", "name"),
    [(stall, "send_sms") for stall in STALLS]
    # (a balance request is too small to stall its write)
    + [(stall, "get_balance") for stall in STALLS if stall != "writing"],
)
async def test_under_trio_a_call_with_or_without_a_cancel_scope_ends_alike(
    anyio_backend: str, stall: str, name: str
) -> None:
    errors = []
    for hooked in (False, True):  # a hook keeps the call's cancel scope

        def make(hooked: bool = hooked, **kwargs: Any) -> textflow.AsyncTextFlowClient:
            if hooked:
                kwargs["on_request"] = lambda event: None
            return textflow.AsyncTextFlowClient(api_key=KEY, **kwargs)

        async def call(client: Any) -> Any:
            if name == "get_balance":
                return await client.get_balance()
            text = "x" * BIG if stall == "writing" else "hi"
            return await client.send_sms("+11234567890", text)

        errors.append(await _cut(make, call, stall))
    without, with_scope = errors
    assert without.may_have_been_sent is with_scope.may_have_been_sent, (without, with_scope)
    assert without.may_have_been_sent is (name == "send_sms")
    assert DEADLINE_PASSED in str(without)
    assert DEADLINE_PASSED in str(with_scope)


def _silent(conn: socket.socket) -> None:
    pass  # over TLS: a handshake that never ends; over plain http: no answer


def _answers_nothing(conn: socket.socket) -> None:
    import h11

    read_request(conn, h11.Connection(h11.SERVER))


def _head_then_nothing(conn: socket.socket) -> None:
    _answers_nothing(conn)
    conn.sendall(HEAD + b"{")


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.parametrize("step", ["connecting", "TLS", "writing", "waiting", "reading the body"])
async def test_under_trio_a_caller_still_cancels_a_call_at_each_wait(
    anyio_backend: str, step: str
) -> None:
    import trio
    import trio.testing

    server: OneConnection | None = None
    scheme, text = "http", "hi"
    if step == "TLS":
        server, scheme = OneConnection(_silent), "https"
    elif step == "writing":
        server, text = OneConnection(_silent, rcvbuf=4096), "x" * BIG
    elif step == "waiting":
        server = OneConnection(_answers_nothing)
    elif step == "reading the body":
        server = OneConnection(_head_then_nothing)
    cancelled = []
    try:
        with full_accept_queue() as unanswered:
            url = unanswered if server is None else server.base_url.replace("http", scheme, 1)
            # a deadline far off, and no hook: the call has no cancel scope of its own
            client = textflow.AsyncTextFlowClient(KEY, base_url=url, max_retries=0)
            try:
                async with trio.open_nursery() as nursery:
                    scope = trio.CancelScope()

                    async def caller() -> None:
                        with scope:
                            await client.send_sms("+11234567890", text)
                        cancelled.append(scope.cancelled_caught)

                    nursery.start_soon(caller)
                    await trio.testing.wait_all_tasks_blocked(cushion=0.05)
                    scope.cancel()
            finally:
                await client.aclose()
        assert cancelled == [True], "the caller's cancellation ended the call"
        if server is not None:
            assert await server.given_up(), "the cancelled call's connection was closed"
    finally:
        if server is not None:
            server.close()
