"""The sync network stream of the SDK's own connection: a socket, cut at the call's deadline.

Every connect, read, write and TLS handshake is cut at the deadline of the sync call in
progress (``deadline.DEADLINE``), as the async streams are cut by the async client's
cancel scope. It raises what httpcore's sync stream raised, for the same socket errors
(``textflow._http.net``: a socket timeout is the phase's timeout, any other ``OSError``
its error), so "may it have been sent?" and the SDK's errors are as they were.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any, Optional

from textflow._http.deadline import clamp
from textflow._http.net import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
    deadline_named,
    socket_readable,
)


class SocketStream:
    """A connected socket (plain or TLS) for ``textflow._http.sync_connection``."""

    __slots__ = ("_sock",)

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: Optional[float]) -> bytes:
        timeout, cut = clamp(timeout, ReadTimeout)
        with deadline_named(cut):
            try:
                self._sock.settimeout(timeout)
                return self._sock.recv(max_bytes)
            except socket.timeout as exc:
                raise ReadTimeout(str(exc)) from exc
            except OSError as exc:
                raise ReadError(str(exc)) from exc

    def write(self, data: bytes, timeout: Optional[float]) -> None:
        if not data:
            return
        timeout, cut = clamp(timeout, WriteTimeout)
        with deadline_named(cut):
            try:
                while data:
                    self._sock.settimeout(timeout)
                    data = data[self._sock.send(data) :]
            except socket.timeout as exc:
                raise WriteTimeout(str(exc)) from exc
            except OSError as exc:
                raise WriteError(str(exc)) from exc

    def start_tls(self, context: ssl.SSLContext, host: str, timeout: Any) -> SocketStream:
        timeout, cut = clamp(timeout, ConnectTimeout)
        with deadline_named(cut):
            try:
                self._sock.settimeout(timeout)
                sock = context.wrap_socket(self._sock, server_hostname=host)
            except BaseException as exc:
                self.close()
                if isinstance(exc, socket.timeout):
                    raise ConnectTimeout(str(exc)) from exc
                if isinstance(exc, OSError):  # ssl.SSLError (a bad certificate) too
                    raise ConnectError(str(exc)) from exc
                raise
        return SocketStream(sock)

    def close(self) -> None:
        self._sock.close()

    def get_extra_info(self, info: str) -> Any:
        sock = self._sock
        if info == "ssl_object":
            return sock if isinstance(sock, ssl.SSLSocket) else None
        if info == "socket":
            return sock
        if info == "is_readable":
            return socket_readable(sock)
        if info == "client_addr":
            return sock.getsockname()
        if info == "server_addr":
            return sock.getpeername()
        return None


def connect_tcp(host: str, port: int, timeout: Optional[float]) -> SocketStream:
    """A socket to ``host:port`` (Nagle off, as httpcore sets it), cut at the deadline."""
    timeout, cut = clamp(timeout, ConnectTimeout)
    with deadline_named(cut):
        try:
            sock = socket.create_connection((host, port), timeout)
        except socket.timeout as exc:
            raise ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise ConnectError(str(exc)) from exc
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:  # (the peer reset it already)
        sock.close()
        raise ConnectError(str(exc)) from exc
    return SocketStream(sock)
