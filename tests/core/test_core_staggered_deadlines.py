"""The loop's one deadline timer (``textflow._http.timers``) with staggered deadlines:
each call is cut at its own deadline, in order, never before it, and never after it
ended; firing does not look at every running call each time (it did: O(n^2) with
many calls of different timeouts).
"""

from __future__ import annotations

import asyncio
import random
from typing import Callable

import anyio
import pytest

from textflow._http import timers

pytestmark = pytest.mark.anyio

GUARD = 20.0  # seconds before a call never cut fails the test instead of hanging it


class Call:
    """A running call whose deadline reads are counted."""

    reads = 0

    def __init__(self, deadline: float, clock: Callable[[], float], cut: list[Call]) -> None:
        self._deadline = deadline
        self.clock = clock
        self.cut = cut
        self.cut_at = -1.0

    @property
    def deadline(self) -> float:
        Call.reads += 1
        return self._deadline

    def expire(self) -> None:
        self.cut_at = self.clock()
        self.cut.append(self)


def loop_clock() -> Callable[[], float]:
    try:
        return asyncio.get_running_loop().time
    except RuntimeError:
        import trio

        return trio.current_time


@pytest.mark.parametrize("seed", range(2))
async def test_staggered_deadlines_cut_each_call_in_order_at_its_own(seed: int) -> None:
    rand = random.Random(seed)
    clock = loop_clock()
    cut: list[Call] = []
    now = clock()
    calls = [Call(now + rand.uniform(0.0, 0.2), clock, cut) for _ in range(400)]
    for call in calls:
        timers.start(call)
    ended = set(rand.sample(range(len(calls)), k=150))
    for index in sorted(ended, key=lambda i: rand.random()):
        timers.stop(calls[index])  # over before its deadline: never cut
    Call.reads = 0
    expected = [call for index, call in enumerate(calls) if index not in ended]
    with anyio.fail_after(GUARD):
        while len(cut) < len(expected):
            await anyio.sleep(0.01)
    assert set(cut) == set(expected), "every running call is cut, none that ended"
    assert [call._deadline for call in cut] == sorted(call._deadline for call in expected)
    assert all(call.cut_at >= call._deadline for call in cut), "none before its deadline"
    assert Call.reads < len(expected), "firing does not read every running call's deadline"
    assert not timers.keeper().calls


async def test_a_call_started_again_is_cut_at_its_new_deadline_only() -> None:
    clock = loop_clock()
    cut: list[Call] = []
    call = Call(clock() + 0.01, clock, cut)
    timers.start(call)
    timers.stop(call)
    call._deadline = clock() + 0.2  # the same object, started again later
    timers.start(call)
    with anyio.fail_after(GUARD):
        while not cut:
            await anyio.sleep(0.01)
    assert cut == [call]
    assert call.cut_at >= call._deadline, "not at its first, ended deadline"
    assert not timers.keeper().calls
