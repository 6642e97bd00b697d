"""Network streams straight on asyncio's transports, for the async client.

httpcore's ``AnyIOBackend`` opens an anyio cancel scope around every read and
write and rebuilds anyio's attribute table on each readability check; under a
fan-out of 100 sends that was a sixth of the client's CPU. Here a read waits on
one future with a timer for its timeout, a write hands the bytes to the
transport, and an idle connection is "readable" (closed, or sent something
unasked) as the protocol saw it. Cancellation (the async client's deadline)
reaches the waiting future as usual. Errors are the SDK's (``textflow._http.net``),
named and raised as httpcore's backend raises its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import sys
from typing import Any, Optional

from textflow._http import net
from textflow._http.net import socket_readable

_READ_BUFFER = 256 * 1024  # bytes held before the socket stops being read


class _Protocol(asyncio.Protocol):
    """What the event loop delivers on one connection, kept for ``AsyncioStream``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: Optional[asyncio.Transport] = None
        self.buffer = bytearray()
        self.eof = False  # the peer ended its side, or the connection is gone
        self.error: Optional[BaseException] = None
        self.waiter: Optional[asyncio.Future[None]] = None
        self.paused = False  # writing paused: the peer is not reading
        self.drained: Optional[asyncio.Future[None]] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _READ_BUFFER and self.transport is not None:
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait(self, kind: str, timeout: Optional[float]) -> None:
        """Until data, the end, or (``kind`` "drained") room to write; TimeoutError after."""
        future = self.loop.create_future()
        if kind == "drained":
            self.drained = future
        else:
            self.waiter = future
        timer = None if timeout is None else self.loop.call_later(timeout, _expire, future)
        try:
            await future
        finally:
            if timer is not None:
                timer.cancel()
            if kind == "drained":
                self.drained = None
            else:
                self.waiter = None


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class AsyncioStream:
    def __init__(self, protocol: _Protocol, transport: asyncio.Transport) -> None:
        self._protocol = protocol
        self._transport = transport

    async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            try:
                await protocol.wait("data", timeout)
            except TimeoutError:
                raise net.ReadTimeout() from None
        if not protocol.buffer:
            if protocol.error is not None:
                raise net.ReadError(str(protocol.error))
            return b""
        data = bytes(protocol.buffer[:max_bytes])
        del protocol.buffer[:max_bytes]
        if len(protocol.buffer) <= _READ_BUFFER // 2 and not protocol.eof:
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if self._transport.is_closing() or protocol.error is not None:
            raise net.WriteError(str(protocol.error or "the connection is closed"))
        self._transport.write(buffer)
        if protocol.paused:
            try:
                await protocol.wait("drained", timeout)
            except TimeoutError:
                raise net.WriteTimeout() from None
            if protocol.error is not None:
                raise net.WriteError(str(protocol.error))

    async def aclose(self) -> None:
        transport = self._transport
        # close() waits to send what is buffered: a peer that does not read would keep the
        # socket, and the bytes, for the event loop's life. Nothing more is sent. Over TLS,
        # close() starts a close_notify exchange that needs later turns of the loop: one
        # that ends right after (asyncio.run ending with aclose) would leave the socket
        # open; the answers are framed by HTTP, so the socket goes at once.
        if (
            transport.is_closing()
            or transport.get_extra_info("ssl_object") is not None
            or transport.get_write_buffer_size()
        ):
            transport.abort()
        else:
            transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> AsyncioStream:
        protocol = self._protocol
        if sys.version_info < (3, 11) and self._transport.get_extra_info("sslcontext"):
            # TLS inside TLS (an https:// proxy to an https:// API): asyncio's start_tls
            # takes a TLS transport from Python 3.11 on; before, it raises TypeError.
            self._transport.close()
            raise net.ConnectError(
                "TLS inside TLS (an https:// proxy to an https:// API) needs Python 3.11 or "
                "newer under asyncio; use trio, an http:// proxy, or a newer Python"
            )
        try:
            transport = await asyncio.wait_for(
                protocol.loop.start_tls(
                    self._transport, protocol, ssl_context, server_hostname=server_hostname
                ),
                timeout,
            )
        except asyncio.TimeoutError:
            self._transport.close()
            raise net.ConnectTimeout() from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise net.ConnectError(str(exc)) from exc
        if transport is None:  # the peer closed the connection during the handshake
            self._transport.close()
            raise net.ConnectError("the TLS handshake did not finish")
        protocol.transport = transport
        return AsyncioStream(protocol, transport)

    def get_extra_info(self, info: str) -> Any:
        transport = self._transport
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        if info == "is_readable":
            protocol = self._protocol
            if protocol.buffer or protocol.eof or transport.is_closing():
                return True
            if transport.get_extra_info("ssl_object") is not None:
                # The socket carries TLS records that are no data (session tickets after the
                # handshake; an outer TLS layer through an https proxy): the protocol's view
                # above is the answer, as the loop delivers what arrives.
                return False
            return socket_readable(transport.get_extra_info("socket"))
        return None

    def abandon(self) -> None:
        """Drop the connection now, in this process, without awaiting (its loop ends or ended).

        An open loop (ending, or idle) finishes the closing in its next turns. A closed
        one cannot: the peer is told with a ``shutdown()``, and asyncio itself lets the
        transport go when it is collected.
        """
        if not self._protocol.loop.is_closed():
            try:
                self._transport.abort()
                return
            except RuntimeError:  # asyncio's debug mode: the loop belongs to another thread
                pass
        sock = self._transport.get_extra_info("socket")
        if sock is not None and sock.fileno() >= 0:
            with contextlib.suppress(OSError):  # already gone
                sock.shutdown(socket.SHUT_RDWR)


async def connect_tcp(
    host: str, port: int, timeout: Optional[float], local_address: Optional[str]
) -> AsyncioStream:
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await asyncio.wait_for(
            loop.create_connection(
                lambda: _Protocol(loop),
                host,
                port,
                local_addr=None if local_address is None else (local_address, 0),
            ),
            timeout,
        )
    except asyncio.TimeoutError:
        raise net.ConnectTimeout() from None
    except OSError as exc:
        raise net.ConnectError(str(exc)) from exc
    return AsyncioStream(protocol, transport)
