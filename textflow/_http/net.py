"""What the SDK's own network streams share, without httpcore: their exceptions, their
interface, and the list of streams a set of pools opened.

The SDK's own connection (``textflow._http.connection``) runs over the SDK's streams:
``sync_stream`` and ``sync_tls`` (a socket), ``asyncio_stream`` (asyncio's transports),
``trio_stream`` and ``trio_tls`` (a trio socket). They raise the exceptions below, named as httpcore
names its own, and ``convert.httpx_errors`` maps them to httpx's as it maps httpcore's,
so a direct send imports neither httpcore nor h11 (about 11 ms of a first send, 50 ms
when trio is installed: httpcore imports it). httpcore is loaded only where it still
carries requests (an ``https://`` proxy's tunnel, SOCKS: ``textflow._http.streams``,
which turns these exceptions into httpcore's for its connections).
"""

from __future__ import annotations

import os
import select
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional, Protocol

from textflow._http.deadline import DEADLINE_PASSED


class NetError(Exception):
    """A failure of one of the SDK's network streams (never seen by a caller: the
    transport turns it into httpx's exception of the same name)."""


class TimeoutException(NetError):
    pass


class ConnectTimeout(TimeoutException):
    pass


class ReadTimeout(TimeoutException):
    pass


class WriteTimeout(TimeoutException):
    pass


class NetworkError(NetError):
    pass


class ConnectError(NetworkError):
    pass


class ReadError(NetworkError):
    pass


class WriteError(NetworkError):
    pass


class ProxyError(NetError):
    """A plain-http proxy refused a CONNECT tunnel, or answered it malformed."""


#: The flags of every ``send`` on a plain socket of the SDK's own: a write to a connection
#: the peer reset fails with ``EPIPE`` instead of raising SIGPIPE, which kills a program
#: that restored its default action (``signal.signal(SIGPIPE, SIG_DFL)``, as many
#: command-line tools do). 0 where the platform has no such flag.
SEND_FLAGS: int = getattr(socket, "MSG_NOSIGNAL", 0)

CLOSED_UNWRITTEN = "the server closed the connection before the request was written"


class Stream(Protocol):
    """What the SDK's connection asks of a sync stream (the async ones have the same
    methods, awaited, and ``aclose``): httpcore's network-stream interface, in part."""

    def read(self, max_bytes: int, timeout: Optional[float]) -> bytes: ...

    def write(self, data: bytes, timeout: Optional[float]) -> None: ...

    def start_tls(self, context: ssl.SSLContext, host: str, timeout: Any) -> Stream: ...

    def close(self) -> None: ...

    def get_extra_info(self, info: str) -> Any: ...


#: The streams one set of pools opened and has not closed yet (``Opened``): the SDK's own
#: list of its connections, to let them go when their process or event loop is gone.
Opened = dict[Any, None]


def close_socket_copy(stream: Any) -> None:
    """Close this process's file descriptor of ``stream``'s socket, and nothing else.

    No TLS close_notify, no ``shutdown()``, no event loop: a forked child's copy goes
    and the parent's connection, which is the same socket, stays as it was.
    """
    sock = stream.get_extra_info("socket")  # a stdlib, TLS or trio socket
    if sock is not None and sock.fileno() >= 0:
        os.close(sock.detach())  # the socket object no longer owns the descriptor


@contextmanager
def deadline_named(cut: bool, timeout: type[Exception] = TimeoutException) -> Iterator[None]:
    """A ``timeout`` (an exception class) that the deadline cut short says so (not a bare
    "timed out")."""
    try:
        yield
    except timeout as exc:
        if not cut:
            raise
        raise type(exc)(DEADLINE_PASSED) from None


def socket_readable(sock: Optional[Any]) -> bool:
    """Whether a read on ``sock`` (anything with ``fileno()``) would return at once: data
    the loop has not delivered yet, or the end. A socket that is gone counts as readable."""
    fileno = -1 if sock is None else sock.fileno()
    if fileno < 0:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fileno, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fileno], [], [], 0)  # pragma: no cover - Windows
    return bool(readable)
