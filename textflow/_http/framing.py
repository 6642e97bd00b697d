"""Where an HTTP/1.1 answer ends on the wire, and what each request/response cycle read.

A connection whose last answer was followed by bytes beyond its own framing (a
``Content-Length`` shorter than the body, say) is *dirty*: those bytes must never
be read as the answer to the next request. ``Cycles`` keeps what the current cycle
read; the streams of ``textflow._http.streams`` report a dirty connection as
readable, and httpcore drops a pooled connection that is readable while idle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Optional

from textflow._http.body import CLOSE_CONNECTION

_HEAD_LIMIT = 64 * 1024  # bytes of each answer kept to find where it ends on the wire
_BLANK_LINE = re.compile(rb"\n\r?\n")


def answer_length(head: bytes, status: int, headers: Mapping[str, str]) -> Optional[int]:
    """How many bytes the answer starting ``head`` takes on the wire; ``None`` if unsure.

    ``headers`` are the answer's, lower-cased names. Only the framing an
    HTTP/1.1 server uses for a reusable connection is understood: anything else
    (1xx, unusual spacing, a head longer than the bytes kept) is "unsure", and an
    unsure connection is not reused.
    """
    blank = _BLANK_LINE.search(head)
    if not head.startswith(b"HTTP/") or blank is None or status < 200:
        return None
    start = blank.end()
    if status in (204, 304):
        return start
    encoding = headers.get("transfer-encoding")
    if encoding is not None:
        return _chunked_end(head, start) if encoding.strip().lower() == "chunked" else None
    length = headers.get("content-length", "")
    return start + int(length) if length.isdigit() else None


def _chunked_end(data: bytes, pos: int) -> Optional[int]:
    """Where a chunked body that starts at ``pos`` ends (after its trailers), or ``None``."""
    while True:
        line_end = data.find(b"\n", pos)
        if line_end < 0:
            return None
        size_field = data[pos:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return None
        pos = line_end + 1
        if size == 0:
            break
        pos += size
        if data[pos : pos + 2] == b"\r\n":
            pos += 2
        elif data[pos : pos + 1] == b"\n":
            pos += 1
        else:
            return None
    while True:  # trailer lines, up to an empty one
        line_end = data.find(b"\n", pos)
        if line_end < 0:
            return None
        line = data[pos:line_end].rstrip(b"\r")
        pos = line_end + 1
        if not line:
            return pos


class Cycles:
    """What the current request/response cycle on one connection has read."""

    __slots__ = ("_head", "_read", "_reading", "count", "dirty")

    def __init__(self) -> None:
        self.count = 0  # cycles started on this connection
        self.dirty = False
        self._reading = False
        self._read = 0
        self._head = bytearray()

    def starting(self) -> bool:
        """Whether the next write is the first of a request (nothing of it written yet)."""
        return self.count == 0 or self._reading

    def writing(self) -> bool:
        """A write is starting; ``True`` when it starts a cycle on a reused connection."""
        if self.count and not self._reading:
            return False  # the same request's body, after its headers
        self.count += 1
        self._reading = False
        self._read = 0
        self._head.clear()
        return self.count > 1

    def answer_started(self) -> bool:
        """Whether some of the current cycle's answer has come."""
        return self._read > 0

    def reading(self, data: bytes) -> None:
        self._reading = True
        self._read += len(data)
        if len(self._head) < _HEAD_LIMIT:
            self._head += data[: _HEAD_LIMIT - len(self._head)]

    def answered(self, status: int, headers: Mapping[str, str]) -> None:
        """The answer was read to its end: dirty if more bytes came than it takes."""
        if self._read > len(self._head):
            self.dirty = True
            return
        length = answer_length(bytes(self._head), status, headers)
        if length is None or length != self._read:
            self.dirty = True


Connection = tuple[Any, Any]


def take_connection(extensions: dict[str, Any]) -> Connection:
    """An answer's connection, taken out of its response's ``extensions`` (so that a
    response handed to the caller holds no connection): see `never_reuse`."""
    return extensions.pop("network_stream", None), extensions.pop(CLOSE_CONNECTION, None)


def never_reuse(connection: Connection) -> None:
    """The connection of an answer (`take_connection`) is never used again.

    On the SDK's own streams it is marked dirty: httpcore closes it instead of sending
    on it. Over aiohttp it is closed now (aiohttp drops a closed pooled connection).
    A caller's own transport has neither: nothing can be done there.
    """
    stream, close = connection
    cycles = getattr(stream, "cycles", None)
    if isinstance(cycles, Cycles):
        cycles.dirty = True
    if callable(close):
        close()
