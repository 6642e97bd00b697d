"""The async transport's gate: as many requests inside as there are connections, the rest
queued in order of arrival.

Over ``anyio.Semaphore`` (an event per waiter, set on release, then the woken task takes
the slot again) and a cancel scope per wait (to cut it at the pool timeout), a wait here
costs one future (asyncio) or one reschedule (trio) and nothing else:

* ``release`` hands the slot straight to the first waiter still waiting, with what the
  releaser gives back (``slot``: the transport's shard, so the woken request looks no
  shard up): nobody races for it, nobody takes it again, and no later arrival overtakes
  a queued one (FIFO);
* the waiter's task parks in its own frame (``await waiter.parked``: the future, or
  trio's wait), so a wake-up resumes no coroutine of the gate's;
* the pool timeout is kept by the event loop's one deadline timer
  (``textflow._http.timers``), without an entry per wait: waiters whose deadlines come
  in order of arrival (all of a client's: one pool timeout) are kept by the gate's one
  entry, set at or before the earliest of theirs (``AsyncGate.expire`` wakes those due
  and sets it for the next); a waiter with a shorter timeout than one before it gets an
  entry of its own (``Waiter.expire``). No timer and no cancel scope per wait;
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
    """One queued request: how to wake it, its pool-timeout deadline, and what it was
    handed (``slot``: what the releaser gave back, passed on as it is). Its task awaits
    ``parked`` in its own frame: a wake-up resumes no coroutine of the gate's."""

    __slots__ = ("_future", "_wake", "deadline", "gate", "own_timer", "parked", "slot", "state")

    def __init__(self, gate: AsyncGate, deadline: float, wake: Any, future: bool) -> None:
        self.gate = gate
        self.deadline = deadline
        self.state = WAITING
        self.slot: Any = None
        self.own_timer = False  # kept by the loop's timer itself, not by the gate's
        self._wake = wake  # asyncio: the future awaited; trio: the task
        self._future = future  # (asyncio: no isinstance() per look)
        if future:
            self.parked: Any = wake
        else:
            import trio

            self.parked = trio.lowlevel.wait_task_rescheduled(self.abort)

    def expire(self) -> None:
        """The pool timeout passed (called by the loop's deadline timer, or the gate's)."""
        if self.state != WAITING:
            return
        wake = self._wake
        if self._future:
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

    A slot is taken with ``take_nowait`` (the fast path: an attribute test) or in line
    (``enqueue``, then ``await`` its ``parked``, ``leave`` if that fails; ``wait`` does the
    three), and goes back with ``release``.
    """

    GRANTED = GRANTED  # (for the transport, which imports this module late)

    __slots__ = ("_keeper", "_last", "_loop", "_timed", "dead", "deadline", "free", "waiters")

    def __init__(self, slots: int) -> None:
        self.free = slots
        self.dead = 0  # entries of waiters no longer waiting
        self.waiters: deque[Waiter] = deque()  # in order of arrival, with the dead ones
        self._keeper: Optional[timers.Keeper] = None  # its loop's, looked up once
        self._loop: Optional[asyncio.AbstractEventLoop] = None  # (with it) None: trio
        # The gate's own entry in the loop's timer (``expire``), for the waiters whose
        # deadlines come in order of arrival (every one of a client, whose pool timeout is
        # one): ``deadline`` is at or before the earliest of theirs, ``_last`` the latest.
        self.deadline = math.inf
        self._timed = False
        self._last = -math.inf

    def rebind(self) -> None:
        """To be used in another event loop: look its deadline timer and kind up anew."""
        self._keeper = None
        self._loop = None
        self._timed = False  # its entry, if any, is in the other loop's timer
        self._last = -math.inf  # (and trio's clock is not asyncio's)

    def take_nowait(self) -> bool:
        """Take a free slot if there is one (a free slot means nobody is queued)."""
        if self.free:
            self.free -= 1
            return True
        return False

    def waiting(self) -> int:
        """How many requests are queued."""
        return len(self.waiters) - self.dead

    async def wait(self, timeout: Optional[float]) -> bool:
        """Wait in line for a slot, at most ``timeout`` seconds (``None``: until one comes
        or the task is cancelled); False when the timeout passed first (no slot taken).
        The slot comes with what its releaser handed over, lost here: the transport
        queues with ``enqueue`` itself, to have it."""
        waiter = self.enqueue(timeout)
        if waiter is None:
            return True
        try:
            await waiter.parked
        except BaseException:
            if self.leave(waiter):
                self.release()
            raise
        return self.settled(waiter)

    def enqueue(self, timeout: Optional[float]) -> Optional[Waiter]:
        """Queue for a slot, at most ``timeout`` seconds; ``None`` if one came free since
        the caller looked (taken). Await the waiter, then ``settled``; ``leave`` if the
        await fails."""
        if self.free:  # freed since the caller looked
            self.free -= 1
            return None
        keeper = self._keeper
        if keeper is None:  # the first wait in this loop: its timer, and whose loop it is
            keeper = timers.keeper()
            self._loop = loops.asyncio_loop()  # None: trio (maybe as a guest), anyio's other
            self._keeper = keeper
        loop = self._loop
        if loop is not None:
            wake: Any = loop.create_future()
            deadline = math.inf if timeout is None else loop.time() + timeout
        else:
            import trio

            wake = trio.lowlevel.current_task()
            deadline = math.inf if timeout is None else trio.current_time() + timeout
        waiter = Waiter(self, deadline, wake, loop is not None)
        if deadline != math.inf:
            try:
                if deadline >= self._last:  # in order: the gate's entry keeps it
                    self._last = deadline
                    if not self._timed:
                        self.deadline = deadline
                        keeper.add(self)
                        self._timed = True
                else:  # a shorter pool timeout than a waiter's before it: its own entry
                    keeper.add(waiter)
                    waiter.own_timer = True
            except BaseException:
                if loop is None:
                    waiter.parked.close()  # (trio's wait, never to be awaited)
                raise
        self.waiters.append(waiter)
        return waiter

    def settled(self, waiter: Waiter) -> bool:
        """After a wait that returned: whether it got the slot (else its timeout passed)."""
        if waiter.own_timer:
            self._untime(waiter)
        return waiter.state == GRANTED

    def leave(self, waiter: Waiter) -> bool:
        """The wait failed (cancelled): the waiter leaves the line. True when it had been
        handed the slot already (in the same tick): the caller passes it on, ``slot`` with it."""
        if waiter.own_timer:
            self._untime(waiter)
        if waiter.state == GRANTED:
            return True
        if waiter.state == WAITING:
            waiter.state = GONE
            self._left()
        return False

    def _untime(self, waiter: Waiter) -> None:
        waiter.own_timer = False
        if self._keeper is not None:
            self._keeper.remove(waiter)

    def expire(self) -> None:
        """The gate's entry in the loop's timer fired: the waiters in order whose pool
        timeout passed are woken as timed out, and the entry is set for the next one."""
        self._timed = False
        keeper = self._keeper
        if keeper is None:
            return
        now = keeper.now()
        for waiter in self.waiters:  # (expiring one does not change the queue)
            if waiter.state != WAITING or waiter.own_timer or waiter.deadline == math.inf:
                continue
            if waiter.deadline > now:
                self.deadline = waiter.deadline
                keeper.add(self)
                self._timed = True
                return
            waiter.expire()

    def _left(self) -> None:
        """A waiter left the queue before its turn: compact the queue when mostly such."""
        self.dead += 1
        if self.dead > _COMPACT_AFTER and self.dead * 2 > len(self.waiters):
            self.waiters = deque(w for w in self.waiters if w.state == WAITING)
            self.dead = 0

    def release(self, slot: Any = None) -> bool:
        """A slot goes back: to the first waiter still waiting, with ``slot`` (True), else
        to the free ones (False)."""
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if waiter.state != WAITING:
                self.dead -= 1
                continue
            if waiter._future:
                try:
                    waiter._wake.set_result(None)
                except (asyncio.InvalidStateError, RuntimeError):
                    waiter.state = GONE  # its future was cancelled, or its loop closed
                    continue  # with it queued (it never runs again): the next one
            else:
                import trio

                trio.lowlevel.reschedule(waiter._wake)
            waiter.state = GRANTED
            waiter.slot = slot
            if not waiters:  # nobody is queued now: the order of deadlines starts again
                self._last = -math.inf  # (a shorter timeout than one gone is in order)
                if self._timed:
                    self._quiet()
            return True
        self._last = -math.inf
        if self._timed:
            self._quiet()
        self.free += 1
        return False

    def _quiet(self) -> None:
        """Nobody is queued: the gate's entry leaves the loop's timer."""
        self._timed = False
        if self._keeper is not None:
            self._keeper.remove(self)
