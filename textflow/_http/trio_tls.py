"""TLS for the SDK's own connection under trio: ``memory_tls`` over its trio socket.

``trio.SSLStream`` reads up to 32 KiB of the socket into a buffer of its own, which no
public name shows: a TLS record that came right behind an answer's last one sat there,
the socket looked empty, the connection went back to the pool as clean, and the unasked
answer was read as the next request's. Here the TLS is done in memory
(``memory_tls.MemoryTLS``, which says what that buys) over ``trio_stream.TrioStream``
(``raw``), which moves the bytes (with its deadline mechanism). The sync stream does the
same over its socket (``sync_tls``): only the waits differ.
"""

from __future__ import annotations

import math
import ssl
from typing import Any, Optional

import trio

from textflow._http import net
from textflow._http.deadline import DEADLINE_PASSED, clamp
from textflow._http.memory_tls import HANDSHAKE_CUT, RECV, MemoryTLS, OverRaw


async def start_tls(
    raw: Any,
    ssl_context: ssl.SSLContext,
    server_hostname: Optional[str],
    timeout: Optional[float],
) -> TrioTLSStream:
    """The handshake over ``raw`` (closed if it fails), at most ``timeout`` seconds and
    not past the call's deadline (``deadline.DEADLINE``, if set)."""
    try:
        stream = TrioTLSStream(raw, MemoryTLS(ssl_context, server_hostname))
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


class TrioTLSStream(OverRaw):
    __slots__ = ()

    async def handshake(self) -> None:
        while not self._tls.handshake():
            await self._send(None, net.ConnectError)
            try:
                data = await self._raw.read(RECV, None)
            except net.ReadError as exc:
                raise net.ConnectError(str(exc)) from exc
            if not data:
                raise net.ConnectError(HANDSHAKE_CUT)
            self._tls.received(data)
        await self._send(None, net.ConnectError)  # the client's Finished (TLS 1.3)

    async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        tls = self._tls
        while True:
            data = tls.data(max_bytes)
            if data is not None:
                return data
            if tls.owes():  # a reply the TLS layer owes (a key update)
                await self._send(None, net.ReadError)
            tls.received(await self._raw.read(RECV, timeout))

    async def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        if buffer:
            await self._raw.write(self._tls.encrypt(buffer), timeout)

    async def _send(self, timeout: Optional[float], error: type[Exception]) -> None:
        """Sends the records the TLS object wrote (the handshake's, a reply owed)."""
        data = self._tls.outgoing()
        if data:
            try:
                await self._raw.write(data, timeout)
            except net.WriteError as exc:
                raise error(str(exc)) from exc

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        """A close_notify if the socket takes it at once (never waited for), then the end."""
        try:
            self._tls.close_notify(self._raw.get_extra_info("socket"))
        finally:  # (whatever ends the goodbye: an interrupt too)
            self._raw.close()
