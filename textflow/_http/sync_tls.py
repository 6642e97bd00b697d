"""TLS for the sync stream of the SDK's own connection: ``memory_tls`` over its socket.

``SSLContext.wrap_socket`` detaches the plain socket in Python code: an interrupt
(Ctrl-C) landing there left two socket objects on one descriptor, and OpenSSL's own
writes to a reset connection raise SIGPIPE. Here the plain stream
(``sync_stream.SocketStream``, ``raw``) keeps its socket and moves the bytes, each read
and write cut at the call's deadline as a plain one is; the TLS is done in memory
(``memory_tls.MemoryTLS``, which says what else that buys), as under trio
(``trio_tls``): only the waits differ.
"""

from __future__ import annotations

import ssl
from typing import Any, Optional

from textflow._http import net
from textflow._http.memory_tls import HANDSHAKE_CUT, RECV, MemoryTLS, OverRaw


def start_tls(
    raw: Any, context: ssl.SSLContext, server_hostname: Optional[str], timeout: Optional[float]
) -> TLSStream:
    """The handshake over ``raw`` (closed whatever ends it but success), each read and
    write at most ``timeout`` seconds and not past the call's deadline."""
    try:
        stream = TLSStream(raw, MemoryTLS(context, server_hostname))
        stream.handshake(timeout)
    except BaseException:
        raw.close()
        raise
    return stream


class TLSStream(OverRaw):
    __slots__ = ()

    def handshake(self, timeout: Optional[float]) -> None:
        try:
            while not self._tls.handshake():
                self._send(timeout)
                data = self._raw.read(RECV, timeout)
                if not data:
                    raise net.ConnectError(HANDSHAKE_CUT)
                self._tls.received(data)
            self._send(timeout)  # the client's Finished (TLS 1.3)
        except net.TimeoutException as exc:  # (its message says if the deadline cut it)
            raise net.ConnectTimeout(str(exc)) from None
        except (net.ReadError, net.WriteError) as exc:
            raise net.ConnectError(str(exc)) from exc

    def read(self, max_bytes: int, timeout: Optional[float]) -> bytes:
        tls = self._tls
        while True:
            data = tls.data(max_bytes)
            if data is not None:
                return data
            if tls.owes():  # a reply the TLS layer owes (a key update)
                try:
                    self._send(timeout)
                except net.WriteError as exc:
                    raise net.ReadError(str(exc)) from exc
            tls.received(self._raw.read(RECV, timeout))

    def write(self, data: bytes, timeout: Optional[float]) -> None:
        if data:
            self._raw.write(self._tls.encrypt(data), timeout)

    def _send(self, timeout: Optional[float]) -> None:
        data = self._tls.outgoing()
        if data:
            self._raw.write(data, timeout)

    def close(self) -> None:
        """A close_notify if the socket takes it at once (never waited for), then the end."""
        try:
            sock = self._raw.get_extra_info("socket")
            if sock.fileno() >= 0:
                sock.settimeout(0)  # (non-blocking)
                self._tls.close_notify(sock)
        finally:  # (whatever ends the goodbye: an interrupt too)
            self._raw.close()
