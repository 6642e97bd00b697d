"""The network backends of the SDK's pools: its own connection's streams, and httpcore's.

``connect_raw`` opens a stream for the SDK's own connection (``textflow._http.connection``)
without httpcore. The rest is httpcore's network-backend interface, for the connections
an ``https://`` proxy's or a SOCKS proxy's httpcore pool makes over the SDK's watched
streams (``textflow._http.streams``); httpcore is imported there, on first use.

Each keeps the streams it opened and has not closed yet (``opened``): the SDK's
own list of its connections, never a pool's private one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from textflow._http import sync_stream
from textflow._http.deadline import clamp
from textflow._http.net import Opened
from textflow._http.sent import Point, reached

if TYPE_CHECKING:
    import httpcore

    from textflow._http.streams import SocketOptions


class SyncBackend:
    """httpcore's ``NetworkBackend`` interface (for proxy pools), and ``connect_raw``."""

    def __init__(self) -> None:
        self._core: Optional[httpcore.NetworkBackend] = None
        self.opened: Opened = {}

    @property
    def _backend(self) -> httpcore.NetworkBackend:
        if self._core is None:
            import httpcore

            self._core = httpcore.SyncBackend()
        return self._core

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: Optional[float] = None,
        local_address: Optional[str] = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.NetworkStream:
        import httpcore

        from textflow._http.streams import SyncStream, deadline_named

        reached(Point.CONNECTING)
        timeout, cut = clamp(timeout, httpcore.ConnectTimeout)
        with deadline_named(cut):
            stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return SyncStream(stream, self.opened)

    def connect_raw(self, host: str, port: int, timeout: Optional[float]) -> Any:
        """A plain stream for the SDK's own connection (``textflow._http.connection``),
        which watches its cycles itself: reported, and cut at the call's deadline."""
        reached(Point.CONNECTING)
        return sync_stream.connect_tcp(host, port, timeout)

    @staticmethod
    def hides_tls_records(route: Any) -> bool:
        """Whether TLS with the API on httpcore's connection through ``route`` (an
        ``httpx.Proxy``) reads ahead into a buffer the SDK cannot see: inside an
        ``https://`` proxy's TLS it is httpcore's ``ssl.SSLObject`` on memory buffers;
        inside a SOCKS tunnel it is the socket's own TLS, whose unread records stay in the
        socket (seen)."""
        return bool(route.url.scheme == "https")

    def connect_unix_socket(  # pragma: no cover - the SDK never dials a unix socket
        self, path: str, timeout: Optional[float] = None, socket_options: SocketOptions = None
    ) -> httpcore.NetworkStream:
        import httpcore

        from textflow._http.streams import SyncStream

        timeout, _ = clamp(timeout, httpcore.ConnectTimeout)
        inner = self._backend.connect_unix_socket(path, timeout, socket_options)
        return SyncStream(inner, self.opened)

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore's retries are off
        self._backend.sleep(seconds)

    def abandon(self) -> None:
        """A forked child lets go of its copies of the parent's sockets (never closing them)."""
        for stream in list(self.opened):
            stream.abandon()


class AsyncBackend:
    """httpcore's ``AsyncNetworkBackend`` interface (for proxy pools): streams on asyncio's
    own transports (``textflow._http.asyncio_stream``), else httpcore's trio backend
    (trio's own cancel scopes, not anyio's over them), watched; and ``connect_raw``."""

    def __init__(self) -> None:
        self._anyio: Optional[httpcore.AsyncNetworkBackend] = None
        self._trio: Optional[httpcore.AsyncNetworkBackend] = None
        self.opened: Opened = {}

    @property
    def _backend(self) -> httpcore.AsyncNetworkBackend:
        if self._anyio is None:
            import httpcore

            self._anyio = httpcore.AnyIOBackend()
        return self._anyio

    def _anyio_or_trio(self) -> httpcore.AsyncNetworkBackend:
        if on_asyncio():
            return self._backend
        if self._trio is None:
            import httpcore

            self._trio = httpcore.TrioBackend()
        return self._trio

    def abandon(self, in_this_process: bool) -> None:
        """Let every connection go without awaiting: their event loop ends, or ended.

        Called as the loop ends (its connections close cleanly in its last turns), or
        later if it ended without telling (then asyncio can only be asked to drop them),
        or in a forked child (then only this process's copies of sockets are closed).
        """
        for stream in list(self.opened):
            stream.abandon(in_this_process)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: Optional[float] = None,
        local_address: Optional[str] = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.AsyncNetworkStream:
        from textflow._http.streams import AsyncStream, core_errors

        reached(Point.CONNECTING)
        if socket_options is None and on_asyncio():
            from textflow._http import asyncio_stream

            with core_errors():  # httpcore's connection expects its own exceptions
                inner: Any = await asyncio_stream.connect_tcp(host, port, timeout, local_address)
        else:
            inner = await self._anyio_or_trio().connect_tcp(
                host, port, timeout, local_address, socket_options
            )
        return AsyncStream(inner, self.opened)

    @staticmethod
    def hides_tls_records(route: Any) -> bool:
        """As ``SyncBackend.hides_tls_records``: under trio httpcore's TLS is
        ``trio.SSLStream`` (its read-ahead buffer unseen); on asyncio it is the SDK's
        asyncio stream, whose buffer is seen."""
        return not on_asyncio()

    async def connect_raw(self, host: str, port: int, timeout: Optional[float]) -> Any:
        """A plain stream for the SDK's own connection (``textflow._http.connection``),
        which watches its cycles itself: asyncio's transports; under trio a socket of its
        own (``trio_stream``), TLS over it done by the SDK too (``trio_tls``)."""
        reached(Point.CONNECTING)
        if on_asyncio():
            from textflow._http import asyncio_stream

            return await asyncio_stream.connect_tcp(host, port, timeout, None)
        from textflow._http import trio_stream

        return await trio_stream.connect_tcp(host, port, timeout)

    async def connect_unix_socket(  # pragma: no cover - the SDK never dials a unix socket
        self, path: str, timeout: Optional[float] = None, socket_options: SocketOptions = None
    ) -> httpcore.AsyncNetworkStream:
        from textflow._http.streams import AsyncStream

        inner = await self._backend.connect_unix_socket(path, timeout, socket_options)
        return AsyncStream(inner, self.opened)

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore's retries are off
        await self._backend.sleep(seconds)


def on_asyncio() -> bool:
    """Whether the running async library is asyncio (anyio's other one, trio, needs sniffio)."""
    try:
        import sniffio
    except ImportError:  # pragma: no cover - trio brings sniffio; anyio no longer does
        return True
    return bool(sniffio.current_async_library() == "asyncio")
