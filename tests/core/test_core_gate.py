"""The async transport's gate (``textflow._http.gate``): slots handed over in order,
never lost or doubled, whatever cancels or times out a wait, on asyncio and trio.

The storm is seeded and bounded (a fixed number of tasks and rounds, cancellations at
checkpoints chosen at random); every test ends by checking the gate is whole again:
every slot free, nobody queued, nothing left in the loop's deadline timer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from textflow._http import timers
from textflow._http.gate import AsyncGate

pytestmark = pytest.mark.anyio

GUARD = 20.0  # seconds before a slot that was lost fails the test instead of hanging it


def assert_whole(gate: AsyncGate, slots: int) -> None:
    assert gate.free == slots, "every slot is back"
    assert gate.waiting() == 0, "nobody is left queued"
    assert not timers.keeper().calls, "no wait is left in the loop's deadline timer"


async def queue_up(gate: AsyncGate, timeout: float | None, got: list[bool]) -> None:
    got.append(await gate.wait(timeout))


async def test_waiters_get_the_slot_in_order_of_arrival_and_latecomers_do_not_overtake() -> None:
    gate = AsyncGate(1)
    assert gate.take_nowait()
    order: list[int] = []

    async def waiter(number: int) -> None:
        assert await gate.wait(None)
        order.append(number)

    async with anyio.create_task_group() as group:
        for number in range(10):
            group.start_soon(waiter, number)
            await anyio.wait_all_tasks_blocked()  # queued before the next one starts
        assert gate.waiting() == 10
        for _ in range(10):
            gate.release()  # handed to the first in line, not put back as free
            assert not gate.take_nowait(), "a latecomer cannot take a slot handed on"
            await anyio.wait_all_tasks_blocked()
    assert order == list(range(10))
    gate.release()
    assert_whole(gate, 1)


async def test_waiters_cancelled_while_queued_leave_the_line_and_the_rest_keep_their_order() -> (
    None
):
    gate = AsyncGate(1)
    assert gate.take_nowait()
    order: list[int] = []
    scopes: list[anyio.CancelScope] = []

    async def waiter(number: int) -> None:
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            if await gate.wait(None):
                order.append(number)
                gate.release()

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as group:
            for number in range(200):
                group.start_soon(waiter, number)
                await anyio.wait_all_tasks_blocked()
            for number, scope in enumerate(scopes):
                if number % 4:
                    scope.cancel()
            await anyio.wait_all_tasks_blocked()
            assert gate.waiting() == 50
            gate.release()
    assert order == list(range(0, 200, 4))
    assert_whole(gate, 1)


async def test_a_wait_past_its_pool_timeout_takes_no_slot_and_leaves_the_queue() -> None:
    gate = AsyncGate(1)
    assert gate.take_nowait()
    got: list[bool] = []
    started = anyio.current_time()
    await queue_up(gate, 0.05, got)
    assert anyio.current_time() - started >= 0.05  # a lower bound: cut at, not before
    assert got == [False]
    assert gate.waiting() == 0
    gate.release()  # the slot it never took is still the holder's
    assert_whole(gate, 1)


async def test_a_timeout_and_a_release_in_the_same_tick_lose_no_slot() -> None:
    """Whichever comes first wins; the other finds the wait over."""
    for release_first in (True, False):
        gate = AsyncGate(1)
        assert gate.take_nowait()
        got: list[bool] = []
        async with anyio.create_task_group() as group:
            group.start_soon(queue_up, gate, 60.0, got)
            await anyio.wait_all_tasks_blocked()
            # the loop's timer holds the gate's entry, which expires the waiters in order
            assert set(timers.keeper().calls) == {gate}
            (waiter,) = gate.waiters
            if release_first:
                gate.release()
                waiter.expire()
            else:
                waiter.expire()
                gate.release()
        assert got == [release_first]
        if release_first:
            gate.release()  # the waiter's slot
        assert_whole(gate, 1)


# asyncio only: the test queues from its own task and wakes it by hand (trio reschedules
# only a task that is parked).
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_gates_timer_entry_and_a_release_in_the_same_tick_lose_no_slot() -> None:
    """The gate's one entry in the loop's timer (waiters in order) fires in the tick of a
    release: whichever comes first wins; the other finds the wait over."""
    for release_first in (True, False):
        gate = AsyncGate(1)
        assert gate.take_nowait()
        waiter = gate.enqueue(0.0)  # due at once; the loop's timer has not run yet
        assert waiter is not None
        keeper = timers.keeper()
        assert set(keeper.calls) == {gate}

        if release_first:
            assert gate.release()
            keeper.remove(gate)  # the timer fires, as the loop's does: the entry leaves,
            gate.expire()  # then expires the waiters due
        else:
            keeper.remove(gate)
            gate.expire()
            assert not gate.release(), "the slot went back to the free ones"
        await waiter.parked
        assert gate.settled(waiter) is release_first
        if release_first:
            gate.release()  # the waiter's slot
        assert_whole(gate, 1)


async def test_a_slot_handed_to_a_task_cancelled_in_the_same_tick_goes_to_the_next() -> None:
    gate = AsyncGate(1)
    assert gate.take_nowait()
    got: list[bool] = []

    async def cancelled_waiter(*, task_status: TaskStatus[anyio.CancelScope]) -> None:
        with anyio.CancelScope() as scope:
            task_status.started(scope)
            if await gate.wait(None):
                try:  # trio wakes it with the slot: cancelled at its next checkpoint
                    await anyio.sleep(0)
                finally:
                    gate.release()

    async with anyio.create_task_group() as group:
        scope = await group.start(cancelled_waiter)
        await anyio.wait_all_tasks_blocked()
        group.start_soon(queue_up, gate, None, got)
        await anyio.wait_all_tasks_blocked()
        gate.release()  # to the first waiter ...
        scope.cancel()  # ... cancelled before it ran
    assert got == [True], "the next waiter got the slot"
    gate.release()
    assert_whole(gate, 1)


@pytest.mark.parametrize("seed", range(3))
async def test_a_cancellation_storm_neither_loses_nor_doubles_a_slot(seed: int) -> None:
    slots, tasks, rounds = 5, 120, 4
    rand = random.Random(seed)
    gate = AsyncGate(slots)
    in_use = [0, 0]  # now, most ever
    scopes: list[anyio.CancelScope] = []

    async def user() -> None:
        for _ in range(rounds):
            with anyio.CancelScope() as scope:
                scopes.append(scope)
                timeout = rand.choice([None, None, 0.0, 0.001, 0.01])
                if not gate.take_nowait() and not await gate.wait(timeout):
                    continue
                try:
                    in_use[0] += 1
                    in_use[1] = max(in_use)
                    assert in_use[0] <= slots
                    for _ in range(rand.randrange(3)):
                        await anyio.sleep(0)
                finally:
                    in_use[0] -= 1
                    gate.release()

    async def storm() -> None:
        """Holds a slot now and then, and cancels a user in the tick it lets the slot go
        (the first in line, handed the slot, may be the one cancelled)."""
        for _ in range(tasks * rounds // 2):
            if rand.random() < 0.5 and (gate.take_nowait() or await gate.wait(None)):
                in_use[0] += 1
                in_use[1] = max(in_use)
                await anyio.sleep(0)
                in_use[0] -= 1
                gate.release()
            if scopes:
                rand.choice(scopes).cancel()
            await anyio.sleep(0)

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as group:
            for _ in range(tasks):
                group.start_soon(user)
            group.start_soon(storm)
    assert in_use[0] == 0
    assert in_use[1] <= slots, "never more inside than there are slots"
    assert_whole(gate, slots)


# asyncio only: a native ``Task.cancel()`` lands on a task whose wait was just granted (anyio's
# scopes, and trio, wake such a task with its slot and cancel it at its next checkpoint,
# which the tests above cover on both backends).
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_native_cancel_in_the_tick_of_the_grant_passes_the_slot_on() -> None:
    import asyncio

    gate = AsyncGate(1)
    assert gate.take_nowait()
    first = asyncio.ensure_future(gate.wait(None))
    second = asyncio.ensure_future(gate.wait(None))
    await anyio.wait_all_tasks_blocked()
    gate.release()  # granted to the first ...
    first.cancel()  # ... cancelled before it ran: the slot goes on to the second
    with anyio.fail_after(GUARD):
        assert await second
    with pytest.raises(asyncio.CancelledError):
        await first
    gate.release()
    assert_whole(gate, 1)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("seed", range(3))
async def test_a_storm_of_native_cancels_neither_loses_nor_doubles_a_slot(seed: int) -> None:
    """Plain ``Task.cancel()`` (``asyncio.wait_for``, ``TaskGroup``, a web framework's
    disconnect) at random points: while queued, in the tick of a grant or of a timeout."""
    import asyncio

    slots, users, rounds = 4, 80, 4
    rand = random.Random(seed)
    gate = AsyncGate(slots)
    in_use = [0, 0]
    running: set[asyncio.Task[None]] = set()

    async def one_round() -> None:
        if not gate.take_nowait() and not await gate.wait(rand.choice([None, 0.0, 0.001])):
            return
        try:
            in_use[0] += 1
            in_use[1] = max(in_use)
            for _ in range(rand.randrange(3)):
                await asyncio.sleep(0)
        finally:
            in_use[0] -= 1
            gate.release()

    for _ in range(rounds):
        running.update(asyncio.ensure_future(one_round()) for _ in range(users))
        for _ in range(users):
            await asyncio.sleep(0)
            for task in rand.sample(sorted(running, key=id), k=min(3, len(running))):
                task.cancel()
            running = {task for task in running if not task.done()}
        with anyio.fail_after(GUARD):
            await asyncio.gather(*running, return_exceptions=True)
        running.clear()
    assert in_use[0] == 0
    assert in_use[1] <= slots
    assert_whole(gate, slots)


def test_a_release_after_the_waiters_loop_was_closed_unrun_loses_no_slot() -> None:
    """A loop closed with waiters still queued (``loop.close()`` without cancelling its
    tasks, as ``asyncio.run`` would): a slot given back later, from elsewhere (a body
    closed in the next loop), cannot wake them; it goes to the free ones, no error."""
    gate = AsyncGate(1)
    assert gate.take_nowait()
    loop = asyncio.new_event_loop()

    async def queue_by_hand() -> list[Coroutine[Any, Any, bool]]:
        waits = [gate.wait(None) for _ in range(3)]
        for wait in waits:  # each parks on its future, as under a task that never runs again
            future = wait.send(None)
            future.add_done_callback(lambda _: None)  # as its task's wake-up would be
        return waits

    try:
        waits = loop.run_until_complete(queue_by_hand())
        assert gate.waiting() == 3
    finally:
        loop.close()
    gate.release()
    assert gate.free == 1
    assert gate.take_nowait()
    for wait in waits:
        wait.close()


async def test_a_wait_that_fails_to_start_its_timer_leaves_the_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The loop's timer cannot be set (a run shutting down refuses a new system task):
    the wait fails, and a slot given back later goes to the free ones, not to it."""

    def refused() -> timers.Keeper:
        raise RuntimeError("the run is shutting down")

    gate = AsyncGate(1)
    assert gate.take_nowait()
    monkeypatch.setattr(timers, "keeper", refused)
    with pytest.raises(RuntimeError):
        await gate.wait(1.0)
    assert gate.waiting() == 0
    monkeypatch.undo()
    gate.release()
    assert_whole(gate, 1)
