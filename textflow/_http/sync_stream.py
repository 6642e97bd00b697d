"""The sync network stream of the SDK's own connection: a socket, cut at the call's deadline.

Every name lookup, connect, read, write and TLS handshake is cut at the deadline of the
sync call in progress (``deadline.DEADLINE``), as the async streams are cut by the async
client's cancel scope. It raises what httpcore's sync stream raised, for the same socket errors
(``textflow._http.net``: a socket timeout is the phase's timeout, any other ``OSError``
its error), so "may it have been sent?" and the SDK's errors are as they were.
"""

from __future__ import annotations

import _thread
import queue
import socket
import ssl
from typing import Any, NoReturn, Optional, Union

from textflow._http import sync_tls
from textflow._http.deadline import DEADLINE_PASSED, clamp
from textflow._http.net import (
    SEND_FLAGS,
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    Stream,
    WriteError,
    WriteTimeout,
    deadline_named,
    socket_readable,
)


class SocketStream:
    """A connected socket for ``textflow._http.sync_connection``; TLS goes over it
    (``start_tls``: ``textflow._http.sync_tls``)."""

    __slots__ = ("_socket",)

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock

    def read(self, max_bytes: int, timeout: Optional[float]) -> bytes:
        timeout, cut = clamp(timeout, ReadTimeout)
        with deadline_named(cut):
            try:
                self._socket.settimeout(timeout)
                return self._socket.recv(max_bytes)
            except socket.timeout as exc:
                raise ReadTimeout(str(exc)) from exc
            except OSError as exc:
                raise ReadError(str(exc)) from exc

    def write(self, data: bytes, timeout: Optional[float]) -> None:
        # Each send gets what is left of the deadline now, not what was left when the
        # write began: a peer taking a few bytes at a time would keep it going past it.
        view = memoryview(data)
        while view:
            left, cut = clamp(timeout, WriteTimeout)
            with deadline_named(cut):
                try:
                    self._socket.settimeout(left)
                    view = view[self._socket.send(view, SEND_FLAGS) :]
                except socket.timeout as exc:
                    raise WriteTimeout(str(exc)) from exc
                except OSError as exc:
                    raise WriteError(str(exc)) from exc

    def start_tls(self, context: ssl.SSLContext, host: str, timeout: Any) -> Stream:
        """TLS over this stream (``sync_tls``), which keeps the socket: closed if it fails."""
        return sync_tls.start_tls(self, context, host, timeout)

    def close(self) -> None:
        self._socket.close()

    def get_extra_info(self, info: str) -> Any:
        sock = self._socket
        if info == "ssl_object":
            return None
        if info == "socket":
            return sock
        if info == "is_readable":
            return socket_readable(sock)
        if info == "client_addr":
            return sock.getsockname()
        if info == "server_addr":
            return sock.getpeername()
        return None


def _raise_connect_error(exc: BaseException) -> NoReturn:
    if isinstance(exc, socket.timeout):
        raise ConnectTimeout(str(exc)) from exc
    if isinstance(exc, OSError):  # ssl.SSLError (a bad certificate) too
        raise ConnectError(str(exc)) from exc
    raise exc


def connect_tcp(host: str, port: int, timeout: Optional[float]) -> SocketStream:
    """A socket to ``host:port`` (Nagle off, as httpcore sets it), cut at the deadline.

    ``socket.create_connection``'s loop over the host's addresses (``addresses``), with
    the socket closed whatever ends an attempt (an interrupt too, which
    ``create_connection`` lets through with the socket open until garbage collection),
    and each attempt cut to what is left of the deadline. The first address's error is
    raised if none connects.
    """
    first: Optional[OSError] = None
    for family, kind, proto, _, address in addresses(host, port, timeout):
        left, cut = clamp(timeout, ConnectTimeout)
        sock = None
        try:  # (no context manager: an interrupt in its exit would lose the socket)
            sock = socket.socket(family, kind, proto)  # (no IPv6 here: the next one)
            sock.settimeout(left)
            sock.connect(address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return SocketStream(sock)
        except BaseException as exc:
            if sock is not None:
                sock.close()
            if not isinstance(exc, OSError):
                raise
            if cut and isinstance(exc, socket.timeout):  # the deadline: no next address
                raise ConnectTimeout(DEADLINE_PASSED) from None
            if first is None:
                first = exc
    if first is None:
        first = OSError(f"no address found for {host}")
    _raise_connect_error(first)


Addresses = list[tuple[Any, ...]]  # socket.getaddrinfo's answer
Answer = Union[Addresses, BaseException]

LOOKUP_TIMED_OUT = "the name lookup timed out"


def addresses(host: str, port: int, timeout: Optional[float]) -> Addresses:
    """``socket.getaddrinfo``'s addresses of ``host:port``, the lookup cut at ``timeout``
    (the connect timeout: asyncio and trio cut the lookup with the connect too) and at the
    call's deadline; a resolver's error is a ``ConnectError``.

    ``getaddrinfo`` cannot be interrupted by a timeout (a dead DNS server holds it 5 s
    an attempt): with a time limit, the lookup runs in a thread of its own and the call
    waits for its answer in a C wait (``SimpleQueue.get``: an interrupt there leaves no
    lock held); at the limit the thread is left to end when the lookup does, its answer
    unused. The thread is started by ``_thread`` (the standard library's documented
    low-level module), in C: ``threading.Thread.start`` waits for the thread on a
    condition in Python code, and an interrupt landing there raised ``RuntimeError``
    ("release unlocked lock") or could leave its lock held, the thread never running.
    An IP address (the numeric lookup answers it at once, with no resolver) and
    ``localhost`` need no thread, nor does a call with no time limit.
    """
    left, cut = clamp(timeout, ConnectTimeout)  # (passed already: no name looked up)
    try:
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except (OSError, ValueError):  # not an IP address: a name (the lookup tells more)
        pass
    if left is None or host.lower() == "localhost":
        answer: Answer = _look_up(host, port)
    else:
        answers: queue.SimpleQueue[Answer] = queue.SimpleQueue()
        try:  # (threading.Thread.start waits for the thread in Python code: not interrupt-safe)
            _thread.start_new_thread(_look_up, (host, port, answers))
        except RuntimeError as exc:  # no thread to be had
            raise ConnectError(f"the name lookup could not start: {exc}") from exc
        try:
            answer = answers.get(timeout=left)
        except queue.Empty:
            raise ConnectTimeout(DEADLINE_PASSED if cut else LOOKUP_TIMED_OUT) from None
    if isinstance(answer, BaseException):
        if isinstance(answer, OSError):
            raise ConnectError(str(answer)) from answer
        raise answer  # (as a direct call raises it: a name IDNA cannot encode)
    return answer


def _look_up(host: str, port: int, answers: Optional[queue.SimpleQueue[Answer]] = None) -> Answer:
    """``getaddrinfo``'s answer, or what it raised: returned, or put in ``answers``."""
    try:
        answer: Answer = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except Exception as exc:  # (handed over, raised by the caller: not printed here)
        answer = exc
    if answers is not None:
        answers.put(answer)
    return answer
