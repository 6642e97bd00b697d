"""The SDK's own httpx transports: pooled connections that survive ``fork()`` and crowds.

A client that builds its own ``httpx.Client`` / ``httpx.AsyncClient`` sends
through these (a caller's ``http_client`` is used as it is). Over plain
``httpcore`` pools they add:

* **Fork safety.** A process forked from one that used the pool (gunicorn
  ``--preload``, uWSGI, Celery prefork, ``multiprocessing``) would share its
  sockets, and parent and child could read each other's answers. The first
  request in a new process leaves the inherited pools alone (never closing or
  using their sockets) and opens its own.
* **One event loop at a time.** Connections opened under an event loop that has
  since finished are dropped, not used (they would fail with "Event loop is
  closed"); use from two live loops at once is refused with a clear error.
* **Shards.** httpcore 1.0's pool does work quadratic in its open connections
  for every request (https://github.com/encode/httpcore/issues/1035): with 100
  requests in flight it spends ~10 ms of CPU per request on bookkeeping, and a
  request it queues may be handed a connection another has just taken, then
  retried. Here every connection is a shard of its own (``SHARD_CONNECTIONS``),
  a gate lets in only as many requests as there are connections, and each goes
  to the shard freed most recently (a warm connection). A sync shard is an
  httpcore pool of one; an async shard drives its httpcore connection directly
  (``_AsyncShard``), without the pool's per-request locks. Measured in
  docs/performance.md; remove the shards when that issue is fixed.
* **Deadlines and clean connections** through the network streams of
  ``textflow._network``.

Proxies from the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) are
honoured, through httpcore's proxy pools over the same network streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import math
import os
import threading
import urllib.request
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Callable, Generic, Optional, TypeVar, Union

import anyio
import httpcore
import httpx

from textflow import _config, _network
from textflow._deadline import WRITING
from textflow.errors import ClientStateError, ConfigurationError

#: Connections per httpcore pool (see encode/httpcore#1035 above). One: with more, two
#: requests entering a pool at once can be handed the same idle connection, and one of
#: them is retried through the pool's whole bookkeeping (measured: 2 retries a request).
SHARD_CONNECTIONS = 1

# Pools left behind in a forked child, or by an event loop that ended: kept referenced so
# that garbage collection never touches sockets the child shares with its parent, nor
# runs cleanup against a closed loop.
_INHERITED: list[object] = []

_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
}


@contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as httpx's (the client attaches the request)."""
    try:
        yield
    except Exception as exc:
        for cls in type(exc).__mro__:
            mapped = _ERRORS.get(cls)
            if mapped is not None:
                raise mapped(str(exc)) from exc
        raise


def _core_request(request: httpx.Request) -> httpcore.Request:
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        ),
        headers=request.headers.raw,
        content=request.stream,
        extensions=request.extensions,
    )


def _lowered(headers: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in headers}


PoolT = TypeVar("PoolT")


class _Pools(Generic[PoolT]):
    """The pools of one process (and event loop): one per connection, and one per proxy.

    ``gate`` lets in only as many requests as there are connections in all: a request
    queued inside an httpcore pool makes every later request scan it, and a waiting one
    may be handed a connection that another has just taken, then retried.
    """

    def __init__(
        self,
        count: int,
        shard: Callable[[], PoolT],
        proxy: Callable[[str], PoolT],
        gate: Callable[[], Any],
    ) -> None:
        self.shards: dict[int, PoolT] = {}  # made on first use: a quiet client needs one
        self._make_shard = shard
        self._make_gate = gate
        self.gate = gate()
        # Shards with room, the most recently freed last: a quiet client reuses one
        # warm connection. The gate guarantees one is here whenever a request enters.
        self.free = list(reversed(range(count)))
        self._make_proxy = proxy
        self.proxies: dict[str, PoolT] = {}
        self.broken: list[PoolT] = []  # shards left stuck by an interrupt, replaced

    def regate(self) -> None:
        """A new gate, made in the event loop about to use it (nothing holds the old one)."""
        self.gate = self._make_gate()

    def take(self, proxy: Optional[str]) -> tuple[Optional[int], PoolT]:
        """A shard (its index) or the proxy's pool, for a request the gate let in."""
        if proxy is not None:
            pool = self.proxies.get(proxy)
            if pool is None:
                pool = self.proxies[proxy] = self._make_proxy(proxy)
            return None, pool
        index = self.free.pop()
        pool = self.shards.get(index)
        if pool is None:
            pool = self.shards[index] = self._make_shard()
        return index, pool

    def release(self, index: Optional[int]) -> None:
        """A request is over: its slot goes back, and a shard it left stuck is replaced.

        An exception between two lines of httpcore (Ctrl-C, a signal handler's timeout,
        a cancellation at an unlucky checkpoint) can leave a connection neither idle nor
        closed for ever; in a pool of one connection that would be every later call's.
        """
        if index is not None:
            pool = self.shards.get(index)
            if pool is not None and not all(
                c.is_idle() or c.is_closed()
                for c in pool.connections  # type: ignore[attr-defined]
            ):
                self.broken.append(self.shards.pop(index))
            self.free.append(index)
        self.gate.release()

    def all(self) -> list[PoolT]:
        return [*self.shards.values(), *self.proxies.values()]


class _Base(Generic[PoolT]):
    """What both transports share: settings, the pools of this process, the proxy rules."""

    def __init__(self, limits: httpx.Limits = _config.DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._proxies: Optional[dict[str, str]] = None  # read from the environment on first use
        self._pid = os.getpid()
        self._pools: _Pools[PoolT] = self._new_pools()

    def _pool_options(self) -> dict[str, Any]:
        total = self._limits.max_connections or 100
        per_shard = min(total, SHARD_CONNECTIONS)
        keepalive = self._limits.max_keepalive_connections
        return {
            "ssl_context": _config.ssl_context(),
            "max_connections": per_shard,
            "max_keepalive_connections": per_shard
            if keepalive is None
            else min(keepalive, per_shard),
            "keepalive_expiry": self._limits.keepalive_expiry,
            "shards": math.ceil(total / per_shard),
        }

    def _new_pools(self) -> _Pools[PoolT]:
        raise NotImplementedError

    def _current(self) -> _Pools[PoolT]:
        if self._pid != os.getpid():  # forked: the child opens its own connections
            _INHERITED.append(self._pools)
            self._pid = os.getpid()
            self._forked()
            self._pools = self._new_pools()
        return self._pools

    def _forked(self) -> None:
        """Forget what belonged to the parent process, before new pools are made."""

    def _proxy_url(self, url: httpx.URL) -> Optional[str]:
        if self._proxies is None:
            self._proxies = {
                scheme: value
                for scheme, value in urllib.request.getproxies_environment().items()
                if scheme in ("http", "https", "all", "no")
            }
        if not self._proxies:
            return None
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if proxy is None or urllib.request.proxy_bypass(url.host):
            return None
        return proxy

    def _proxy_options(self, proxy: str) -> tuple[str, dict[str, Any]]:
        """The kind of proxy (``http`` or ``socks``) and its pool's arguments, as httpx
        builds them, but over the SDK's network streams (deadline, clean reuse)."""
        try:
            parsed = httpx.Proxy(url=proxy)
        except (TypeError, ValueError, httpx.InvalidURL):
            raise ConfigurationError(
                "The proxy set in the environment (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY) is "
                "not an http, https, socks5 or socks5h URL."
            ) from None
        scheme = parsed.url.scheme
        if scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
            raise ConfigurationError(
                'A SOCKS proxy is set in the environment: pip install "httpx[socks]".'
            )
        options: dict[str, Any] = {
            "proxy_url": httpcore.URL(
                scheme=parsed.url.raw_scheme,
                host=parsed.url.raw_host,
                port=parsed.url.port,
                target=parsed.url.raw_path,
            ),
            "proxy_auth": parsed.raw_auth,
            "ssl_context": _config.ssl_context(),
            "max_connections": self._limits.max_connections,
            "max_keepalive_connections": self._limits.max_keepalive_connections,
            "keepalive_expiry": self._limits.keepalive_expiry,
        }
        if not scheme.startswith("socks"):
            options["proxy_headers"] = parsed.headers.raw
        return ("socks" if scheme.startswith("socks") else "http"), options


class TextFlowTransport(_Base[httpcore.ConnectionPool], httpx.BaseTransport):
    """The sync client's transport (see the module's docstring)."""

    def _new_pools(self) -> _Pools[httpcore.ConnectionPool]:
        options = self._pool_options()
        count = options.pop("shards")
        backend = _network.SyncBackend()

        def shard() -> httpcore.ConnectionPool:
            return httpcore.ConnectionPool(network_backend=backend, **options)

        def proxy(url: str) -> httpcore.ConnectionPool:
            kind, proxy_options = self._proxy_options(url)
            cls = httpcore.SOCKSProxy if kind == "socks" else httpcore.HTTPProxy
            return cls(network_backend=backend, **proxy_options)

        def gate() -> threading.Semaphore:
            return threading.Semaphore(options["max_connections"] * count)

        return _Pools(count, shard, proxy, gate)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        WRITING.set(False)
        pools = self._current()
        proxy = self._proxy_url(request.url)
        if not pools.gate.acquire(timeout=_pool_timeout(request)):
            raise httpx.PoolTimeout(_NO_CONNECTION)
        try:
            index, pool = pools.take(proxy)
        except BaseException:
            pools.release(None)
            raise
        try:
            with _httpx_errors():
                answer = pool.handle_request(_core_request(request))
        except BaseException:
            pools.release(index)
            raise
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_SyncBody(answer, functools.partial(pools.release, index)),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        pools = self._current()
        for pool in pools.all():
            pool.close()
        for pool in pools.broken:
            with contextlib.suppress(Exception):
                pool.close()


class _AsyncShard:
    """One connection of the async transport, driven without an httpcore pool.

    The gate gives a shard one request at a time, so the pool's queue, its
    bookkeeping (encode/httpcore#1035) and its locks have nothing to do: a
    connection that is closed, expired or for another origin is replaced, and a
    request it turns away before writing (``ConnectionNotAvailable``, see
    ``textflow._network``) goes on a new one, as the pool would do.
    """

    def __init__(self, backend: httpcore.AsyncNetworkBackend, options: dict[str, Any]) -> None:
        self._backend = backend
        self._ssl_context = options["ssl_context"]
        self._keepalive_expiry = options["keepalive_expiry"]
        self._connection: Optional[httpcore.AsyncHTTPConnection] = None

    @property
    def connections(self) -> list[httpcore.AsyncHTTPConnection]:
        return [] if self._connection is None else [self._connection]

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        scheme = request.url.scheme
        if scheme not in (b"http", b"https"):
            raise httpcore.UnsupportedProtocol(
                "Request URL is missing an 'http://' or 'https://' protocol."
                if not scheme
                else f"Request URL has an unsupported protocol '{scheme.decode()}://'."
            )
        while True:
            connection = self._connection
            if connection is not None and (
                connection.is_closed()
                or connection.has_expired()
                or not connection.can_handle_request(request.url.origin)
            ):
                self._connection = None
                await _closed(connection)
                connection = None
            if connection is None:
                connection = self._connection = httpcore.AsyncHTTPConnection(
                    origin=request.url.origin,
                    ssl_context=self._ssl_context,
                    keepalive_expiry=self._keepalive_expiry,
                    network_backend=self._backend,
                )
            try:
                return await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                continue  # never written: closed now, and replaced above

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await _closed(connection)


async def _closed(connection: httpcore.AsyncHTTPConnection) -> None:
    with anyio.CancelScope(shield=True):
        await connection.aclose()


_AsyncPool = Union[httpcore.AsyncConnectionPool, _AsyncShard]


class AsyncTextFlowTransport(_Base[_AsyncPool], httpx.AsyncBaseTransport):
    """The async client's transport (asyncio and trio; see the module's docstring)."""

    def __init__(self, limits: httpx.Limits = _config.DEFAULT_LIMITS) -> None:
        super().__init__(limits)
        self._loop: Optional[_Loop] = None

    def _forked(self) -> None:
        self._loop = None  # the parent's event loop does not run here

    def _new_pools(self) -> _Pools[_AsyncPool]:
        options = self._pool_options()
        count = options.pop("shards")
        backend = self._backend = _network.AsyncBackend()

        def shard() -> _AsyncPool:
            return _AsyncShard(backend, options)

        def proxy(url: str) -> _AsyncPool:
            kind, proxy_options = self._proxy_options(url)
            cls = httpcore.AsyncSOCKSProxy if kind == "socks" else httpcore.AsyncHTTPProxy
            return cls(network_backend=backend, **proxy_options)

        def gate() -> anyio.Semaphore:
            return anyio.Semaphore(options["max_connections"] * count)

        return _Pools(count, shard, proxy, gate)

    def _in_this_loop(self) -> _Pools[_AsyncPool]:
        pools = self._current()
        loop = _Loop.current()
        if self._loop is not None and self._loop.same(loop):
            return pools
        if self._loop is None:  # first use: the gate belongs to this loop
            pools.regate()
            self._loop = loop
            return pools
        if not self._loop.finished():
            raise ClientStateError(
                "This async client is in use in another event loop that is still running; "
                "an async client belongs to one event loop at a time: make one per loop."
            )
        # The previous loop is over: its connections cannot be used or closed gracefully.
        self._backend.close_sockets()
        _INHERITED.append(self._pools)
        self._loop = loop
        self._pools = self._new_pools()
        return self._pools

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        WRITING.set(False)
        pools = self._in_this_loop()
        proxy = self._proxy_url(request.url)
        try:
            pools.gate.acquire_nowait()
        except anyio.WouldBlock:
            try:
                with anyio.fail_after(_pool_timeout(request)):
                    await pools.gate.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout(_NO_CONNECTION) from None
        try:
            index, pool = pools.take(proxy)
        except BaseException:
            pools.release(None)
            raise
        try:
            with _httpx_errors():
                answer = await pool.handle_async_request(_core_request(request))
        except BaseException:
            pools.release(index)
            raise
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_AsyncBody(answer, functools.partial(pools.release, index)),
            extensions=answer.extensions,
        )

    async def aclose(self) -> None:
        pools = self._in_this_loop()
        for pool in pools.all():
            await pool.aclose()
        for pool in pools.broken:
            with contextlib.suppress(Exception):
                await pool.aclose()


_NO_CONNECTION = "no connection came free within the pool timeout"


def _pool_timeout(request: httpx.Request) -> Optional[float]:
    timeouts = request.extensions.get("timeout")
    value = timeouts.get("pool") if isinstance(timeouts, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


class _SyncBody(httpx.SyncByteStream):
    """An answer's body from a pool: httpx's exceptions, the slot released on close.

    Also released if the body is collected unclosed: an interrupt after the transport
    returned, before the client took the response, must not use up a slot for good.
    """

    def __init__(self, answer: httpcore.Response, release: Callable[[], None]) -> None:
        self._answer = answer
        self._release = weakref.finalize(self, release)

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._answer.iter_stream()
        _answered(self._answer)

    def close(self) -> None:
        try:
            with _httpx_errors():
                self._answer.close()
        finally:
            self._release()


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, answer: httpcore.Response, release: Callable[[], None]) -> None:
        self._answer = answer
        self._release = weakref.finalize(self, release)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._answer.aiter_stream():
                yield part
        _answered(self._answer)

    async def aclose(self) -> None:
        try:
            with _httpx_errors():
                await self._answer.aclose()
        finally:
            self._release()


def _answered(answer: httpcore.Response) -> None:
    """Read to its end: before the connection goes back to the pool, check it ended clean."""
    _network.answered(
        answer.extensions.get("network_stream"), answer.status, _lowered(answer.headers)
    )


class _Loop:
    """The event loop (asyncio) or run (trio) a call runs in, to tell one from another."""

    __slots__ = ("_ref", "_token")

    def __init__(self, loop: Optional[asyncio.AbstractEventLoop], token: object) -> None:
        self._ref: Optional[weakref.ReferenceType[asyncio.AbstractEventLoop]] = (
            None if loop is None else weakref.ref(loop)
        )
        self._token = token

    @classmethod
    def current(cls) -> _Loop:
        try:
            return cls(asyncio.get_running_loop(), None)
        except RuntimeError:  # not asyncio: anyio's other backend is trio
            import trio

            return cls(None, trio.lowlevel.current_trio_token())

    def same(self, other: _Loop) -> bool:
        if self._ref is not None:
            return other._ref is not None and self._ref() is other._ref()
        return self._token is other._token

    def finished(self) -> bool:
        """Whether it no longer runs (an asyncio loop that is open but idle counts too)."""
        if self._ref is not None:
            loop = self._ref()
            return loop is None or not loop.is_running()
        import trio

        try:
            self._token.run_sync_soon(_nothing)  # type: ignore[attr-defined]
        except trio.RunFinishedError:
            return True
        return False


def _nothing() -> None:
    pass
