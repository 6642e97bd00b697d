"""The SDK's own httpx transports: pooled connections that survive ``fork()`` and crowds.

A client that builds its own ``httpx.Client`` / ``httpx.AsyncClient`` sends
through these (a caller's ``http_client`` is used as it is). Over plain
``httpcore`` pools they add:

* **Fork safety.** A process forked from one that used the pool (gunicorn
  ``--preload``, uWSGI, Celery prefork, ``multiprocessing``) would share its
  sockets, and parent and child could read each other's answers. The first
  request in a new process lets go of the inherited connections, closing only
  its own copies of their sockets (the parent's stay as they are), and opens
  its own.
* **One event loop at a time.** Connections opened under an event loop are let go
  as it ends (``textflow._http.loops``); use from two live loops at once is refused
  with a clear error.
* **Shards** of one connection each behind a gate (``textflow._http.pools``).
* **The SDK's own HTTP/1.1 connection** for direct requests (``textflow._http.connection``),
  with the call's deadline and clean reuse, for plain-http requests forwarded to a
  plain-http proxy, and for requests through a plain-http proxy's CONNECT tunnel
  (``textflow._http.tunnel``); an ``https://`` proxy's tunnels and SOCKS keep httpcore's
  connections over the streams of ``textflow._http.streams``.

A proxied request (the client's route, ``textflow._http.proxies``, carried in the
request's extensions) goes through the same shards, gate and deadline as a direct one:
a plain-http request to a plain-http proxy is sent in absolute form, built once
(``convert.Forward``), on the SDK's own connection to the proxy; an https request to a
plain-http proxy on the SDK's own connection through a CONNECT tunnel; any other on a
connection its proxy's httpcore pool makes (an https proxy's tunnel, SOCKS) over the same
network streams.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, Callable, Generic, Optional, TypeVar, Union

import httpx

from textflow import _config
from textflow._http import loops
from textflow._http.async_shard import AsyncShard
from textflow._http.backends import AsyncBackend, SyncBackend
from textflow._http.convert import AsyncBody, Forwarded, SyncBody, core_request, httpx_errors
from textflow._http.deadline import CALL_DEADLINE, DEADLINE, QUEUE_TIMEOUT
from textflow._http.pools import Pools
from textflow._http.proxies import ROUTE
from textflow._http.sent import Point, reached
from textflow._http.sync_gate import SyncGate
from textflow._http.sync_shard import SyncShard
from textflow._http.tunnel import Tunnel
from textflow.errors import ClientStateError

if TYPE_CHECKING:
    import httpcore

#: Connections per shard (see encode/httpcore#1035 in ``textflow._http.pools``).
SHARD_CONNECTIONS = 1

PoolT = TypeVar("PoolT")


#: Held while a forked child's first requests replace the parent's pools. Made anew in
#: every child (a thread of the parent may hold it as the fork happens).
_forking = threading.Lock()


def _new_forking_lock() -> None:
    global _forking
    _forking = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_forking_lock)


class _Base(Generic[PoolT]):
    """What both transports share: settings, the pools of this process, the proxy rules."""

    def __init__(self, limits: httpx.Limits = _config.DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._pid = os.getpid()
        self._pools: Pools[PoolT] = self._new_pools()

    # What each transport makes its pools of: its shard, backend, gate and httpcore proxy
    # pools (SOCKS, HTTP; httpcore is imported when a proxy first needs one).
    _shard: Callable[..., Any]
    _backend: Callable[[], Any]
    _gate: Callable[[int], Any]
    _proxy_pools: Callable[[], tuple[Callable[..., Any], Callable[..., Any]]]

    def _new_pools(self) -> Pools[PoolT]:
        total = self._limits.max_connections or 100
        count = math.ceil(total / SHARD_CONNECTIONS)
        options = {
            "ssl_context": _config.ssl_context(),
            "keepalive_expiry": self._limits.keepalive_expiry,
        }
        backend = self._backend()

        def shard(factory: Callable[[Any], Any]) -> PoolT:
            return self._shard(backend, options, factory)  # type: ignore[no-any-return]

        def proxy(route: httpx.Proxy) -> Any:
            socks, proxy_options = self._proxy_options(route, backend)
            return self._proxy_pools()[0 if socks else 1](**proxy_options)

        return Pools(count, shard, proxy, lambda: self._gate(SHARD_CONNECTIONS * count), backend)

    def _proxy_options(self, proxy: httpx.Proxy, backend: Any) -> tuple[bool, dict[str, Any]]:
        """Whether ``proxy`` is a SOCKS one, and its httpcore pool's arguments as httpx
        builds them (the proxy's own TLS settings for an https proxy) over ``backend``."""
        import httpcore

        url = proxy.url
        socks = url.scheme.startswith("socks")
        options: dict[str, Any] = {
            "proxy_url": httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            "proxy_auth": proxy.raw_auth,
            "ssl_context": _config.ssl_context(),
            "max_connections": 1,  # it only makes connections: the shards hold them
            "keepalive_expiry": self._limits.keepalive_expiry,
            "network_backend": backend,
        }
        if not socks:
            options["proxy_headers"] = proxy.headers.raw
            if url.scheme == "https":
                options["proxy_ssl_context"] = proxy.ssl_context or _config.ssl_context()
        return socks, options

    def _current(self) -> Pools[PoolT]:
        pid = os.getpid()
        if self._pid != pid:  # forked: the child opens its own connections
            with _forking:  # one thread lets the parent's go; the others wait for the new
                if self._pid != pid:
                    self._forked()
                    self._pools = self._new_pools()
                    self._pid = pid  # last: no thread of the child takes the parent's pools
        return self._pools

    def _forked(self) -> None:
        """Let go of what belonged to the parent process, before new pools are made."""


class TextFlowTransport(_Base[SyncShard], httpx.BaseTransport):
    """The sync client's transport (see the module's docstring)."""

    _shard = SyncShard
    _backend = SyncBackend
    _gate = SyncGate

    @staticmethod
    def _proxy_pools() -> tuple[Callable[..., Any], Callable[..., Any]]:
        import httpcore

        return httpcore.SOCKSProxy, httpcore.HTTPProxy

    def _forked(self) -> None:
        self._pools.backend.abandon()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        reached(Point.BEFORE_CONNECTING)
        pools = self._current()
        if pools.broken:  # left by an interrupted request: closed now, not at client close
            pools.close_broken()
        if not pools.gate.acquire(blocking=False):
            pools.reclaim()
            if not pools.gate.acquire(timeout=_pool_timeout(request)):
                raise httpx.PoolTimeout(_NO_CONNECTION)
        try:
            index, pool, release = pools.take()
        except BaseException:  # (an interrupt at its entry too): the slot goes back
            pools.release(None)
            raise
        try:
            with httpx_errors():
                forwarded = _own_connection(pools, request, _SYNC)
                if forwarded is not _TUNNELLED:  # direct, forwarded or tunnelled (plain-http)
                    response = pool.send(request, release, *_split(forwarded))
                    pools.lend(index, response.stream)
                    return response
                answer = pool.handle_request(_core(pools, request))
        except BaseException:
            release()
            raise
        return _tunnelled(pools, index, SyncBody(answer, release), answer)

    def close(self) -> None:
        pools = self._current()
        for pool in pools.all():
            pool.close()
        pools.close_broken()


_AsyncPool = AsyncShard


class AsyncTextFlowTransport(_Base[_AsyncPool], httpx.AsyncBaseTransport):
    """The async client's transport (asyncio and trio; see the module's docstring)."""

    _shard = AsyncShard
    _backend = AsyncBackend

    @staticmethod
    def _gate(size: int) -> Any:
        # here, not at the top: the gate imports asyncio, which a sync first send never needs
        from textflow._http.gate import AsyncGate

        return AsyncGate(size)

    @staticmethod
    def _proxy_pools() -> tuple[Callable[..., Any], Callable[..., Any]]:
        import httpcore

        return httpcore.AsyncSOCKSProxy, httpcore.AsyncHTTPProxy

    def __init__(self, limits: httpx.Limits = _config.DEFAULT_LIMITS) -> None:
        super().__init__(limits)
        self._loop: Optional[loops.Loop] = None
        self._watcher: Optional[AsyncGenerator[None, None]] = None

    def _forked(self) -> None:
        # The parent's event loop does not run here: only this process's copies of
        # sockets are closed (asyncio's transports of that loop are left untouched).
        self._pools.backend.abandon(in_this_process=False)
        self._stop_watching()
        self._loop = None

    def _stop_watching(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            loops.end(watcher)

    async def _in_this_loop(self) -> Pools[_AsyncPool]:
        pools = self._current()
        loop = loops.Loop.current()
        if self._loop is not None and self._loop.same(loop):
            return pools
        if self._loop is None:  # first use, or after aclose: the gate forgets any other loop
            pools.regate()
        elif not self._loop.finished():
            raise ClientStateError(
                "This async client is in use in another event loop that is still running; "
                "an async client belongs to one event loop at a time: make one per loop."
            )
        else:  # the previous loop is over: its connections were, or are now, let go
            self._stop_watching()
            pools = self._pools = self._new_pools()
        self._loop = loop
        backend = pools.backend
        self._watcher = await loops.until_the_loop_ends(
            lambda: backend.abandon(in_this_process=True)
        )
        return pools

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        reached(Point.BEFORE_CONNECTING)
        pools = self._pools
        loop = self._loop
        if loop is None or self._pid != os.getpid() or not loop.same(loops.Loop.current()):
            pools = await self._in_this_loop()  # not the loop (or process) of the last call
        if pools.broken:  # left by an interrupted request: closed now, not at client close
            await pools.aclose_broken()
        gate = pools.gate
        handed = None
        if gate.free:
            gate.free -= 1
        else:
            queued = len(gate.waiters) - gate.dead
            if not queued or pools.arrivals + 1 >= pools.size:  # (else only counted:
                pools.reclaim(queued)  # ``Pools.reclaim``'s look is due once per as many)
            else:
                pools.arrivals += 1
            extensions = request.extensions  # (the retry loop worked the timeout out)
            timeout = (
                extensions[QUEUE_TIMEOUT]
                if QUEUE_TIMEOUT in extensions
                else _queued_timeout(request)
            )
            if timeout is None and DEADLINE.get() is not None:
                # no cancel scope ends this call's wait (``carries``): the pool timeout,
                # cut to what was left of the deadline, does
                timeout = _pool_timeout(request)
            waiter = gate.enqueue(timeout)
            if waiter is not None:  # (None: a slot came free meanwhile, taken)
                try:
                    await waiter.parked  # here, not in a coroutine of the gate's
                except BaseException:
                    if gate.leave(waiter):  # handed the slot as it was cancelled: pass it on
                        pools.release(waiter.slot)
                    raise
                if (waiter.own_timer or waiter.state != gate.GRANTED) and not gate.settled(waiter):
                    raise httpx.PoolTimeout(_NO_CONNECTION)  # not sent; no slot taken
                handed = waiter.slot  # its releaser's shard, come with the slot
        try:
            index, pool, release = pools.take(handed)
        except BaseException:  # (an interrupt at its entry too): the slot goes back
            pools.release(None)
            raise
        try:
            with httpx_errors():
                forwarded = _own_connection(pools, request, _ASYNC)
                if forwarded is not _TUNNELLED:  # direct, forwarded or tunnelled (plain-http)
                    response = await pool.send(request, release, *_split(forwarded))
                    pools.lend(index, response.stream)
                    return response
                answer = await pool.handle_async_request(_core(pools, request))
        except BaseException:
            release()
            raise
        return _tunnelled(pools, index, AsyncBody(answer, release), answer)

    def carries(self, request: httpx.Request) -> bool:
        """Whether ``request`` goes on the SDK's own connection, every wait of it the SDK's
        (no proxy route; httpcore's connection not replaced by a test double): then, under
        trio, the call's deadline needs no cancel scope (``textflow._async_io``)."""
        return request.extensions.get(ROUTE) is None and _unpatched(_ASYNC)

    async def aclose(self) -> None:
        pools = await self._in_this_loop()
        for pool in pools.all():
            await pool.aclose()
        await pools.aclose_broken()
        self._stop_watching()  # nothing left to let go; a later use watches its loop anew
        self._loop = None


_NO_CONNECTION = "no connection came free within the pool timeout"

# A direct request goes on the SDK's own connection (``textflow._http.connection``), unless
# something replaced httpcore's connection's send: a test double such as respx (its default
# mocker patches it) then sees every request, as it did when every request went that way.
# Each list holds the connection class's name in httpcore, its send's name and, once seen,
# httpcore's own function: the transport may be imported first while respx is patching,
# so that is not "the original" unless it is httpcore's. Nothing patched httpcore while it
# is not loaded (a patch imports it): then nothing here imports it either.
_SYNC: list[Any] = ["HTTPConnection", "handle_request", None]
_ASYNC: list[Any] = ["AsyncHTTPConnection", "handle_async_request", None]


def _unpatched(which: list[Any]) -> bool:
    """Whether httpcore's connection sends as httpcore wrote it (nothing patched it)."""
    connection = getattr(sys.modules.get("httpcore"), which[0], None)
    if connection is None:  # not loaded (or still loading, in another thread)
        return True
    send = getattr(connection, which[1])
    if send is which[2]:
        return True
    if which[2] is None and getattr(send, "__module__", "").startswith("httpcore."):
        which[2] = send
        return True
    return False


def _queued_timeout(request: httpx.Request) -> Optional[float]:
    """How long a request may wait at the gate (``textflow._http.gate``), if the gate must
    time it: not when the call's own deadline ends the wait no later than the pool
    timeout would (the retry loop cuts every phase's timeout to what is left of the
    call): the client's cancel scope ends it then, as "not sent"."""
    timeout = _pool_timeout(request)
    if timeout is not None:
        deadline = request.extensions.get(CALL_DEADLINE)
        if isinstance(deadline, float) and time.monotonic() + timeout >= deadline:
            return None
    return timeout


_TUNNELLED: Any = object()  # ``_own_connection``'s answer for a request httpcore carries


def _own_connection(pools: Pools[Any], request: httpx.Request, which: list[Any]) -> Any:
    """How ``request`` goes on the SDK's own connection: ``None`` if direct, as its
    plain-http proxy takes it if it is forwarded there (``convert.Forward``), the proxy's
    ``tunnel.Tunnel`` if it is an https request through a plain-http proxy; else
    ``_TUNNELLED``: on httpcore's connections, through an https proxy's tunnel or SOCKS,
    or when a test double patched httpcore's connection ``which`` (``_unpatched``)."""
    route = request.extensions.get(ROUTE)
    how: Union[Forwarded, Tunnel, None] = None
    if route is not None:
        forward = pools.forwards.get(route) or pools.forward(route)
        how = forward.forwarded(request)
        if how is None:
            how = forward.tunnel
            if how is None or request.url.raw_scheme != b"https":
                return _TUNNELLED
    return how if _unpatched(which) else _TUNNELLED


def _split(forwarded: Any) -> tuple[Any, Optional[Tunnel]]:
    """``_own_connection``'s answer as a shard's ``send`` takes it: (forwarded, tunnel)."""
    if isinstance(forwarded, Tunnel):
        return None, forwarded
    return forwarded, None


def _tunnelled(
    pools: Pools[Any], index: int, body: Any, answer: httpcore.Response
) -> httpx.Response:
    """The answer to a request httpcore's connection carried, for httpx: its ``body``
    holds shard ``index`` until it is closed."""
    pools.lend(index, body)
    return httpx.Response(
        status_code=answer.status,
        headers=answer.headers,
        stream=body,
        extensions=answer.extensions,
    )


def _core(pools: Pools[Any], request: httpx.Request) -> httpcore.Request:
    """``request`` for httpcore: to its origin, or as its proxy takes it (``Forward``)."""
    route = request.extensions.get(ROUTE)
    if route is None:
        return core_request(request)
    return (pools.forwards.get(route) or pools.forward(route)).request(request)


def _pool_timeout(request: httpx.Request) -> Optional[float]:
    timeouts = request.extensions.get("timeout")
    value = timeouts.get("pool") if isinstance(timeouts, dict) else None
    return float(value) if isinstance(value, (int, float)) else None
