"""What each request/response cycle on an httpcore connection read, and whether it ended clean.

A connection whose last answer was followed by bytes beyond its own framing (a
``Content-Length`` shorter than the body, say) is *dirty*: those bytes must never
be read as the answer to the next request. ``Cycles`` keeps what the current cycle
read; the streams of ``textflow._http.streams`` report a dirty connection as
readable, and httpcore drops a pooled connection that is readable while idle.
"""

from __future__ import annotations

from typing import Any

from textflow._http.body import CLOSE_CONNECTION

# Bytes of each answer kept to find where it ends on the wire: ``h1.HEAD_LIMIT`` (the
# codec is imported with the transport, not with the client: its patterns take ~2 ms).
_HEAD_LIMIT = 64 * 1024


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

    def answered(self) -> None:
        """The answer was read to its end: dirty if more bytes came than it takes, or if
        the codec (``textflow._http.h1``, the one place that knows where an answer ends)
        is unsure where it ended."""
        if self._read > len(self._head):
            self.dirty = True
            return
        from textflow._http.h1 import answer_end

        if answer_end(bytes(self._head)) != self._read:
            self.dirty = True


Connection = tuple[Any, Any]


def take_connection(extensions: dict[str, Any]) -> Connection:
    """An answer's connection, taken out of its response's ``extensions`` (so that a
    response handed to the caller holds no connection): see `never_reuse`."""
    return extensions.pop("network_stream", None), extensions.pop(CLOSE_CONNECTION, None)


def never_reuse(connection: Connection) -> None:
    """The connection of an answer (`take_connection`) is never used again.

    On the SDK's own streams (an httpcore connection) it is marked dirty: httpcore closes
    it instead of sending on it. The SDK's own connection is spoiled (closed at its next
    use) and aiohttp's closed now (aiohttp drops a closed pooled connection), both
    through the answer's ``CLOSE_CONNECTION``.
    A caller's own transport has neither: nothing can be done there.
    """
    stream, close = connection
    cycles = getattr(stream, "cycles", None)
    if isinstance(cycles, Cycles):
        cycles.dirty = True
    if callable(close):
        close()
