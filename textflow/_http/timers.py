"""One timer per event loop for the deadlines of all the async calls running in it.

``anyio.fail_after`` schedules a timer for each call (asyncio: a ``TimerHandle`` in
the loop's heap; trio: an entry in the run's deadline heap) and cancels it as the
call ends; a cancelled timer stays in that heap until the loop next turns. A loop
that never yields (sends over ``httpx.MockTransport`` in a tight loop) kept one per
call, ~200 bytes each, for ever. Here each call's scope has no deadline of its own:
``DeadlineTimer.start`` notes it, and one timer per loop, set for the earliest
deadline, cancels the scopes whose deadline has passed. As every call of a client
has the same timeout, a later call's deadline is later than the timer's, and a call
schedules nothing. Public APIs only: ``anyio.lowlevel.RunVar`` (one keeper per
loop), asyncio's ``loop.call_at``, trio's ``lowlevel.spawn_system_task``.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import weakref
from typing import Any, Optional, Protocol

from anyio.lowlevel import RunVar

from textflow._http.loops import asyncio_loop, trio_task


class Expiring(Protocol):
    @property
    def deadline(self) -> float:
        """When to cancel the call (loop time); read once, as it starts."""

    def expire(self) -> None:
        """The deadline passed: cancel the call."""


class Keeper:
    """The running calls of one event loop, and the one timer for the earliest deadline."""

    def __init__(self) -> None:
        self.calls: dict[Expiring, float] = {}  # running, with the deadline noted
        # Their deadlines in a heap, so that firing costs O(log n) per call that expired
        # (a scan of every running call each time was O(n^2) with staggered deadlines).
        # A call that ended stays in it until it reaches the top or the heap is mostly such.
        self._heap: list[tuple[float, int, Expiring]] = []
        self._ended = 0  # entries of the heap whose call is no longer running
        self._order = 0  # ties of deadlines, in order of arrival
        self.armed = math.inf  # when the timer fires
        # asyncio: the timer, weakly (the loop holds it; anyio's RunVar holds this keeper
        # weakly by the loop, which a strong reference back would keep for ever).
        self._handle: Optional[weakref.ReferenceType[asyncio.TimerHandle]] = None
        self._trio_scope: Any = None  # trio: the scope the timer task sleeps in
        self.trio = False  # the loop is trio's run
        if asyncio_loop() is None:  # trio, anyio's other backend
            import trio

            self.trio = True
            self._trio_scope = trio.CancelScope()
            trio.lowlevel.spawn_system_task(self._trio_timer, name="textflow deadlines")

    def add(self, call: Expiring) -> None:
        """Cancel ``call`` once its deadline has passed (``start``)."""
        deadline = call.deadline
        self.calls[call] = deadline
        self._order += 1
        heapq.heappush(self._heap, (deadline, self._order, call))
        if deadline < self.armed:
            self._arm(deadline)

    def remove(self, call: Expiring) -> None:
        """``call`` is over (``stop``)."""
        if self.calls.pop(call, None) is not None:
            heap = self._heap
            if heap[0][2] is call:  # the earliest (calls of one timeout end in order)
                heapq.heappop(heap)
                return
            self._ended += 1
            if self._ended > _COMPACT_AFTER and self._ended * 2 > len(self._heap):
                calls = self.calls
                self._heap = [entry for entry in self._heap if calls.get(entry[2]) == entry[0]]
                heapq.heapify(self._heap)
                self._ended = 0

    def _running(self, entry: tuple[float, int, Expiring]) -> bool:
        """Whether a heap entry is a running call's (not one that ended, nor an earlier
        start of a call started again)."""
        return self.calls.get(entry[2]) == entry[0]

    def _arm(self, when: float) -> None:
        self.armed = when
        if self._trio_scope is None:
            handle = None if self._handle is None else self._handle()
            if handle is not None:
                handle.cancel()
            self._handle = None
            if when != math.inf:
                self._handle = weakref.ref(asyncio.get_running_loop().call_at(when, self._fire))
        else:
            self._trio_scope.deadline = when

    def _fire(self) -> None:
        self._handle = None
        now = self.now()
        heap, calls = self._heap, self.calls
        due = []
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            if self._running(entry):
                del calls[entry[2]]
                due.append(entry[2])
            elif self._ended:
                self._ended -= 1
        while heap and not self._running(heap[0]):  # the timer is set for a running call
            heapq.heappop(heap)
            if self._ended:
                self._ended -= 1
        # the timer is set again before any call is cancelled: whatever a cancellation
        # does, the calls still running keep their deadline
        self.armed = math.inf
        if heap:
            self._arm(heap[0][0])
        for call in due:
            call.expire()

    def cancel_scope(self) -> Any:
        """A cancel scope of the loop's library: trio's own under trio (anyio's scope there
        wraps one, for ~18 function calls more per call), anyio's under asyncio."""
        if self._trio_scope is None:
            import anyio

            return anyio.CancelScope()
        import trio

        return trio.CancelScope()

    def now(self) -> float:
        """The loop's clock, as ``anyio.current_time()`` reads it. Not that one: asyncio runs
        ``_fire`` as a bare callback, outside any task, where anyio cannot tell which
        library runs it (and a call that has its keeper already knows)."""
        if self._trio_scope is None:
            return asyncio.get_running_loop().time()
        import trio

        return trio.current_time()

    async def _trio_timer(self) -> None:
        import trio

        while True:  # cancelled with the run's system tasks as it ends
            with self._trio_scope:
                await trio.sleep(math.inf)  # until the timer's scope is cancelled
            self._trio_scope = trio.CancelScope(deadline=math.inf)
            self._fire()


#: Entries of calls that ended kept in the heap before it is rebuilt without them.
_COMPACT_AFTER = 16

_KEEPER: RunVar[Keeper] = RunVar("textflow_deadlines")

#: The keeper last looked up, with a weak reference to its loop (asyncio) or run (trio's
#: token): a call looks its keeper up once or twice, and anyio's ``RunVar.get`` costs ~10
#: function calls each time (a tenth of what trio spent per send over asyncio). One entry,
#: replaced whenever another loop asks: it never grows, and holds no loop alive.
_LAST: Optional[tuple[weakref.ReferenceType[Any], Keeper]] = None


def _loop_or_run(trio_first: bool) -> Any:
    """The running asyncio loop, or trio's token of the running run. The library of the
    last lookup is asked first: asking the other one raises, which costs ~1 µs. (A trio
    guest run's token answers in its host asyncio loop's tasks too: sniffio tells.)"""
    if trio_first:
        import trio

        try:
            token = trio.lowlevel.current_trio_token()
        except RuntimeError:  # asyncio now
            return asyncio.get_running_loop()
        if trio_task():
            return token
        return asyncio.get_running_loop()  # the host loop of a trio guest run
    loop = asyncio_loop()
    if loop is None:  # trio, anyio's other backend (or its guest run on an asyncio loop)
        import trio

        return trio.lowlevel.current_trio_token()
    return loop


def keeper() -> Keeper:
    """The running event loop's keeper (made on first use), for a caller that starts and
    stops many calls in one loop (the gate) and would otherwise look it up each time."""
    global _LAST
    last = _LAST
    marker = _loop_or_run(last is not None and last[1].trio)
    if last is not None and last[0]() is marker:
        return last[1]
    try:
        found = _KEEPER.get()
    except LookupError:
        found = Keeper()
        _KEEPER.set(found)
    _LAST = (weakref.ref(marker), found)
    return found


def start(call: Expiring) -> None:
    """Cancel ``call`` (``call.expire()``) once ``call.deadline`` (loop time) has passed."""
    keeper().add(call)


def stop(call: Expiring) -> None:
    """``call`` is over: nothing to cancel. The timer stays: the next call may need it."""
    keeper().remove(call)
