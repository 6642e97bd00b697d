"""TLS done in memory for the SDK's own streams: an ``ssl.SSLObject`` between two
``ssl.MemoryBIO``, which a stream drives over its plain socket (``sync_tls``, ``trio_tls``).

Nothing here waits or touches a socket but to see what has come (``readable``) and to
say goodbye (``close_notify``): the streams move the bytes, each with its own waits and
deadlines. Why in memory, and not ``SSLContext.wrap_socket`` or ``trio.SSLStream``:

* every byte that came is in sight: an idle connection is readable if the TLS object
  holds data, the incoming buffer holds records, or the socket holds bytes, and those
  are decrypted at once to tell data or the end (readable) from records that carry none,
  such as session tickets (not readable; the data is kept for the next read).
  ``trio.SSLStream`` reads up to 32 KiB ahead into a buffer no public name shows: an
  unasked answer right behind the last one looked like an idle, clean connection;
* the plain socket stays the stream's, never detached: ``wrap_socket`` detaches it in
  Python code, and an interrupt (Ctrl-C) landing there left two socket objects on one
  descriptor;
* the socket's sends are the SDK's, with ``MSG_NOSIGNAL`` (``net.SEND_FLAGS``); OpenSSL's
  own writes to a reset connection raise SIGPIPE.

A close_notify or the end of the socket reads as the end (``b""``), as asyncio's TLS
transport and ``trio.SSLStream(https_compatible=True)`` do: HTTP's framing tells a cut
answer. Errors are the SDK's (``textflow._http.net``): a failed handshake is a
``ConnectError``, a broken record a ``ReadError``.
"""

from __future__ import annotations

import ssl
from contextlib import suppress
from typing import Any, Optional

from textflow._http import net
from textflow._http.net import socket_readable

RECV = 64 * 1024  # bytes asked of the socket per read
_DRAIN = 16  # reads of an idle connection's socket at most, to tell what came
HANDSHAKE_CUT = "the TLS handshake did not finish"


class MemoryTLS:
    """One TLS session's state: the ``SSLObject``, its buffers, data decrypted early."""

    __slots__ = ("_eof", "_in", "_kept", "_out", "tls")

    def __init__(self, context: ssl.SSLContext, server_hostname: Optional[str]) -> None:
        """Raises ``ConnectError`` if ``context`` refuses the session."""
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        try:
            self.tls = context.wrap_bio(self._in, self._out, server_hostname=server_hostname)
        except (ssl.SSLError, ValueError) as exc:  # ValueError: a hostname it cannot check
            raise net.ConnectError(str(exc)) from exc
        self._kept = b""  # data decrypted by a readability check, for the next read
        self._eof = False  # the TLS session or the socket ended

    def handshake(self) -> bool:
        """A step of the handshake: ``True`` once done; ``False`` when it needs the peer's
        records (send ``outgoing()`` first, then pass what comes to ``received``)."""
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except (ssl.SSLError, OSError) as exc:  # a certificate refused, a bad record
            raise net.ConnectError(str(exc)) from exc
        return True

    def outgoing(self) -> bytes:
        """The records the TLS object wrote (a write's, the handshake's, a reply owed)."""
        return self._out.read()

    def owes(self) -> bool:
        return bool(self._out.pending)

    def received(self, data: bytes) -> None:
        """What the socket gave (``b""``: its end)."""
        if data:
            self._in.write(data)
        else:
            self._in.write_eof()

    def encrypt(self, data: bytes) -> bytes:
        try:
            self.tls.write(data)
        except ssl.SSLError as exc:
            raise net.WriteError(str(exc)) from exc
        return self._out.read()

    def data(self, max_bytes: int) -> Optional[bytes]:
        """Data already come (``b""`` at the end), or ``None`` if more must be received."""
        if self._kept:
            kept, self._kept = self._kept[:max_bytes], self._kept[max_bytes:]
            return kept
        # (Nothing to decrypt: no SSLWantReadError raised.)
        if self._eof or self._in.pending or self._in.eof or self.tls.pending():
            return self._decrypt(max_bytes)
        return None

    def _decrypt(self, max_bytes: int) -> Optional[bytes]:
        if self._eof:
            return b""
        try:
            data = self.tls.read(max_bytes)
        except ssl.SSLWantReadError:
            if self._in.eof:  # (never seen: OpenSSL says EOF) no more is coming
                data = b""
            else:
                return None
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):  # close_notify; the socket's end
            data = b""
        except ssl.SSLError as exc:
            raise net.ReadError(str(exc)) from exc
        if not data:
            self._eof = True
        return data

    def readable(self, sock: Any) -> bool:
        """Whether a read would return at once (data, or the end), as seen now: what the
        socket ``sock`` holds is received and decrypted, and kept for the next read.
        Records that carry no data (session tickets) leave the connection idle."""
        if self._kept or self._eof or self.tls.pending():
            return True
        if sock.fileno() < 0:
            return True
        for _ in range(_DRAIN):
            if not socket_readable(sock):
                break
            try:
                received = sock.recv(RECV)
            except BlockingIOError:  # pragma: no cover - readable, yet nothing to read
                break
            except OSError:
                return True
            if not received:
                self._in.write_eof()
                break
            self._in.write(received)
        else:  # bytes keep pouring in: not an idle connection
            return True
        if not self._in.pending and not self._in.eof:
            return False
        try:
            data = self._decrypt(RECV)
        except net.ReadError:
            return True
        if data:
            self._kept = data
        return data is not None

    def close_notify(self, sock: Any) -> None:
        """A close_notify (the server's answered) if the socket ``sock`` (non-blocking)
        takes it at once: never waited for."""
        if sock.fileno() >= 0:
            with suppress(ssl.SSLError, OSError, ValueError):
                self.tls.unwrap()
            with suppress(OSError):
                sock.send(self._out.read(), net.SEND_FLAGS)


class OverRaw:
    """What a TLS stream over a plain one (``sync_tls``, ``trio_tls``) is besides its waits:
    the plain stream (``_raw``) and the session (``_tls``); what it tells of itself."""

    __slots__ = ("_raw", "_tls")

    def __init__(self, raw: Any, tls: MemoryTLS) -> None:
        self._raw = raw
        self._tls = tls

    def start_tls(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never called
        raise net.ConnectError("TLS inside TLS is not done on the SDK's streams")

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self._tls.readable(self._raw.get_extra_info("socket"))
        if info == "ssl_object":
            return self._tls.tls
        return self._raw.get_extra_info(info)
