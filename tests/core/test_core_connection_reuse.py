"""A pooled connection is reused only when its last answer ended clean, and only if it is open."""

from __future__ import annotations

import json
import socket
import time
from typing import Any, Callable

import anyio
import httpcore
import pytest

from textflow._http import h1, streams

from tests.core.core_support import Harness
from tests.core.hostile_support import Answer, RawServer, always, http_answer, json_answer

pytestmark = pytest.mark.anyio

WRONG = {"ok": True, "valid": False, "status": 400, "message": "The code is invalid. "}
SMUGGLED = {"ok": True, "valid": True, "status": 200, "message": "The code is valid. "}


def short_then_honest(conn: socket.socket, number: int, body: bytes) -> bool:
    if number == 1:  # Content-Length counts only part of what follows: the rest is a lie
        honest = json.dumps(WRONG).encode()
        lie = json_answer(SMUGGLED)
        conn.sendall(http_answer(honest)[: -len(honest)] + honest + lie)
        return True
    conn.sendall(json_answer(WRONG))
    return True


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_bytes_past_an_answer_never_become_the_next_answer(
    api: Harness, hostile: Callable[[Answer], RawServer], framing: str
) -> None:
    if framing == "content-length":
        server = hostile(short_then_honest)
    else:
        server = hostile(chunked_then_lie)
    client = api.make(base_url=server.base_url)
    first = await api.call("verify_code", "+11234567890", "000000", client=client)
    second = await api.call("verify_code", "+11234567890", "000000", client=client)
    assert first.valid is False
    assert second.valid is False, "the smuggled answer was read as the second one's"
    assert server.connections == 2
    assert len(server.requests) == 2


def chunked_then_lie(conn: socket.socket, number: int, body: bytes) -> bool:
    honest = json.dumps(WRONG).encode()
    framed = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (
        len(honest),
        honest,
    )
    conn.sendall(framed + (json_answer(SMUGGLED) if number == 1 else b""))
    return True


async def test_clean_answers_keep_one_connection(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    server = hostile(always(json_answer(WRONG)))
    client = api.make(base_url=server.base_url)
    for _ in range(5):
        assert (await api.call("verify_code", "+11234567890", "1", client=client)).valid is False
    assert server.connections == 1


async def test_a_connection_the_server_closed_while_idle_is_not_used(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    def answer_then_close_when_idle(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(json_answer(WRONG))
        return False  # the server closes the connection after answering (no Connection: close)

    server = hostile(answer_then_close_when_idle)
    client = api.make(base_url=server.base_url)
    for _ in range(3):
        assert (await api.call("verify_code", "+11234567890", "1", client=client)).valid is False
        if api.kind == "aiohttp":  # aiohttp learns of the FIN only while its loop runs
            await anyio.sleep(0.05)
        else:
            time.sleep(0.05)  # let the server's FIN arrive, as an idle period would
    assert len(server.requests) == 3  # each sent once, none reported as maybe-sent


class _Inner(httpcore.NetworkStream):
    def __init__(self, readable: bool) -> None:
        self.readable = readable
        self.written: list[bytes] = []

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return b"HTTP/1.1 204 No Content\r\n\r\n"

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.written.append(buffer)

    def get_extra_info(self, info: str) -> object:
        return self.readable if info == "is_readable" else None


def test_a_reused_connection_found_closed_is_given_up_before_writing() -> None:
    inner = _Inner(readable=False)
    stream = streams.SyncStream(inner, {})
    stream.write(b"GET / HTTP/1.1\r\n\r\n")
    stream.write(b"")  # the same request's body: not a new cycle
    stream.read(65536)
    stream.cycles.answered()
    inner.readable = True  # the server closed it while it sat in the pool
    with pytest.raises(httpcore.ConnectionNotAvailable):
        stream.write(b"GET / HTTP/1.1\r\n\r\n")
    assert inner.written == [b"GET / HTTP/1.1\r\n\r\n"]  # the second was never written


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "all"),
        (b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}", "all"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}XX", 40),
        (b"HTTP/1.1 204 X\r\n\r\n", "all"),
        (b"HTTP/1.1 100 Continue\r\n\r\n", None),
        (b"garbage\r\nContent-Length: 0\r\n\r\n", None),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", None),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", None),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", None),
        (b"HTTP/1.1 200 OK\r\n\r\nto the end", None),  # framed by the connection's end
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;ext\r\n{}\r\n0\r\n"
            b"X-T: 1\r\n\r\n",
            "all",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\n{}\n0\n\n", None),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", None),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX", None),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n", None),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n", None),
    ],
)
def test_answer_end_understands_the_framing_or_says_it_is_unsure(
    head: bytes, expected: Any
) -> None:
    """Where an answer ends, as the codec reads it: the connections still on httpcore
    (proxied ones) ask it whether an answer ended where its bytes did."""
    if expected == "all":
        expected = len(head)
    assert h1.answer_end(head) == expected
