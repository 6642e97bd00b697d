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
  retried. Here every connection has a pool of its own (``SHARD_CONNECTIONS``),
  a gate lets in only as many requests as there are connections, and each goes
  to the shard freed most recently (a warm connection). Measured in
  docs/performance.md; remove the shards when that issue is fixed.
* **Deadlines and clean connections** through the network streams of
  ``textflow._network``.

Proxies from the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) are
honoured as httpx honours them, through httpx's own transport.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import urllib.request
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Callable, Generic, Optional, TypeVar

import anyio
import httpcore
import httpx

from textflow import _config, _network
from textflow.errors import ClientStateError

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
ProxyT = TypeVar("ProxyT")


class _Pools(Generic[PoolT, ProxyT]):
    """The pools of one process (and event loop): shards, and a transport per proxy.

    ``gate`` lets in only as many requests as there are connections in all: a request
    queued inside an httpcore pool makes every later request scan it, and a waiting one
    may be handed a connection that another has just taken, then retried.
    """

    def __init__(
        self, count: int, shard: Callable[[], PoolT], proxy: Callable[[str], ProxyT], gate: Any
    ) -> None:
        self.shards: dict[int, PoolT] = {}  # made on first use: a quiet client needs one
        self._make_shard = shard
        self.gate = gate
        # Shards with room, the most recently freed last: a quiet client reuses one
        # warm connection. The gate guarantees one is here whenever a request enters.
        self.free = list(reversed(range(count)))
        self._make_proxy: Callable[[str], ProxyT] = proxy
        self.proxies: dict[str, ProxyT] = {}

    def shard(self, index: int) -> PoolT:
        pool = self.shards.get(index)
        if pool is None:
            pool = self.shards[index] = self._make_shard()
        return pool

    def take(self) -> int:
        return self.free.pop()

    def release(self, index: int) -> None:
        self.free.append(index)
        self.gate.release()

    def proxy(self, url: str) -> ProxyT:
        transport = self.proxies.get(url)
        if transport is None:
            transport = self.proxies[url] = self._make_proxy(url)
        return transport


class _Base(Generic[PoolT, ProxyT]):
    """What both transports share: settings, the pools of this process, the proxy rules."""

    def __init__(self, limits: httpx.Limits = _config.DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._proxies: Optional[dict[str, str]] = None  # read from the environment on first use
        self._pid = os.getpid()
        self._pools: _Pools[PoolT, ProxyT] = self._new_pools()

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

    def _new_pools(self) -> _Pools[PoolT, ProxyT]:
        raise NotImplementedError

    def _current(self) -> _Pools[PoolT, ProxyT]:
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


class TextFlowTransport(_Base[httpcore.ConnectionPool, httpx.HTTPTransport], httpx.BaseTransport):
    """The sync client's transport (see the module's docstring)."""

    def _new_pools(self) -> _Pools[httpcore.ConnectionPool, httpx.HTTPTransport]:
        options = self._pool_options()
        count = options.pop("shards")
        backend = _network.SyncBackend()

        def shard() -> httpcore.ConnectionPool:
            return httpcore.ConnectionPool(network_backend=backend, **options)

        gate = threading.Semaphore(options["max_connections"] * count)
        return _Pools(count, shard, self._proxy_transport, gate)

    def _proxy_transport(self, proxy: str) -> httpx.HTTPTransport:
        return httpx.HTTPTransport(
            verify=_config.ssl_context(), limits=self._limits, proxy=proxy, trust_env=True
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pools = self._current()
        proxy = self._proxy_url(request.url)
        if proxy is not None:
            return pools.proxy(proxy).handle_request(request)
        if not pools.gate.acquire(timeout=_pool_timeout(request)):
            raise httpx.PoolTimeout(_NO_CONNECTION)
        index = pools.take()
        try:
            with _httpx_errors():
                answer = pools.shard(index).handle_request(_core_request(request))
        except BaseException:
            _release(pools, index)
            raise
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_SyncBody(answer, lambda: _release(pools, index)),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        pools = self._current()
        for shard in pools.shards.values():
            shard.close()
        for transport in pools.proxies.values():
            transport.close()


class AsyncTextFlowTransport(
    _Base[httpcore.AsyncConnectionPool, httpx.AsyncHTTPTransport], httpx.AsyncBaseTransport
):
    """The async client's transport (asyncio and trio; see the module's docstring)."""

    def __init__(self, limits: httpx.Limits = _config.DEFAULT_LIMITS) -> None:
        super().__init__(limits)
        self._loop: Optional[_Loop] = None

    def _forked(self) -> None:
        self._loop = None  # the parent's event loop does not run here

    def _new_pools(self) -> _Pools[httpcore.AsyncConnectionPool, httpx.AsyncHTTPTransport]:
        options = self._pool_options()
        count = options.pop("shards")
        backend = self._backend = _network.AsyncBackend()

        def shard() -> httpcore.AsyncConnectionPool:
            return httpcore.AsyncConnectionPool(network_backend=backend, **options)

        gate = anyio.Semaphore(options["max_connections"] * count)
        return _Pools(count, shard, self._proxy_transport, gate)

    def _proxy_transport(self, proxy: str) -> httpx.AsyncHTTPTransport:
        return httpx.AsyncHTTPTransport(
            verify=_config.ssl_context(), limits=self._limits, proxy=proxy, trust_env=True
        )

    def _in_this_loop(self) -> _Pools[httpcore.AsyncConnectionPool, httpx.AsyncHTTPTransport]:
        pools = self._current()
        loop = _Loop.current()
        if self._loop is None or self._loop.same(loop):
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
        pools = self._in_this_loop()
        proxy = self._proxy_url(request.url)
        if proxy is not None:
            return await pools.proxy(proxy).handle_async_request(request)
        try:
            pools.gate.acquire_nowait()
        except anyio.WouldBlock:
            try:
                with anyio.fail_after(_pool_timeout(request)):
                    await pools.gate.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout(_NO_CONNECTION) from None
        index = pools.take()
        try:
            with _httpx_errors():
                answer = await pools.shard(index).handle_async_request(_core_request(request))
        except BaseException:
            _release(pools, index)
            raise
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_AsyncBody(answer, lambda: _release(pools, index)),
            extensions=answer.extensions,
        )

    async def aclose(self) -> None:
        pools = self._in_this_loop()
        for shard in pools.shards.values():
            await shard.aclose()
        for transport in pools.proxies.values():
            await transport.aclose()


def _release(pools: _Pools[Any, Any], index: int) -> None:
    pools.release(index)


_NO_CONNECTION = "no connection came free within the pool timeout"


def _pool_timeout(request: httpx.Request) -> Optional[float]:
    timeouts = request.extensions.get("timeout")
    value = timeouts.get("pool") if isinstance(timeouts, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


class _SyncBody(httpx.SyncByteStream):
    """An answer's body from a shard: httpx's exceptions, the shard released on close."""

    def __init__(self, answer: httpcore.Response, release: Callable[[], None]) -> None:
        self._answer = answer
        self._release: Optional[Callable[[], None]] = release

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._answer.iter_stream()
        _answered(self._answer)

    def close(self) -> None:
        try:
            with _httpx_errors():
                self._answer.close()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, answer: httpcore.Response, release: Callable[[], None]) -> None:
        self._answer = answer
        self._release: Optional[Callable[[], None]] = release

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
            release, self._release = self._release, None
            if release is not None:
                release()


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
        if self._ref is not None:
            loop = self._ref()
            return loop is None or loop.is_closed()
        import trio

        try:
            self._token.run_sync_soon(_nothing)  # type: ignore[attr-defined]
        except trio.RunFinishedError:
            return True
        return False


def _nothing() -> None:
    pass
