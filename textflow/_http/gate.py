"""The async transport's gate: as many requests inside as there are connections, the rest
queued in order of arrival.

Over ``anyio.Semaphore`` (an event per waiter, set on release, then the woken task takes
the slot again) and a cancel scope per wait (to cut it at the pool timeout), a wait here
costs one future (asyncio) or one reschedule (trio) and nothing else:

* ``release`` hands the slot straight to the first waiter still waiting: nobody races
  for it, nobody takes it again, and no later arrival overtakes a queued one (FIFO);
* the pool timeout is kept by the event loop's one deadline timer
  (``textflow._http.timers``), which wakes the waiter itself (``Waiter.expire``): no
  timer and no cancel scope of its own;
* a waiter cancelled while queued leaves the queue (lazily: it is skipped when reached,
  and the queue is compacted when most of it is such); a slot handed to a task that is
  cancelled in the same tick, before it ran, is passed on to the next waiter, never lost.

A gate belongs to one event loop (the transport makes one per loop). Public APIs only:
asyncio futures; trio's ``lowlevel.wait_task_rescheduled`` and ``reschedule``.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Any, Optional

from textflow._http import loops, timers

WAITING, GRANTED, TIMED_OUT, GONE = range(4)

#: Dead entries (timed out, cancelled) kept in the queue before it is compacted.
_COMPACT_AFTER = 64


class Waiter:
    """One queued request: ``timers.Expiring`` (its pool-timeout deadline) and how to wake it."""

    __slots__ = ("_wake", "deadline", "gate", "state")

    def __init__(self, gate: AsyncGate, deadline: float, wake: Any) -> None:
        self.gate = gate
        self.deadline = deadline
        self.state = WAITING
        self._wake = wake  # asyncio: the future awaited; trio: the task

    def grant(self) -> bool:
        """Hand this waiter the slot; False when it can no longer take one."""
        wake = self._wake
        if isinstance(wake, asyncio.Future):
            if wake.done():  # cancelled: its task will find it GONE
                self.state = GONE
                return False
            try:
                wake.set_result(None)
            except RuntimeError:  # its loop was closed with it queued: it never runs again
                self.state = GONE
                return False
            self.state = GRANTED
            return True
        import trio

        self.state = GRANTED
        trio.lowlevel.reschedule(wake)
        return True

    def expire(self) -> None:
        """The pool timeout passed (called by the loop's deadline timer)."""
        if self.state != WAITING:
            return
        wake = self._wake
        if isinstance(wake, asyncio.Future):
            if wake.done():
                return  # cancelled meanwhile: its task leaves the queue itself
            wake.set_result(None)
        else:
            import trio

            trio.lowlevel.reschedule(wake)
        self.state = TIMED_OUT
        self.gate.dead += 1

    def abort(self, raise_cancel: Any) -> Any:
        """trio: the task is cancelled while parked (neither granted nor timed out yet)."""
        import trio

        self.state = GONE
        self.gate._left()
        return trio.lowlevel.Abort.SUCCEEDED


class AsyncGate:
    """``slots`` requests at a time; the others wait in order (see the module's docstring).

    A slot is taken with ``take_nowait`` (the fast path: an attribute test) or ``wait``,
    and goes back with ``release``.
    """

    __slots__ = ("_keeper", "_waiters", "dead", "free")

    def __init__(self, slots: int) -> None:
        self.free = slots
        self.dead = 0  # entries of _waiters no longer waiting
        self._waiters: deque[Waiter] = deque()
        self._keeper: Optional[timers.Keeper] = None  # its loop's, looked up once

    def rebind(self) -> None:
        """To be used in another event loop: look its deadline timer up anew."""
        self._keeper = None

    def take_nowait(self) -> bool:
        """Take a free slot if there is one (a free slot means nobody is queued)."""
        if self.free:
            self.free -= 1
            return True
        return False

    def waiting(self) -> int:
        """How many requests are queued."""
        return len(self._waiters) - self.dead

    async def wait(self, timeout: Optional[float]) -> bool:
        """Wait in line for a slot, at most ``timeout`` seconds (``None``: until one comes
        or the task is cancelled); False when the timeout passed first (no slot taken)."""
        if self.free:  # freed since the caller looked
            self.free -= 1
            return True
        loop = loops.asyncio_loop()  # None: anyio's other backend, trio (maybe as a guest)
        if loop is not None:
            future = loop.create_future()
            waiter = Waiter(self, math.inf if timeout is None else loop.time() + timeout, future)
        else:
            import trio

            deadline = math.inf if timeout is None else trio.current_time() + timeout
            waiter = Waiter(self, deadline, trio.lowlevel.current_task())
        self._waiters.append(waiter)
        keeper = None
        try:  # from here on, whatever fails leaves the line as a cancelled wait would
            if timeout is not None:
                keeper = self._keeper
                if keeper is None:
                    keeper = self._keeper = timers.keeper()
                keeper.add(waiter)
            if loop is not None:
                await future
            else:
                await trio.lowlevel.wait_task_rescheduled(waiter.abort)
        except BaseException:
            if waiter.state == GRANTED:  # handed the slot as it was cancelled: pass it on
                self.release()
            elif waiter.state == WAITING:
                waiter.state = GONE
                self._left()
            raise
        finally:
            if keeper is not None:
                keeper.remove(waiter)
        return waiter.state == GRANTED

    def _left(self) -> None:
        """A waiter left the queue before its turn: compact the queue when mostly such."""
        self.dead += 1
        if self.dead > _COMPACT_AFTER and self.dead * 2 > len(self._waiters):
            self._waiters = deque(w for w in self._waiters if w.state == WAITING)
            self.dead = 0

    def release(self) -> None:
        """A slot goes back: to the first waiter still waiting, else to the free ones."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if waiter.state == WAITING:
                if waiter.grant():
                    return
            else:
                self.dead -= 1
        self.free += 1
