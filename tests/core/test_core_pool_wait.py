"""Sends queued at the async gate past the pool timeout: cut by the loop's one timer.

A queued wait schedules no timer of its own (``textflow._http.timers`` ends it); the
promise is unchanged: every wait past the pool timeout fails as ``httpx.PoolTimeout``
(not sent), and the slots are exactly as many as before, none lost, none gained.
"""

from __future__ import annotations

import socket
from typing import Callable

import anyio
import httpx
import pytest

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
