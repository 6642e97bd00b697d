"""Which event loop a call runs in, and a hook that runs as that loop ends.

An async client may be used from one event loop after another (``asyncio.run``
per send, as scripts and Celery tasks do). Connections belong to the loop that
opened them: when it ends they are let go (``until_the_loop_ends``), and the
next loop opens its own. Nothing is kept, and nothing waits for garbage
collection.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    import asyncio


async def _until_the_loop_ends(let_go: Callable[[], None], pid: int) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        if os.getpid() == pid:  # never in a forked child: the parent's loop is not its own
            let_go()


async def until_the_loop_ends(let_go: Callable[[], None]) -> AsyncGenerator[None, None]:
    """Calls ``let_go`` (which must not await) as the running loop ends, or at ``end()``.

    An async generator left suspended: asyncio (``asyncio.run``'s
    ``shutdown_asyncgens``) and trio close every live one as their run ends, while
    the loop still turns, so ``let_go`` can close connections cleanly there. A loop
    ended some other way (``loop.close()`` without it) is noticed on the client's
    next call, which calls ``end()`` itself.
    """
    watcher = _until_the_loop_ends(let_go, os.getpid())
    await watcher.asend(None)
    return watcher


def end(watcher: AsyncGenerator[None, None]) -> None:
    """Close ``watcher`` now, without an event loop (its ``let_go`` does not await)."""
    closing = watcher.aclose()
    try:
        closing.send(None)
    except StopIteration:
        return
    closing.close()  # pragma: no cover - let_go never awaits


def asyncio_loop() -> Optional[asyncio.AbstractEventLoop]:
    """The running asyncio loop if the current task is asyncio's, else ``None`` (trio's).

    Not ``asyncio.get_running_loop()`` alone: a trio guest run on an asyncio loop
    (``trio.lowlevel.start_guest_run``) runs its tasks in that loop's callbacks, where
    the loop answers but no asyncio task runs; anyio (through sniffio) calls them trio's.
    """
    import asyncio  # here, not at the top: the sync transport imports this module

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # trio, anyio's other backend
        return None
    if asyncio.current_task(loop) is None and "trio" in sys.modules and trio_task():
        return None  # a trio guest run's task
    return loop


def trio_task() -> bool:
    """Whether the running task is trio's, as anyio tells (sniffio, which trio requires)."""
    import sniffio

    return bool(sniffio.current_async_library() == "trio")


class Loop:
    """The event loop (asyncio) or run (trio) a call runs in, to tell one from another."""

    __slots__ = ("_ref", "_token")

    def __init__(self, loop: Optional[asyncio.AbstractEventLoop], token: object) -> None:
        self._ref: Optional[weakref.ReferenceType[asyncio.AbstractEventLoop]] = (
            None if loop is None else weakref.ref(loop)
        )
        self._token = token

    @classmethod
    def current(cls) -> Loop:
        loop = asyncio_loop()
        if loop is not None:
            return cls(loop, None)
        import trio  # not asyncio: anyio's other backend is trio (maybe a guest run)

        return cls(None, trio.lowlevel.current_trio_token())

    def same(self, other: Loop) -> bool:
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
