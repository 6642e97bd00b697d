"""TLS for the SDK's own connection under trio: an ``ssl.SSLObject`` over its trio socket.

httpcore's trio stream (``trio.SSLStream``) reads up to 32 KiB of the socket into a
buffer of its own, which no public name shows: a TLS record that came right behind an
answer's last one sat there, the socket looked empty, the connection went back to the
pool as clean, and the unasked answer was read as the next request's. Here the TLS is
done in memory (``ssl.SSLContext.wrap_bio``, ``ssl.MemoryBIO`` in and out) over
``trio_stream.TrioStream`` (``raw``), which moves the bytes (with its deadline mechanism), so
every byte that came is in sight: an idle connection is readable if the TLS object
holds data, the incoming buffer holds records, or the socket holds bytes, and those are
decrypted at once to tell data or the end (readable) from records that carry none,
such as session tickets (not readable; the data is kept for the next read).

A close_notify or the end of the socket reads as the end (``b""``), as asyncio's TLS
transport and ``trio.SSLStream(https_compatible=True)`` do: HTTP's framing tells a cut
answer. Errors are the SDK's (``textflow._http.net``): a failed handshake is a
``ConnectError`` (its timeout a ``ConnectTimeout``), a broken record a ``ReadError``.
"""

from __future__ import annotations

import math
import ssl
from contextlib import suppress
from typing import Any, Optional

import trio

from textflow._http import net
from textflow._http.deadline import DEADLINE_PASSED, clamp
from textflow._http.net import socket_readable

_RECV = 64 * 1024  # bytes asked of the socket per read
_DRAIN = 16  # reads of an idle connection's socket at most, to tell what came


async def start_tls(
    raw: Any,
    ssl_context: ssl.SSLContext,
    server_hostname: Optional[str],
    timeout: Optional[float],
) -> TrioTLSStream:
    """The handshake over ``raw`` (closed if it fails), at most ``timeout`` seconds and
    not past the call's deadline (``deadline.DEADLINE``, if set)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    try:
        tls = ssl_context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    except (ssl.SSLError, ValueError) as exc:  # ValueError: a hostname it cannot check
        raw.close()
        raise net.ConnectError(str(exc)) from exc
    stream = TrioTLSStream(raw, tls, incoming, outgoing)
    try:
        timeout, cut = clamp(timeout, net.ConnectTimeout)
        with trio.fail_after(math.inf if timeout is None else timeout):
            await stream.handshake()
    except trio.TooSlowError:
        raw.close()
        raise net.ConnectTimeout(DEADLINE_PASSED if cut else "") from None
    except net.TimeoutException as exc:  # a wait of the handshake cut by the deadline
        raw.close()
        raise net.ConnectTimeout(str(exc)) from None
    except BaseException:  # a failure, or the call's deadline (trio.Cancelled)
        raw.close()
        raise
    return stream


class TrioTLSStream:
    __slots__ = ("_eof", "_in", "_kept", "_out", "_raw", "_tls")

    def __init__(
        self, raw: Any, tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO
    ) -> None:
        self._raw = raw
        self._tls = tls
        self._in = incoming
        self._out = outgoing
        self._kept = b""  # data decrypted by a readability check, for the next read
        self._eof = False  # the TLS session or the socket ended

    async def handshake(self) -> None:
        tls = self._tls
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._send(None, net.ConnectError)
                try:
                    data = await self._raw.read(_RECV, None)
                except net.ReadError as exc:
                    raise net.ConnectError(str(exc)) from exc
                if not data:
                    raise net.ConnectError("the TLS handshake did not finish") from None
                self._in.write(data)
            except (ssl.SSLError, OSError) as exc:  # a certificate refused, a bad record
                raise net.ConnectError(str(exc)) from exc
        await self._send(None, net.ConnectError)  # the client's Finished (TLS 1.3)

    async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        if self._kept:
            kept, self._kept = self._kept[:max_bytes], self._kept[max_bytes:]
            return kept
        while True:
            # (Nothing to decrypt: straight to the socket, no SSLWantReadError raised.)
            if self._in.pending or self._in.eof or self._tls.pending():
                data = self._decrypt(max_bytes)
                if data is not None:
                    return data
            if self._out.pending:  # a reply the TLS layer owes (a key update)
                await self._send(None, net.ReadError)
            received = await self._raw.read(_RECV, timeout)
            if received:
                self._in.write(received)
            else:
                self._in.write_eof()

    def _decrypt(self, max_bytes: int) -> Optional[bytes]:
        """Data already come (``b""`` at the end), or ``None`` if more must be received."""
        if self._eof:
            return b""
        try:
            data = self._tls.read(max_bytes)
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

    async def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        if not buffer:
            return
        try:
            self._tls.write(buffer)
        except ssl.SSLError as exc:
            raise net.WriteError(str(exc)) from exc
        await self._send(timeout, net.WriteError)

    async def _send(self, timeout: Optional[float], error: type[Exception]) -> None:
        """Sends the records the TLS object wrote (a write's, or the handshake's)."""
        data = self._out.read()
        if data:
            try:
                await self._raw.write(data, timeout)
            except net.WriteError as exc:
                if error is net.WriteError:
                    raise
                raise error(str(exc)) from exc

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        """A close_notify (the server's answered) if the socket takes it at once (never
        waited for), then the end."""
        sock = self._raw.get_extra_info("socket")
        if sock.fileno() >= 0:
            with suppress(ssl.SSLError, OSError, ValueError):
                self._tls.unwrap()
            with suppress(OSError):
                sock.send(self._out.read(), net.SEND_FLAGS)
        self._raw.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never called
        raise net.ConnectError("TLS inside TLS is not done on the SDK's trio stream")

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self._readable()
        if info == "ssl_object":
            return self._tls
        return self._raw.get_extra_info(info)

    def _readable(self) -> bool:
        """Whether a read would return at once (data, or the end), as seen now: what the
        socket holds is received and decrypted, and kept for the next read. Records that
        carry no data (session tickets) leave the connection idle."""
        if self._kept or self._eof or self._tls.pending():
            return True
        sock = self._raw.get_extra_info("socket")
        if sock.fileno() < 0:
            return True
        for _ in range(_DRAIN):
            if not socket_readable(sock):
                break
            try:
                received = sock.recv(_RECV)
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
            data = self._decrypt(_RECV)
        except net.ReadError:
            return True
        if data:
            self._kept = data
        return data is not None
