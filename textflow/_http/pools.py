"""The connections of one process and event loop: shards of one connection each, a gate.

httpcore 1.0's pool does work quadratic in its open connections for every request
(https://github.com/encode/httpcore/issues/1035): with 100 requests in flight it
spends ~10 ms of CPU per request on bookkeeping, and a request it queues may be
handed a connection another has just taken, then retried. Here every connection is
a shard of its own, driven without a pool (``AsyncShard`` in ``async_shard``, written
by hand; ``SyncShard`` in ``sync_shard``, generated from it by scripts/unasync.py); a gate
lets in only as many requests as there are shards, and each goes to the shard
freed most recently (a warm connection). Delete the shards and use
``httpcore.ConnectionPool`` when that issue is fixed.
"""

from __future__ import annotations

import contextlib
import weakref
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Generic, Optional, TypeVar

from textflow._http.convert import Forward
from textflow._http.proxies import ROUTE, forwards

if TYPE_CHECKING:
    import httpcore

PoolT = TypeVar("PoolT")


class Shard:
    """What both shards share: one connection at most, replaced when it cannot serve."""

    def __init__(
        self, backend: Any, options: dict[str, Any], proxies: Callable[[Any], Any]
    ) -> None:
        self._backend = backend
        self._ssl_context = options["ssl_context"]
        self._keepalive_expiry = options["keepalive_expiry"]
        self._proxies = proxies  # an httpx.Proxy's httpcore proxy pool, used as a factory
        self.connection: Optional[Any] = None
        self.route: Optional[Any] = None  # the httpx.Proxy its connection goes through
        # Its httpcore connection serves one request: TLS there reads ahead out of sight
        # (``backends.SyncBackend.hides_tls_records``), so an unasked answer's record right
        # behind an answer would leave it looking idle and clean, and be the next answer.
        self.single_use = False

    def _new_connection(self, request: httpcore.Request, direct: Callable[..., Any]) -> Any:
        """A connection for ``request``: direct (to its origin, or to a plain-http proxy
        it is forwarded to in absolute form: ``convert.Forward``), or made by its proxy's
        httpcore pool (``create_connection``: a CONNECT tunnel or SOCKS connection) over
        the same network backend, so the deadline and the clean-reuse checks hold."""
        self.route = route = request.extensions.get(ROUTE)
        self.single_use = False
        if route is None or forwards(route, request.url.scheme):  # to the proxy, if any
            return direct(
                origin=request.url.origin,
                ssl_context=self._ssl_context,
                keepalive_expiry=self._keepalive_expiry,
                network_backend=self._backend,
            )
        if request.url.scheme == b"https":
            self.single_use = self._backend.hides_tls_records(route)
        return self._proxies(self.route).create_connection(request.url.origin)

    def stuck(self) -> bool:
        """Whether its connection is neither idle nor closed once a request is over.

        An exception between two lines of httpcore (Ctrl-C, a signal handler's timeout,
        a cancellation at an unlucky checkpoint) can leave it so for ever.
        """
        connection = self.connection
        return connection is not None and not (connection.is_idle() or connection.is_closed())

    def _stale(self, request: httpcore.Request) -> Optional[Any]:
        """The connection to close before ``request``: closed, expired, another origin, or
        one that serves a single request."""
        connection = self.connection
        if connection is not None and (
            self.single_use
            or self.route is not request.extensions.get(ROUTE)
            or connection.is_closed()
            or not connection.is_idle()  # left stuck, and handed over (``Pools.release``)
            or connection.has_expired()
            or not connection.can_handle_request(request.url.origin)
        ):
            self.connection = None
            return connection
        return None


def check_scheme(request: httpcore.Request) -> None:
    import httpcore

    scheme = request.url.scheme
    if scheme not in (b"http", b"https"):
        raise httpcore.UnsupportedProtocol(
            "Request URL is missing an 'http://' or 'https://' protocol."
            if not scheme
            else f"Request URL has an unsupported protocol '{scheme.decode()}://'."
        )


class Pools(Generic[PoolT]):
    """The pools of one process (and event loop): one per connection.

    A proxied request goes through the same shards and gate as a direct one: a forwarded
    one on the SDK's own connection to the proxy, one tunnelled through a plain-http proxy
    on the SDK's own connection too (``textflow._http.tunnel``), any other (an https
    proxy's tunnel, SOCKS) on a connection made by the proxy's httpcore pool (one per
    ``httpx.Proxy``, in ``proxies``), which only makes connections and never holds one.

    ``gate`` lets in only as many requests as there are connections in all: a request
    queued inside an httpcore pool makes every later request scan it, and a waiting one
    may be handed a connection that another has just taken, then retried.
    """

    def __init__(
        self,
        count: int,
        shard: Callable[[Callable[[Any], Any]], PoolT],
        proxy: Callable[[Any], Any],
        gate: Callable[[], Any],
        backend: Any,
    ) -> None:
        self.shards: dict[int, PoolT] = {}  # made on first use: a quiet client needs one
        self._make_shard = shard
        self.gate = gate()
        # Shards with room, the most recently freed last: a quiet client reuses one
        # warm connection. The gate guarantees one is here whenever a request enters.
        self.free = list(reversed(range(count)))
        self.size = count
        # The async gate hands a slot given back to the first in line with its shard
        # (``AsyncGate.release(slot)``); the sync gate (``sync_gate``) only counts.
        self._hands_over = hasattr(self.gate, "enqueue")
        self._make_proxy = proxy
        self.proxies: dict[Any, Any] = {}  # httpx.Proxy (by identity) -> its factory
        self.forwards: dict[Any, Forward] = {}  # httpx.Proxy -> how requests go through it
        self.broken: list[PoolT] = []  # shards left stuck by an interrupt, until closed
        self.backend = backend  # it keeps the streams these pools opened
        # The answer body each shard in use was handed to, to notice one dropped unclosed.
        self._lent: dict[int, weakref.ReferenceType[Any]] = {}
        self.arrivals = 0  # at the full gate since the last look (``reclaim``)

    def lend(self, index: Optional[int], body: Any) -> None:
        """``body`` holds shard ``index`` until it is closed."""
        if index is not None:
            self._lent[index] = weakref.ref(body)

    def reclaim(self, queued: int = 0) -> None:
        """Give back the shards of bodies dropped without being closed (an interrupt after
        the transport answered, before httpx handed the response over), as stuck ones.

        Called when the gate is full, on the caller's path: nothing runs at collection.
        A look at every shard in use costs ~7 µs with 100 of them, which every queued
        send paid: with ``queued`` requests already waiting, it runs once every as many
        arrivals as there are shards in use (one look per arrival); the first request
        to find the gate full always looks.
        """
        if queued:
            self.arrivals += 1
            if self.arrivals < self.size - len(self.free):  # (not the bodies lent now:
                return  # with answers read at once, as few as 0 or 1, a look per arrival)
        self.arrivals = 0
        for index, body in list(self._lent.items()):
            if body() is None and index not in self.free:
                shard = self.shards.pop(index, None)
                if shard is not None:
                    self.broken.append(shard)
                self.release(index)

    def regate(self) -> None:
        """The gate is about to be used in an event loop again (after ``aclose``): it
        forgets the loop it knew. It keeps its count: a request still holding a slot
        gives it back here (a new gate would count it as free, one slot too many)."""
        self.gate.rebind()

    def forward(self, proxy: Any) -> Forward:
        """How requests go through ``proxy`` (made once per proxy)."""
        forward = self.forwards.get(proxy)
        if forward is None:
            forward = self.forwards[proxy] = Forward(proxy)
        return forward

    def factory(self, proxy: Any) -> Any:
        """The httpcore proxy pool that makes connections through ``proxy``."""
        pool = self.proxies.get(proxy)
        if pool is None:
            pool = self.proxies[proxy] = self._make_proxy(proxy)
        return pool

    def take(self, handed: Optional[int] = None) -> tuple[int, PoolT, Callable[[], None]]:
        """A shard, its index and what gives it back (``release``), for a request the gate
        let in (``handed``: the index its releaser handed over with the slot). If it raises,
        the shard is free again and the caller gives the slot back (``release(None)``),
        the caller's ``try`` covering the call: an interrupt at this method's entry, before
        any line of it, is the caller's to handle too."""
        index: Optional[int] = handed
        try:
            if index is None:
                index = self.free.pop()
            pool = self.shards.get(index)
            if pool is None:
                pool = self.shards[index] = self._make_shard(self.factory)
        except BaseException:
            if index is not None:
                self.free.append(index)
            raise
        return index, pool, partial(self.release, index)

    def release(self, index: Optional[int]) -> None:
        """A request is over: its slot goes back, with its shard to the first in line if
        any (whose send replaces the connection if it was left stuck); else a shard it left
        stuck is replaced (in a pool of one connection, a stuck one would be every later
        call's)."""
        if index is not None:
            if self._hands_over:
                self._lent.pop(index, None)
                if self.gate.release(index):
                    return  # handed with its shard to the first in line, whose send replaces
                    # its connection if it is stuck (``AsyncShard``: ``usable``, ``_stale``)
            else:  # the look first: an interrupt in it (at a function's entry) leaves the
                # shard lent, to a body dropped, which ``reclaim`` gives back
                shard = self.shards.get(index)
                if isinstance(shard, Shard) and shard.stuck():
                    self.broken.append(self.shards.pop(index))
                self._lent.pop(index, None)
            self.free.append(index)
            if self._hands_over:
                return
        self.gate.release()  # (the sync gate's: one call of C, no function entry)

    def all(self) -> list[PoolT]:
        return list(self.shards.values())

    def close_broken(self) -> None:
        """Close the shards an interrupt left stuck, and forget them (the next request
        does it, so they never pile up)."""
        broken, self.broken = self.broken, []
        for pool in broken:
            with contextlib.suppress(Exception):
                pool.close()  # type: ignore[attr-defined]

    async def aclose_broken(self) -> None:
        broken, self.broken = self.broken, []
        for pool in broken:
            with contextlib.suppress(Exception):
                await pool.aclose()  # type: ignore[attr-defined]
