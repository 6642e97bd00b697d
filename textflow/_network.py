"""Network streams that keep a call's deadline and never reuse a connection left dirty.

httpcore gives every read its own timeout, so a server that trickles a byte a
second holds a call forever. The streams here cut every connect, read and write
at the deadline of the call in progress (``DEADLINE``, set by the sync client
for the duration of a call; the async client uses a cancel scope instead).

They also watch each request/response cycle on their connection:

* an answer followed by bytes beyond its own framing (a ``Content-Length``
  shorter than the body, say) marks the connection dirty, so that those bytes
  can never be read as the answer to the next request: httpcore drops a pooled
  connection that reports itself readable while idle;
* a reused connection that the server closed while it sat idle is given up
  before the request is written (``ConnectionNotAvailable``), so httpcore sends
  it on a new connection: a request that was never written is never reported as
  one that may have arrived.
"""

from __future__ import annotations

import re
import socket
import ssl
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, Optional, Union

import httpcore

from textflow._deadline import DEADLINE_PASSED, WRITING, clamp

_HEAD_LIMIT = 64 * 1024  # bytes of each answer kept to find where it ends on the wire
_BLANK_LINE = re.compile(rb"\n\r?\n")
_HOLD = 16 * 1024  # bytes of a request's writes held to go out in one send
_CLOSED_UNWRITTEN = "the server closed the connection before the request was written"

SocketOptions = Optional[
    Iterable[
        Union[
            tuple[int, int, int],
            tuple[int, int, Union[bytes, bytearray]],
            tuple[int, int, None, int],
        ]
    ]
]


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


class _Cycles:
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


@contextmanager
def _deadline_named(cut: bool) -> Iterator[None]:
    """A timeout that the deadline cut short says so (not a bare "timed out")."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        if not cut:
            raise
        raise type(exc)(DEADLINE_PASSED) from None


class SyncStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream
        self.cycles = _Cycles()
        # httpcore writes a request's head and its body separately: a small request is
        # held here and goes out in one write (one TLS record, one send) when its answer
        # is first read. Nothing held counts as written (``WRITING``) until it is sent.
        self._held: list[bytes] = []
        self._held_size = 0
        self._held_starting = False  # the held bytes begin a request
        self._held_timeout: Optional[float] = None

    def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        if self._held:
            # As httpcore does: the server may have answered, then closed.
            with suppress(httpcore.WriteError):
                self._flush()
        timeout, cut = clamp(timeout, httpcore.ReadTimeout)
        with _deadline_named(cut):
            data = self._stream.read(max_bytes, timeout)
        self.cycles.reading(data)
        return data

    def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        starting = self.cycles.starting()
        if self.cycles.writing() and self._closed_while_idle():
            raise httpcore.ConnectionNotAvailable()
        if self._held_size + len(buffer) <= _HOLD:
            if not self._held:
                self._held_starting = starting
            self._held.append(buffer)
            self._held_size += len(buffer)
            self._held_timeout = timeout
            return
        self._flush()
        self._send(buffer, timeout, starting)

    def _flush(self) -> None:
        data = b"".join(self._held)
        self._held.clear()
        self._held_size = 0
        self._send(data, self._held_timeout, self._held_starting)

    def _send(self, data: bytes, timeout: Optional[float], starting: bool) -> None:
        if not data:
            return
        # Past the deadline before a first byte: the request was never written.
        timeout, cut = clamp(
            timeout, httpcore.ConnectTimeout if starting else httpcore.WriteTimeout
        )
        WRITING.set(True)
        with _deadline_named(cut):
            self._stream.write(data, timeout)

    def close(self) -> None:
        self._held.clear()  # a request httpcore gave up on is not sent half
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> httpcore.NetworkStream:
        timeout, cut = clamp(timeout, httpcore.ConnectTimeout)
        with _deadline_named(cut):
            return SyncStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self.cycles.dirty:
            return True  # httpcore drops an idle connection that is readable
        return self._stream.get_extra_info(info)

    def _closed_while_idle(self) -> bool:
        return self.cycles.dirty or bool(self._stream.get_extra_info("is_readable"))


class SyncBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: Optional[float] = None,
        local_address: Optional[str] = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.NetworkStream:
        timeout, cut = clamp(timeout, httpcore.ConnectTimeout)
        with _deadline_named(cut):
            stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return SyncStream(stream)

    def connect_unix_socket(  # pragma: no cover - the SDK never dials a unix socket
        self, path: str, timeout: Optional[float] = None, socket_options: SocketOptions = None
    ) -> httpcore.NetworkStream:
        timeout, _ = clamp(timeout, httpcore.ConnectTimeout)
        return SyncStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore's retries are off
        self._backend.sleep(seconds)


class AsyncStream(httpcore.AsyncNetworkStream):
    """The async twin; the deadline is the async client's cancel scope, not ``DEADLINE``."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self.cycles = _Cycles()
        # httpcore writes a request's head and its body separately: a small request is
        # held here and goes out in one send, when the answer is first read.
        self._held: list[bytes] = []
        self._held_size = 0
        self._held_timeout: Optional[float] = None
        self._unsent = False  # nothing of the current request has reached the inner stream

    async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        await self._flush()
        data = await self._stream.read(max_bytes, timeout)
        self.cycles.reading(data)
        return data

    async def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        if self.cycles.starting():
            self._unsent = True
        if self.cycles.writing() and self._closed_while_idle():
            raise httpcore.ConnectionNotAvailable()
        if self._held_size + len(buffer) <= _HOLD:
            self._held.append(buffer)
            self._held_size += len(buffer)
            self._held_timeout = timeout
            return
        await self._flush()
        await self._send(buffer, timeout)

    async def _flush(self) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            self._held_size = 0
            await self._send(data, self._held_timeout)

    async def _send(self, data: bytes, timeout: Optional[float]) -> None:
        """Hands bytes to the socket: from here on, the request may have been sent."""
        if self._unsent:
            self._unsent = False
            # Held, the request's first bytes go out only now. The server may have closed
            # a new connection meanwhile (a reused one was checked when its write began):
            # then nothing was written, and the request is safe to send again.
            if self.cycles.count == 1 and self._stream.get_extra_info("is_readable"):
                raise httpcore.ConnectError(_CLOSED_UNWRITTEN)
        WRITING.set(True)
        await self._stream.write(data, timeout)

    async def aclose(self) -> None:
        self._held.clear()  # a request httpcore gave up on is not sent half
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> httpcore.AsyncNetworkStream:
        await self._flush()
        try:
            inner = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:
            # httpcore's trio stream closes only on an Exception, and httpcore drops the
            # stream: a handshake cut by the deadline (Cancelled) left its socket open.
            import anyio

            with anyio.CancelScope(shield=True):
                await self._stream.aclose()
            raise
        return AsyncStream(inner)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self.cycles.dirty:
            return True
        return self._stream.get_extra_info(info)

    def _closed_while_idle(self) -> bool:
        return self.cycles.dirty or bool(self._stream.get_extra_info("is_readable"))


class AsyncBackend(httpcore.AsyncNetworkBackend):
    """Streams on asyncio's own transports (``textflow._asyncio_stream``), else anyio's
    backend (trio, or socket options), watched."""

    def __init__(self) -> None:
        self._backend: httpcore.AsyncNetworkBackend = httpcore.AnyIOBackend()
        self._trio: Optional[httpcore.AsyncNetworkBackend] = None
        self._streams: weakref.WeakSet[AsyncStream] = weakref.WeakSet()

    def _anyio_or_trio(self) -> httpcore.AsyncNetworkBackend:
        """httpcore's trio backend under trio (trio's own cancel scopes, not anyio's over them)."""
        if _on_asyncio():
            return self._backend
        if self._trio is None:
            self._trio = httpcore.TrioBackend()
        return self._trio

    def close_sockets(self) -> None:
        """Close the sockets of every connection, their event loop being gone.

        Only the file descriptors: the streams' objects stay (the caller keeps them), so
        that their own cleanup never runs against a loop that is closed.
        """
        for stream in list(self._streams):
            sock = stream.get_extra_info("socket")
            # asyncio hands out a TransportSocket wrapper, which has no close() of its own.
            sock = getattr(sock, "_sock", sock)
            if isinstance(sock, socket.socket):
                sock.close()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: Optional[float] = None,
        local_address: Optional[str] = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.AsyncNetworkStream:
        if socket_options is None and _on_asyncio():
            from textflow import _asyncio_stream

            inner: httpcore.AsyncNetworkStream = await _asyncio_stream.connect_tcp(
                host, port, timeout, local_address
            )
        else:
            inner = await self._anyio_or_trio().connect_tcp(
                host, port, timeout, local_address, socket_options
            )
        stream = AsyncStream(inner)
        self._streams.add(stream)
        return stream

    async def connect_unix_socket(  # pragma: no cover - the SDK never dials a unix socket
        self, path: str, timeout: Optional[float] = None, socket_options: SocketOptions = None
    ) -> httpcore.AsyncNetworkStream:
        return AsyncStream(await self._backend.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore's retries are off
        await self._backend.sleep(seconds)


def _on_asyncio() -> bool:
    """Whether the running async library is asyncio (anyio's other one, trio, needs sniffio)."""
    try:
        import sniffio
    except ImportError:  # pragma: no cover - trio brings sniffio; anyio no longer does
        return True
    return bool(sniffio.current_async_library() == "asyncio")


def answered(stream: object, status: int, headers: Mapping[str, str]) -> None:
    """An answer on ``stream`` (a response's ``network_stream``) was read to its end."""
    if isinstance(stream, (SyncStream, AsyncStream)):
        stream.cycles.answered(status, headers)
