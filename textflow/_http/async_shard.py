"""``AsyncShard``: one connection of the SDK's transport, driven without a pool.

Written by hand, async first: scripts/unasync.py generates the sync twin from it.

Why shards, and what they share, is in ``textflow._http.pools``. The twins differ
only in that an async close is shielded from the call's cancellation (``shielded``,
from the hand-written pair ``_http/async_io.py`` and ``_http/sync_io.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

import httpx

from textflow._http.async_connection import AsyncConnection
from textflow._http.async_io import shielded
from textflow._http.connection import origin_of
from textflow._http.convert import Forwarded
from textflow._http.pools import Shard, check_scheme
from textflow._http.tunnel import Tunnel

if TYPE_CHECKING:
    import httpcore


class AsyncShard(Shard):
    """One connection of the transport. The gate gives it one request at a time, so it
    needs neither the pool's queue nor its locks; a request the connection turns away
    before writing (``ConnectionNotAvailable``) goes on a new one, as in a pool."""

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """``request`` on httpcore's connection (an https proxy's tunnel, SOCKS, or one a
        test double patched): httpcore is imported here, never for a direct request."""
        import httpcore

        check_scheme(request)
        while True:
            stale = self._stale(request)
            if stale is not None:
                await _closed(stale)
            if self.connection is None:
                self.connection = self._new_connection(request, httpcore.AsyncHTTPConnection)
            try:
                answer: httpcore.Response = await self.connection.handle_async_request(request)
                return answer
            except httpcore.ConnectionNotAvailable:
                continue  # never written: closed now, and replaced above

    async def send(
        self,
        request: httpx.Request,
        release: Callable[[], None],
        forwarded: Optional[Forwarded] = None,
        tunnel: Optional[Tunnel] = None,
    ) -> httpx.Response:
        """A direct request, one ``forwarded`` to a plain-http proxy, or one through a
        plain-http proxy's ``tunnel``, on the SDK's own connection
        (``textflow._http.connection``); ``release`` once its answer's body is closed."""
        origin = origin_of(request.url) if forwarded is None else forwarded[0]
        while True:
            connection = self.connection
            if connection is not None and not (
                self.route is tunnel  # (None: direct or forwarded)
                and isinstance(connection, AsyncConnection)
                and connection.usable(origin)
            ):
                self.connection = None
                await _closed(connection)
                connection = None
            if connection is None:
                self.route = tunnel
                connection = self.connection = AsyncConnection(
                    origin,
                    self._ssl_context,
                    self._keepalive_expiry,
                    self._backend.opened,
                    self._backend,
                    tunnel,
                )
            answer = await connection.send(request, release, forwarded)
            if answer is not None:
                return answer

    async def aclose(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            await _closed(connection)


async def _closed(connection: Any) -> None:
    with shielded():
        await connection.aclose()
