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

import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, Optional, Union

import httpcore

from textflow._http import net
from textflow._http.deadline import clamp
from textflow._http.framing import Cycles
from textflow._http.net import CLOSED_UNWRITTEN, Opened, close_socket_copy
from textflow._http.sent import Point, reached

_HOLD = 16 * 1024  # bytes of a request's writes held to go out in one send

SocketOptions = Optional[
    Iterable[
        Union[
            tuple[int, int, int],
            tuple[int, int, Union[bytes, bytearray]],
            tuple[int, int, None, int],
        ]
    ]
]


@contextmanager
def deadline_named(cut: bool) -> Iterator[None]:
    """A timeout of httpcore's that the deadline cut short says so (``net.deadline_named``)."""
    with net.deadline_named(cut, httpcore.TimeoutException):
        yield


#: The SDK's stream exceptions (``textflow._http.net``) as httpcore's, for its connections.
_CORE: dict[type[Exception], type[Exception]] = {
    net.ConnectTimeout: httpcore.ConnectTimeout,
    net.ReadTimeout: httpcore.ReadTimeout,
    net.WriteTimeout: httpcore.WriteTimeout,
    net.TimeoutException: httpcore.TimeoutException,
    net.ConnectError: httpcore.ConnectError,
    net.ReadError: httpcore.ReadError,
    net.WriteError: httpcore.WriteError,
    net.NetworkError: httpcore.NetworkError,
    net.ProxyError: httpcore.ProxyError,
}


@contextmanager
def core_errors() -> Iterator[None]:
    """The SDK's asyncio stream under httpcore's connection raises httpcore's exceptions:
    its connection suppresses a ``WriteError`` to read an answer sent before a close."""
    try:
        yield
    except net.NetError as exc:
        for cls in type(exc).__mro__:
            core = _CORE.get(cls)
            if core is not None:
                raise core(str(exc)) from exc
        raise  # pragma: no cover - every class of net is mapped


class _Watched:
    """What both streams share: the inner stream, their entry in ``opened``, the
    request/response cycles, and the request's bytes held to go out at once."""

    def __init__(self, stream: Any, opened: Opened) -> None:
        self._stream = stream
        self._opened = opened
        opened[self] = None
        self.cycles = Cycles()
        # httpcore writes a request's head and its body separately: a small request is
        # held here and goes out in one write (one TLS record, one send) when its answer
        # is first read. Nothing held counts as written (``Point.WRITING``) until it is sent.
        self._held: list[bytes] = []
        self._held_size = 0
        self._held_timeout: Optional[float] = None

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self.cycles.dirty:
            return True  # httpcore drops an idle connection that is readable
        return self._stream.get_extra_info(info)

    def _closed_while_idle(self) -> bool:
        return self.cycles.dirty or bool(self._stream.get_extra_info("is_readable"))


class SyncStream(_Watched, httpcore.NetworkStream):
    _stream: httpcore.NetworkStream
    _held_starting = False  # the held bytes begin a request

    def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        if self._held:
            # As httpcore does: the server may have answered, then closed.
            with suppress(httpcore.WriteError):
                self._flush()
        timeout, cut = clamp(timeout, httpcore.ReadTimeout)
        _reading(self.cycles)
        with deadline_named(cut):
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
        reached(Point.WRITING)
        with deadline_named(cut):
            self._stream.write(data, timeout)

    def close(self) -> None:
        self._held.clear()  # a request httpcore gave up on is not sent half
        self._opened.pop(self, None)
        self._stream.close()

    def abandon(self) -> None:
        """Let the connection go without a word to the server (a forked child's copy)."""
        self._opened.pop(self, None)
        close_socket_copy(self._stream)

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> httpcore.NetworkStream:
        timeout, cut = clamp(timeout, httpcore.ConnectTimeout)
        reached(Point.TLS)
        with deadline_named(cut):
            try:
                inner = self._stream.start_tls(ssl_context, server_hostname, timeout)
            finally:
                self._opened.pop(
                    self, None
                )  # closed on failure; else the TLS stream's  # the TLS stream holds the socket now
        return SyncStream(inner, self._opened)


class AsyncStream(_Watched, httpcore.AsyncNetworkStream):
    """The async twin; the deadline is the async client's cancel scope, not ``DEADLINE``."""

    _stream: httpcore.AsyncNetworkStream
    _unsent = False  # nothing of the current request has reached the inner stream

    async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        await self._flush()
        _reading(self.cycles)
        with core_errors():
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
            # (Not over TLS: its socket carries records that are no data, such as the
            # session tickets a server sends after the handshake.)
            if (
                self.cycles.count == 1
                and self._stream.get_extra_info("ssl_object") is None
                and self._stream.get_extra_info("is_readable")
            ):
                raise httpcore.ConnectError(CLOSED_UNWRITTEN)
        reached(Point.WRITING)
        with core_errors():
            await self._stream.write(data, timeout)

    async def aclose(self) -> None:
        self._held.clear()  # a request httpcore gave up on is not sent half
        self._opened.pop(self, None)
        await self._stream.aclose()

    def abandon(self, in_this_process: bool) -> None:
        """Let the connection go without awaiting anything: its event loop ends or ended.

        In a forked child only this process's copy of the socket is closed: the
        parent's event loop, copied here, is never touched.
        """
        self._opened.pop(self, None)
        abandon = getattr(self._stream, "abandon", None)  # the SDK's asyncio stream
        if abandon is not None:
            if in_this_process:
                abandon()
        else:
            close_socket_copy(self._stream)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> httpcore.AsyncNetworkStream:
        await self._flush()
        reached(Point.TLS)
        try:
            with core_errors():
                inner = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:
            # httpcore's trio stream closes only on an Exception, and httpcore drops the
            # stream: a handshake cut by the deadline (Cancelled) left its socket open.
            import anyio

            with anyio.CancelScope(shield=True):
                await self.aclose()
            raise
        self._opened.pop(self, None)  # the TLS stream's socket now
        return AsyncStream(inner, self._opened)


def _reading(cycles: Cycles) -> None:
    """Reports a read: the answer awaited, or some of it already come."""
    reached(Point.READING if cycles.answer_started() else Point.WAITING)


def answered(stream: object) -> None:
    """An answer on ``stream`` (a response's ``network_stream``) was read to its end."""
    if isinstance(stream, (SyncStream, AsyncStream)):
        stream.cycles.answered()
