"""Review of the fan-out transport (issue 9): async shards on one httpcore connection each,
asyncio streams on the loop's own transports, trio on httpcore's trio backend, and small
requests held to go out in one write. Hostile servers, on asyncio and trio.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any, Callable

import anyio
import pytest

import textflow
from textflow import _network

from tests.core.core_support import KEY, ok_sms
from tests.core.hostile_support import Answer, RawServer, http_answer, json_answer

pytestmark = pytest.mark.anyio

BACKENDS = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
CROWD = 150  # sends in flight at once on one client, more than its 100 connections


def echo(conn: socket.socket, number: int, body: bytes) -> bool:
    """Each answer names the number it was sent to; every third closes, some as HTTP/1.0."""
    to = json.loads(body)["phone_number"]
    payload = json.dumps(ok_sms(to)).encode()
    if number % 3 == 0:
        conn.sendall(http_answer(payload, extra=b"Connection: close\r\n"))
        return False
    if number % 3 == 1:
        conn.sendall(
            b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + payload
        )  # no length: the body ends when the connection does
        return False
    conn.sendall(http_answer(payload))
    return True


@BACKENDS
async def test_a_crowd_of_sends_gets_each_its_own_answer(
    hostile: Callable[[Answer], RawServer], anyio_backend: str
) -> None:
    server = hostile(echo)
    numbers = [f"+1123456{i:04d}" for i in range(CROWD)]
    answers: dict[str, str] = {}
    async with textflow.AsyncTextFlowClient(
        KEY, base_url=server.base_url, max_retries=0, timeout=20.0
    ) as client:

        async def send(to: str) -> None:
            result = await client.send_sms(to, "hi")
            answers[to] = result.data.to

        with anyio.fail_after(25):
            for _ in range(2):  # the second round reuses what the first left open
                answers.clear()
                async with anyio.create_task_group() as group:
                    for to in numbers:
                        group.start_soon(send, to)
                assert answers == {to: to for to in numbers}
    assert len(server.requests) == 2 * CROWD  # none sent twice


def reset_first_connection(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(json_answer(ok_sms()))
    return True


class ResetFirst(RawServer):
    """Resets its first connection as soon as it accepts it, unread; answers the others."""

    def _serve(self, conn: socket.socket) -> None:
        if self.connections == 1:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        super()._serve(conn)


@pytest.fixture
def seen_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new connection is handed over only once the client can see the server's reset
    (an event, not a delay: the request is then held, and dropped, never written)."""
    original = _network.AsyncBackend.connect_tcp

    async def connect_tcp(self: _network.AsyncBackend, *args: Any, **kwargs: Any) -> Any:
        stream = await original(self, *args, **kwargs)
        with anyio.fail_after(5):
            while not stream.get_extra_info("is_readable"):
                await anyio.sleep(0.01)
        monkeypatch.setattr(_network.AsyncBackend, "connect_tcp", original)  # first only
        return stream

    monkeypatch.setattr(_network.AsyncBackend, "connect_tcp", connect_tcp)


@BACKENDS
@pytest.mark.usefixtures("seen_closed")
async def test_a_request_held_then_dropped_was_not_sent(anyio_backend: str) -> None:
    server = ResetFirst(reset_first_connection)
    try:
        async with textflow.AsyncTextFlowClient(
            KEY, base_url=server.base_url, max_retries=0, timeout=10.0
        ) as client:
            with pytest.raises(textflow.APIConnectionError) as caught:
                await client.send_sms("+11234567890", "hi")
            assert caught.value.may_have_been_sent is False
            assert server.requests == []
    finally:
        server.close()


@BACKENDS
@pytest.mark.usefixtures("seen_closed", "no_backoff")
async def test_a_request_held_then_dropped_is_sent_once_on_a_new_connection(
    anyio_backend: str,
) -> None:
    server = ResetFirst(reset_first_connection)
    try:
        async with textflow.AsyncTextFlowClient(
            KEY, base_url=server.base_url, max_retries=1, timeout=10.0
        ) as client:
            assert (await client.send_sms("+11234567890", "hi")).ok
            assert len(server.requests) == 1
    finally:
        server.close()
