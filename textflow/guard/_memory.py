"""``MemoryStore``: counts in this process's memory (the default; one process)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from typing import Optional

from textflow.guard._store import Denial, Limit, blocking_event, worst

_SWEEP_EVERY = 1024  # acquires between sweeps of keys nobody touched lately


class MemoryStore:
    """Counts in a dict in this process: right for one process, lost on restart.

    Safe across threads and event loops (one lock; each call takes microseconds,
    so `AsyncVerificationGuard` calls it without a worker thread). Several
    processes or machines need `SQLiteStore` or `RedisStore`.

    Examples:
        >>> guard = VerificationGuard(client, store=MemoryStore())
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, tuple[float, deque[float]]] = {}
        self._calls = 0

    def __repr__(self) -> str:
        return f"MemoryStore(keys={len(self._events)})"

    def acquire(self, now: float, limits: Sequence[Limit]) -> Optional[Denial]:
        """Record one event at ``now`` under every limit's key, or nothing if one is full."""
        with self._lock:
            self._calls += 1
            if self._calls % _SWEEP_EVERY == 0:
                self._sweep(now)
            live = [self._live(now, limit) for limit in limits]
            blocked = [
                (index, blocking_event(times, limit.limit))
                for index, (limit, times) in enumerate(zip(limits, live))
                if len(times) >= limit.limit
            ]
            denial = worst(now, limits, blocked)
            if denial is None:
                for times in live:
                    times.append(now)
            return denial

    def clear(self, keys: Sequence[str]) -> None:
        """Forget every event under ``keys``."""
        with self._lock:
            for key in keys:
                self._events.pop(key, None)

    def _live(self, now: float, limit: Limit) -> deque[float]:
        """The key's events still inside ``limit.window``, oldest first (expired ones dropped)."""
        _, times = self._events.setdefault(limit.key, (limit.window, deque()))
        self._events[limit.key] = (limit.window, times)
        while times and times[0] <= now - limit.window:
            times.popleft()
        return times

    def _sweep(self, now: float) -> None:
        stale = [k for k, (window, t) in self._events.items() if not t or t[-1] <= now - window]
        for key in stale:
            del self._events[key]
