"""The stores an `AsyncVerificationGuard` takes, each made awaitable.

The twin of ``guard/_sync_store.py`` (same names; scripts/unasync.py maps one
import to the other): the async guard takes every store, calling a
`MemoryStore` directly (microseconds, never blocks), an async store as it is,
and a blocking store (SQLite, sync Redis) from a worker thread, which works
under trio too.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Optional, Union, cast

import anyio.to_thread

from textflow.guard._checks import Check, Write
from textflow.guard._memory import MemoryStore
from textflow.guard._store import AsyncGuardStore, GuardStore, Verdict

#: The guard of the other kind, for the error that names it.
OTHER_GUARD = "VerificationGuard"


class _Inline:
    """A `MemoryStore` called directly: each call takes microseconds and never blocks."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return repr(self._store)

    async def decide(
        self,
        now: float,
        checks: Sequence[Check],
        *,
        always: bool = False,
        read: Optional[str] = None,
    ) -> Verdict:
        return self._store.decide(now, checks, always=always, read=read)

    async def write(self, now: float, writes: Sequence[Write]) -> None:
        self._store.write(now, writes)


class _InThread:
    """A blocking store (SQLite, sync Redis) called from a worker thread."""

    def __init__(self, store: GuardStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return repr(self._store)

    async def decide(
        self,
        now: float,
        checks: Sequence[Check],
        *,
        always: bool = False,
        read: Optional[str] = None,
    ) -> Verdict:
        call = functools.partial(self._store.decide, now, list(checks), always=always, read=read)
        return await anyio.to_thread.run_sync(call)

    async def write(self, now: float, writes: Sequence[Write]) -> None:
        await anyio.to_thread.run_sync(functools.partial(self._store.write, now, list(writes)))


def guard_store(store: Union[GuardStore, AsyncGuardStore, None]) -> AsyncGuardStore:
    """The store the guard awaits: ``store`` (a new `MemoryStore` if None), adapted."""
    if store is None:
        return _Inline(MemoryStore())
    if isinstance(store, MemoryStore):
        return _Inline(store)
    if inspect.iscoroutinefunction(store.decide):
        return cast(AsyncGuardStore, store)
    return _InThread(cast(GuardStore, store))
