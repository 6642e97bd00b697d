"""A plain TCP stream for the SDK's own connection under trio, on a socket of its own.

httpcore's trio stream wraps every read and write in an exception-mapping context
manager and a cancel scope for its timeout, over trio's ``SocketStream`` (a conflict
detector and an error-translating context manager of its own): with the SDK's
connection on asyncio's transports, that made trio 1.3x asyncio's CPU per send. Here a
read or write is first tried on the non-blocking socket; only one that would block
waits for the socket (``trio.lowlevel.wait_readable`` / ``wait_writable``), but the first
read after a write waits at once, since what answers it is a round trip away: a read under
the event loop's one deadline timer (``textflow._http.timers``), a write in a cancel
scope for its timeout. Each wait, the connect included, also ends at the deadline of the
call in progress (``deadline.DEADLINE``) if one is set: under trio a call that only the
SDK's own connection carries has no cancel scope of its own (``textflow._async_io``), and
its deadline is kept here as the sync client keeps it; a wait it cut raises a timeout
saying so. Otherwise the call's cancel scope cancels a wait as usual. Errors are the
SDK's (``textflow._http.net``), as httpcore's trio backend raises its own. TLS goes
over it (``start_tls``: ``textflow._http.trio_tls``).
"""

from __future__ import annotations

import math
import socket
import ssl
from typing import Any, Optional

import trio

from textflow._http import net, timers
from textflow._http.deadline import DEADLINE_PASSED, clamp
from textflow._http.net import socket_readable


class TrioStream:
    __slots__ = ("_socket", "_wrote")

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock
        self._wrote = False  # the last thing done was a write: its answer is a round trip off

    async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        sock = self._socket
        if self._wrote:  # no recv bound to fail first (a syscall and an exception: ~1 µs)
            self._wrote = False
            await self._readable(timeout)
        while True:
            try:
                return sock.recv(max_bytes)
            except BlockingIOError:
                pass
            except OSError as exc:
                raise net.ReadError(str(exc)) from exc
            await self._readable(timeout)

    async def _readable(self, timeout: Optional[float]) -> None:
        left, cut = clamp(timeout, net.ReadTimeout)
        if left is None:
            await _wait(trio.lowlevel.wait_readable, self._socket, None, net.ReadError)
        else:
            await _read_wait(self._socket, left, cut)

    async def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        sock = self._socket
        self._wrote = True
        try:
            sent = sock.send(buffer, net.SEND_FLAGS)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise net.WriteError(str(exc)) from exc
        if sent == len(buffer):  # the socket took it all: the usual case
            return
        view = memoryview(buffer)[sent:]
        while True:
            left, cut = clamp(timeout, net.WriteTimeout)
            if not await _wait(trio.lowlevel.wait_writable, sock, left, net.WriteError):
                raise net.WriteTimeout(DEADLINE_PASSED if cut else "")
            try:
                view = view[sock.send(view, net.SEND_FLAGS) :]
            except BlockingIOError:
                continue
            except OSError as exc:
                raise net.WriteError(str(exc)) from exc
            if not view:
                return

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        """The TLS handshake over this socket (``trio_tls``); the socket is closed if it
        fails."""
        from textflow._http import trio_tls

        return await trio_tls.start_tls(self, ssl_context, server_hostname, timeout)

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        sock = self._socket
        if sock.fileno() >= 0:
            trio.lowlevel.notify_closing(sock)  # a task waiting on it wakes with an error
            sock.close()

    def get_extra_info(self, info: str) -> Any:
        sock = self._socket
        if info == "socket":
            return sock
        if info == "is_readable":
            return socket_readable(sock)
        if info == "ssl_object":
            return None
        if info == "client_addr":
            return sock.getsockname()
        if info == "server_addr":
            return sock.getpeername()
        return None


async def _wait(
    wait: Any, sock: socket.socket, timeout: Optional[float], closed: type[Exception]
) -> bool:
    """Waits until ``sock`` is ready; ``False`` if ``timeout`` passed first; ``closed`` if
    the socket is closed meanwhile."""
    try:
        if timeout is None:
            await wait(sock)
            return True
        with trio.move_on_after(timeout):
            await wait(sock)
            return True
        return False
    except trio.ClosedResourceError as exc:  # closed while waiting
        raise closed(str(exc)) from exc


class _ReadWait:
    """A read waiting on its socket, ended by the loop's deadline timer
    (``timers.Expiring``): it closes the socket to the wait, which wakes with an error."""

    __slots__ = ("deadline", "expired", "sock")

    def __init__(self, deadline: float, sock: socket.socket) -> None:
        self.deadline = deadline
        self.sock = sock
        self.expired = False

    def expire(self) -> None:
        self.expired = True
        trio.lowlevel.notify_closing(self.sock)  # the connection is done for: closed next


async def _read_wait(sock: socket.socket, timeout: float, cut: bool) -> None:
    """Waits until ``sock`` is readable, at most ``timeout`` seconds (``cut``: the call's
    deadline ends it), with no cancel scope: the event loop's one deadline timer
    (``textflow._http.timers``) ends a wait too long. A scope per read
    (``move_on_after``) was a tenth of trio's CPU per send."""
    wait = _ReadWait(trio.current_time() + timeout, sock)
    keeper = timers.keeper()  # looked up once for its start and stop
    keeper.add(wait)
    try:
        await trio.lowlevel.wait_readable(sock)
    except trio.ClosedResourceError as exc:
        if wait.expired:
            raise net.ReadTimeout(DEADLINE_PASSED if cut else "") from None
        raise net.ReadError(str(exc)) from exc
    finally:
        keeper.remove(wait)


async def connect_tcp(host: str, port: int, timeout: Optional[float]) -> TrioStream:
    """A connection to ``host:port`` (trio's happy eyeballs), on a socket of its own."""
    timeout, cut = clamp(timeout, net.ConnectTimeout)
    try:
        with trio.fail_after(math.inf if timeout is None else timeout):
            stream = await trio.open_tcp_stream(host, port)
    except trio.TooSlowError:
        raise net.ConnectTimeout(DEADLINE_PASSED if cut else "") from None
    except OSError as exc:
        raise net.ConnectError(str(exc)) from exc
    sock = socket.socket(fileno=stream.socket.detach())  # TCP_NODELAY already set by trio
    sock.setblocking(False)
    return TrioStream(sock)
