"""Sends queued at the async transport's gate, through the transport: a slot given back
goes to the first in line with its shard (``Pools.release``), and the pool timeout is
kept by the gate's one entry in the loop's timer (in order) or a waiter's own (a
shorter timeout behind a longer one).

What must hold, on asyncio and trio: no slot lost or doubled under a storm of
cancellations with hundreds of sends queued, nothing sent twice, a send that timed out
in line never sent; the order of arrival kept; timeouts ended by the loop's timer in
order of their deadlines (event facts: which failed while which still waited); a stuck
connection handed over with its slot is never reused.
"""

from __future__ import annotations

import random
import socket
from functools import partial
from typing import Callable, Optional

import anyio
import httpx
import pytest

from textflow._http import timers
from textflow._http.async_connection import AsyncBody
from textflow._http.gate import Waiter
from textflow._http.transport import AsyncTextFlowTransport

from tests.core.core_support import ok_sms
from tests.core.hostile_support import Answer, RawServer, json_answer

pytestmark = pytest.mark.anyio

GUARD = 60  # seconds: a guard against a lost slot (a hang), not a measure


def held_then_answered(holds: int) -> Answer:
    """The first ``holds`` requests get headers and never a body (each holds its slot);
    every later one an answer."""

    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        if number <= holds:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
            return True
        conn.sendall(json_answer(ok_sms()))
        return True

    return answer


def assert_whole(transport: AsyncTextFlowTransport, slots: int) -> None:
    pools = transport._pools
    gate = pools.gate
    assert gate.free == slots, "every slot is back, none doubled"
    assert gate.waiting() == 0
    assert sorted(pools.free) == list(range(slots)), "every shard is back, once"
    left = [call for call in timers.keeper().calls if isinstance(call, Waiter) or call is gate]
    assert not left, "no wait is left in the loop's timer"


async def hold(client: httpx.AsyncClient, url: str, count: int) -> list[httpx.Response]:
    request = [client.build_request("POST", url, content=b"held") for _ in range(count)]
    return [await client.send(one, stream=True) for one in request]


@pytest.mark.parametrize("seed", [1, 2])
async def test_a_storm_of_cancellations_with_500_sends_queued_loses_no_slot_and_sends_none_twice(
    hostile: Callable[[Answer], RawServer], seed: int
) -> None:
    slots, crowd = 4, 500
    rand = random.Random(seed)
    server = hostile(held_then_answered(0))
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=slots))
    outcome: dict[bytes, str] = {}
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(GUARD)) as client:

        async def one(body: bytes, pool: Optional[float], scope: anyio.CancelScope) -> None:
            outcome[body] = "cancelled"
            with scope:
                try:
                    answer = await client.post(
                        server.base_url, content=body, timeout=httpx.Timeout(GUARD, pool=pool)
                    )
                except httpx.PoolTimeout:
                    outcome[body] = "timed out"
                else:
                    outcome[body] = f"answered {answer.status_code}"

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as group:
                scopes = []
                for number in range(crowd):
                    scope = anyio.CancelScope()
                    scopes.append(scope)
                    pool = rand.choice([None, None, GUARD, 0.0, 0.001])
                    group.start_soon(one, f"{number}".encode(), pool, scope)
                for _ in range(crowd // 4):  # cancelled queued, writing, reading, granted
                    for _ in range(rand.randrange(3)):
                        await anyio.sleep(0)
                    rand.choice(scopes).cancel()
        assert_whole(transport, slots)
        sent = list(server.requests)
        assert len(sent) == len(set(sent)), "nothing was sent twice"
        for body, how in outcome.items():
            if how == "answered 200":
                assert body in sent
            elif how == "timed out":
                assert body not in sent, "a send that timed out in line was never sent"
            else:
                assert how == "cancelled", how
        assert "answered 200" in outcome.values()
        # every slot works: more sends than slots, all answered
        answers: list[int] = []

        async def again() -> None:
            answers.append((await client.post(server.base_url, content=b"again")).status_code)

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as group:
                for _ in range(slots * 3):
                    group.start_soon(again)
        assert answers == [200] * (slots * 3)
        assert_whole(transport, slots)


async def test_queued_sends_reach_the_server_in_order_of_arrival(
    hostile: Callable[[Answer], RawServer],
) -> None:
    server = hostile(held_then_answered(1))
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=1))
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(GUARD)) as client:
        held = await hold(client, server.base_url, 1)
        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as group:
                for number in range(30):
                    group.start_soon(
                        partial(client.post, server.base_url, content=f"{number}".encode())
                    )
                    await anyio.wait_all_tasks_blocked()  # queued before the next comes
                assert transport._pools.gate.waiting() == 30
                await held[0].aclose()  # its slot goes to the first in line, and so on
        assert server.requests == [b"held"] + [f"{n}".encode() for n in range(30)]
        assert_whole(transport, 1)


async def test_pool_timeouts_end_the_waits_due_and_only_those(
    hostile: Callable[[Answer], RawServer],
) -> None:
    """In line: a wait without a pool timeout, two short ones (in order: the gate's entry
    in the loop's timer ends them), a long one, then a short one behind it (out of order:
    its own entry ends it). The three short ones fail, unsent, while the other two still
    wait (which the guard's minute would end otherwise); those two are then answered."""
    server = hostile(held_then_answered(1))
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=1))
    failed: list[str] = []
    answered: list[str] = []
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(GUARD)) as client:
        held = await hold(client, server.base_url, 1)

        async def queued(name: str, pool: Optional[float]) -> None:
            try:
                await client.post(
                    server.base_url, content=name.encode(), timeout=httpx.Timeout(GUARD, pool=pool)
                )
            except httpx.PoolTimeout:
                failed.append(name)
            else:
                answered.append(name)

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as group:
                for name, pool in [
                    ("none", None),
                    ("short 1", 0.05),
                    ("short 2", 0.05),
                    ("long", GUARD * 2),
                    ("short behind", 0.05),
                ]:
                    group.start_soon(queued, name, pool)
                    await anyio.wait_all_tasks_blocked()
                while len(failed) < 3:
                    await anyio.sleep(0.01)
                assert sorted(failed) == ["short 1", "short 2", "short behind"]
                assert not answered, "the others still wait"
                assert transport._pools.gate.waiting() == 2
                await held[0].aclose()
        assert answered == ["none", "long"]
        assert server.requests == [b"held", b"none", b"long"], "no wait that timed out was sent"
        assert_whole(transport, 1)


async def test_a_stuck_connection_handed_over_with_its_slot_is_not_reused(
    hostile: Callable[[Answer], RawServer],
) -> None:
    """A body given up without closing its connection (as an interrupt between two lines
    would leave it: neither idle nor closed) hands its slot to the first in line, with the
    shard: that send goes on a new connection, and the stuck one is closed."""
    server = hostile(held_then_answered(1))
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=1))
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(GUARD)) as client:
        (held,) = await hold(client, server.base_url, 1)
        stuck = transport._pools.shards[0].connection
        assert stuck is not None
        answers: list[int] = []

        async def queued() -> None:
            answers.append((await client.post(server.base_url, content=b"queued")).status_code)

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as group:
                group.start_soon(queued)
                await anyio.wait_all_tasks_blocked()
                assert stuck is not None
                assert not stuck.is_idle()
                assert not stuck.is_closed()
                body = transport._pools._lent[0]()  # the transport's body under httpx's
                assert isinstance(body, AsyncBody)
                body._over = True  # the interrupt's leftover: "already closed"
                await held.aclose()  # gives the slot back, the connection left mid-answer
        assert answers == [200]
        assert stuck.is_closed(), "the stuck connection was closed, not reused"
        assert server.connections == 2
        assert server.requests == [b"held", b"queued"]
        assert_whole(transport, 1)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_send_cancelled_in_the_tick_its_slot_came_passes_slot_and_shard_on(
    hostile: Callable[[Answer], RawServer],
) -> None:
    """asyncio's ``Task.cancel()`` lands on a queued send just handed the slot (and the
    releaser's shard), before it ran: the next in line gets both; the cancelled one was
    never sent."""
    import asyncio

    server = hostile(held_then_answered(1))
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=1))
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(GUARD)) as client:
        (held,) = await hold(client, server.base_url, 1)
        first = asyncio.ensure_future(client.post(server.base_url, content=b"first"))
        await anyio.wait_all_tasks_blocked()
        second = asyncio.ensure_future(client.post(server.base_url, content=b"second"))
        await anyio.wait_all_tasks_blocked()
        await held.aclose()  # the slot and its shard go to the first ...
        assert not first.done()
        first.cancel()  # ... cancelled before it ran: both go on to the second
        with anyio.fail_after(GUARD):
            assert (await second).status_code == 200
        with pytest.raises(asyncio.CancelledError):
            await first
        assert server.requests == [b"held", b"second"]
        assert_whole(transport, 1)
