"""The sync network stream sends a small request in one write, and only once it is due."""

from __future__ import annotations

import time
from typing import Optional

import httpcore
import pytest

from textflow._http import streams
from textflow._http.deadline import DEADLINE, DEADLINE_PASSED
from textflow._http.sent import POINT, Point

ANSWER = b"HTTP/1.1 204 No Content\r\n\r\n"
HEAD = b"POST /send-sms HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"


class _Inner(httpcore.NetworkStream):
    def __init__(self, fail_write: Optional[Exception] = None) -> None:
        self.written: list[bytes] = []
        self.fail_write = fail_write
        self.closed = False

    def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        return ANSWER

    def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        if self.fail_write is not None:
            raise self.fail_write
        self.written.append(buffer)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, info: str) -> object:
        return False if info == "is_readable" else None


def test_head_and_body_go_out_in_one_write_when_the_answer_is_read() -> None:
    inner = _Inner()
    stream = streams.SyncStream(inner, {})
    POINT.set(Point.BEFORE_CONNECTING)
    stream.write(HEAD)
    stream.write(b"{}")
    stream.write(b"")
    assert inner.written == []
    assert (
        POINT.get() is Point.BEFORE_CONNECTING
    )  # nothing sent: a failure now cannot have reached the server
    assert stream.read(65536) == ANSWER
    assert inner.written == [HEAD + b"{}"]
    assert POINT.get() is Point.WAITING  # sent; a failure from here on may have reached it


def test_a_large_body_is_not_held() -> None:
    inner = _Inner()
    stream = streams.SyncStream(inner, {})
    body = b"x" * (64 * 1024)
    stream.write(HEAD)
    stream.write(body)
    stream.write(b"")
    assert inner.written == [HEAD, body]
    stream.read(65536)
    assert inner.written == [HEAD, body]


def test_a_deadline_passed_before_the_first_byte_says_never_sent() -> None:
    inner = _Inner()
    stream = streams.SyncStream(inner, {})
    POINT.set(Point.BEFORE_CONNECTING)
    token = DEADLINE.set(time.monotonic() + 3600)
    try:
        stream.write(HEAD)
        stream.write(b"{}")
        DEADLINE.set(time.monotonic() - 1)
        with pytest.raises(httpcore.ConnectTimeout, match=DEADLINE_PASSED):
            stream.read(65536)
    finally:
        DEADLINE.reset(token)
    assert inner.written == []
    assert POINT.get() is Point.BEFORE_CONNECTING


def test_a_write_error_on_the_held_request_still_reads_the_answer() -> None:
    # As httpcore does: a server may answer and close before reading the whole request.
    inner = _Inner(fail_write=httpcore.WriteError("broken pipe"))
    stream = streams.SyncStream(inner, {})
    stream.write(HEAD)
    stream.write(b"{}")
    assert stream.read(65536) == ANSWER


def test_a_closed_stream_never_sends_what_it_held() -> None:
    inner = _Inner()
    stream = streams.SyncStream(inner, {})
    stream.write(HEAD)
    stream.close()
    assert inner.closed
    assert inner.written == []
