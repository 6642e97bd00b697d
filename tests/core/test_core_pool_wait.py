"""Sends queued at the async gate past the pool timeout: cut by the loop's one timer.

A queued wait schedules no timer of its own (``textflow._http.timers`` ends it); the
promise is unchanged: every wait past the pool timeout fails as ``httpx.PoolTimeout``
(not sent), and the slots are exactly as many as before, none lost, none gained.
"""

from __future__ import annotations

import asyncio
import gc
import socket
from typing import Callable

import anyio
import httpx
import pytest

from textflow._http import timers
from textflow._http.transport import AsyncTextFlowTransport

from tests.core.core_support import ok_sms
from tests.core.hostile_support import Answer, RawServer, json_answer

pytestmark = pytest.mark.anyio

SLOTS = 2
QUEUED = 20


def held_then_answered(holds: int) -> Answer:
    """The first ``holds`` requests get headers at once and never a body: each holds its
    slot; the others an answer."""

    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        if number <= holds:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
            return True
        conn.sendall(json_answer(ok_sms()))
        return True

    return answer


async def test_queued_waits_past_the_pool_timeout_fail_and_leave_the_slots_as_they_were(
    hostile: Callable[[Answer], RawServer],
) -> None:
    server = hostile(held_then_answered(SLOTS))
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=SLOTS))
    timeout = httpx.Timeout(5.0, pool=0.2)
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
        held = [
            await client.send(client.build_request("GET", server.base_url), stream=True)
            for _ in range(SLOTS)
        ]
        failures: list[BaseException] = []

        async def queued() -> None:
            try:
                await client.get(server.base_url)
            except httpx.PoolTimeout as exc:
                failures.append(exc)

        async with anyio.create_task_group() as group:
            for _ in range(QUEUED):
                group.start_soon(queued)
        assert len(failures) == QUEUED, "every queued wait ended as a pool timeout"
        with pytest.raises(httpx.PoolTimeout):  # none of them gave back a slot it never took
            await client.get(server.base_url)
        for response in held:
            await response.aclose()
        answers: list[int] = []

        async def send() -> None:
            answers.append((await client.get(server.base_url)).status_code)

        async with anyio.create_task_group() as group:  # and none took one for good
            for _ in range(SLOTS * 3):
                group.start_soon(send)
        assert answers == [200] * (SLOTS * 3)
        assert not timers.keeper().calls, "no wait at the gate is left in the loop's timer"


async def test_a_wait_that_got_its_slot_is_not_cut_later_by_the_timer(
    hostile: Callable[[Answer], RawServer],
) -> None:
    """The first wait's deadline stays armed in the loop's timer after it got its slot:
    firing then must cut nothing of the send that waited (nor a later one), as it would
    if the wait's cut outlived the wait (a scope shared past the gate)."""
    server = hostile(held_then_answered(1))
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=1))
    timeout = httpx.Timeout(5.0, pool=0.3)
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
        held = await client.send(client.build_request("GET", server.base_url), stream=True)
        done: list[int] = []

        async def queued() -> None:
            done.append((await client.get(server.base_url)).status_code)

        async with anyio.create_task_group() as group:
            group.start_soon(queued)
            await anyio.sleep(0.05)  # queued behind the held slot, its timer armed
            await held.aclose()
        await anyio.sleep(0.4)  # past the first wait's deadline: the timer has fired
        assert done == [200]
        assert (await client.get(server.base_url)).status_code == 200


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])  # each run is started here
def test_a_run_that_ends_with_sends_queued_leaves_the_next_run_a_whole_gate(
    hostile: Callable[[Answer], RawServer], anyio_backend: str
) -> None:
    """The first run ends with every slot held and sends queued at the gate (asyncio:
    ``asyncio.run`` cancels the tasks it finds left; trio: their nursery is cancelled).
    The next run has every slot, and a send queued there gets one."""
    server = hostile(held_then_answered(SLOTS))
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=SLOTS))
    client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, pool=60.0))

    held: list[httpx.Response] = []  # kept: a body dropped unclosed gives its slot back

    async def hold_all() -> None:
        for _ in range(SLOTS):  # never closed: the run ends holding them
            request = client.build_request("GET", server.base_url)
            held.append(await client.send(request, stream=True))

    async def asyncio_run_left_queued() -> None:
        await hold_all()
        left = [asyncio.ensure_future(client.get(server.base_url)) for _ in range(QUEUED)]
        await anyio.wait_all_tasks_blocked()
        assert not [task.exception() for task in left if task.done()]  # queued as the run ends

    async def trio_run_cancelled_queued() -> None:
        await hold_all()
        async with anyio.create_task_group() as group:
            for _ in range(QUEUED):
                group.start_soon(client.get, server.base_url)
            await anyio.wait_all_tasks_blocked()
            group.cancel_scope.cancel()

    async def next_run() -> list[int]:
        answers: list[int] = []

        async def send() -> None:
            answers.append((await client.get(server.base_url)).status_code)

        with anyio.fail_after(30):  # a guard against a lost slot, not a measure
            async with anyio.create_task_group() as group:
                for _ in range(SLOTS * 3):  # more than the slots: some wait at the gate
                    group.start_soon(send)
        await client.aclose()
        return answers

    if anyio_backend == "asyncio":
        asyncio.run(asyncio_run_left_queued())
    else:
        anyio.run(trio_run_cancelled_queued, backend="trio")
    assert anyio.run(next_run, backend=anyio_backend) == [200] * (SLOTS * 3)


async def test_slots_of_bodies_dropped_unclosed_reach_the_queue_within_as_many_arrivals(
    hostile: Callable[[Answer], RawServer],
) -> None:
    """With sends already queued, the look for bodies dropped unclosed is made once every
    as many arrivals as there are shards in use, not by each (``Pools.reclaim``): the
    queued sends and the newcomers all get a slot, in order, within that many."""
    server = hostile(held_then_answered(SLOTS))
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=SLOTS))
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0)) as client:
        held = [
            await client.send(client.build_request("GET", server.base_url), stream=True)
            for _ in range(SLOTS)
        ]
        answers: list[int] = []

        async def send() -> None:
            answers.append((await client.get(server.base_url)).status_code)

        with anyio.fail_after(30):  # a guard against a slot never given back
            async with anyio.create_task_group() as group:
                group.start_soon(send)  # the first at the full gate: finds nothing dropped
                await anyio.wait_all_tasks_blocked()
                del held[:]  # dropped unclosed, while a send waits
                gc.collect()
                for _ in range(SLOTS):
                    group.start_soon(send)
                    await anyio.wait_all_tasks_blocked()
        assert answers == [200] * (SLOTS + 1)


async def test_a_slot_given_back_after_the_transport_was_closed_and_used_again_counts_once(
    hostile: Callable[[Answer], RawServer],
) -> None:
    """A response still open as its transport is closed, then the transport used again,
    then the response closed: its slot goes back once, and the gate never lets in more
    requests than there are connections (one more found no shard: ``IndexError``)."""
    server = hostile(held_then_answered(0))
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=SLOTS))
    client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0))
    open_one = await client.send(client.build_request("GET", server.base_url), stream=True)
    await transport.aclose()
    assert (await client.get(server.base_url)).status_code == 200
    await open_one.aclose()
    answers: list[int] = []

    async def send() -> None:
        answers.append((await client.get(server.base_url)).status_code)

    with anyio.fail_after(30):  # a guard, not a measure
        async with anyio.create_task_group() as group:
            for _ in range(SLOTS * 3):
                group.start_soon(send)
    await client.aclose()
    assert answers == [200] * (SLOTS * 3)
