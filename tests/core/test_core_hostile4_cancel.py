"""A send cancelled at every point of its answer, on asyncio and trio, with other sends
queued behind it at a gate of two slots.

The server answers the victim in chunks of a few bytes, each only when the test allows
it: for N = 0, 1, 2, ... the test lets N chunks out, waits until the server has written
them (an event, not a delay), lets the loop turn, and cancels the victim. That covers
"request written, nothing back", every cut inside the head and every cut inside the
body. After each cancellation: every gate slot and every shard is free again, the sends
around it got their own answers, and the next sends on the same client get theirs (a
connection left half-used in the pool would hand one a stale answer, or hang it). No
request reaches the server twice.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
from functools import partial
from typing import Any, Callable

import anyio
import anyio.lowlevel
import httpx
import pytest

import textflow
from textflow._http.transport import AsyncTextFlowTransport

from tests.core.core_support import KEY, ok_sms
from tests.core.hostile_support import RawServer, full_accept_queue, json_answer

pytestmark = pytest.mark.anyio

POOL = 2
CHUNK = 16  # bytes of the victim's answer per step
VICTIM = "+1666"
GUARD = 30.0


class TwoConnections(textflow.AsyncTextFlowClient):
    @staticmethod
    def _new_transport() -> httpx.AsyncBaseTransport:
        return AsyncTextFlowTransport(httpx.Limits(max_connections=POOL))


class Stepped:
    """The server's ``Answer``: others at once, the victim a chunk per step allowed."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.allowed = 0
        self.written = -1  # chunks of the current victim's answer written (-1: no request)

    def __call__(self, conn: socket.socket, number: int, body: bytes) -> bool:
        to = json.loads(body)["phone_number"]
        answer = json_answer(ok_sms(to=to))
        if not to.startswith(VICTIM):
            conn.sendall(answer)
            return True
        chunks = [answer[i : i + CHUNK] for i in range(0, len(answer), CHUNK)]
        with self.cond:
            self.written = 0
            self.cond.notify_all()
        for index, chunk in enumerate(chunks):
            with self.cond:
                if not self.cond.wait_for(partial(self.past, index), GUARD):
                    return False
            try:
                conn.sendall(chunk)
            except OSError:  # the client gave up on this connection: fine
                return False
            with self.cond:
                self.written = index + 1
                self.cond.notify_all()
        return True

    def past(self, index: int) -> bool:
        return self.allowed > index

    def allow(self, chunks: int) -> None:
        with self.cond:
            self.allowed = chunks
            self.cond.notify_all()

    def reset(self) -> None:
        with self.cond:
            self.allowed = 0
            self.written = -1


def answer_chunks() -> int:
    return -(-len(json_answer(ok_sms(to=VICTIM + "0000000"))) // CHUNK)


async def until(fact: Callable[[], bool]) -> None:
    while not fact():
        await anyio.sleep(0.001)


def pools_of(client: textflow.AsyncTextFlowClient) -> Any:
    transport: Any = client._transport  # the test's own look
    return transport._pools


async def cancelled_round(
    client: textflow.AsyncTextFlowClient, stepped: Stepped, step: int
) -> bool:
    """Cancel a send once ``step`` chunks of its answer came; True if the cancel landed."""
    stepped.reset()
    others = [f"+1777{step:04d}{i:03d}" for i in range(3)]
    answers: list[str] = []
    scope = anyio.CancelScope()
    outcome: list[str] = []

    async def cancelled_send() -> None:
        with scope:
            await client.send_sms(f"{VICTIM}{step:07d}", "cancel me")
            outcome.append("answered")
            return
        outcome.append("cancelled")

    async def send(number: str) -> None:
        result = await client.send_sms(number, "around it")
        assert result.data is not None
        answers.append(result.data.to)

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as group:
            group.start_soon(cancelled_send)
            await until(lambda: stepped.written == 0)  # its request is in
            for number in others:  # one slot left: two of them queue
                group.start_soon(send, number)
            stepped.allow(step)
            await until(lambda: stepped.written >= step)
            for _ in range(5):  # the client reads what came
                await anyio.lowlevel.checkpoint()
            scope.cancel()
            stepped.allow(10**6)
    assert sorted(answers) == sorted(others), f"after a cancel at chunk {step}"
    return outcome == ["cancelled"]


async def test_a_send_cancelled_anywhere_in_its_answer_frees_its_slot_and_connection(
    hostile: Callable[..., RawServer],
) -> None:
    stepped = Stepped()
    server = hostile(stepped)
    landed = 0
    client = TwoConnections(KEY, base_url=server.base_url, max_retries=0, timeout=GUARD)
    async with client:
        for step in range(answer_chunks() + 1):
            landed += await cancelled_round(client, stepped, step)
            pools = pools_of(client)
            assert pools.gate.free == POOL, f"a slot lost after a cancel at chunk {step}"
            assert sorted(pools.free) == list(range(POOL)), f"a shard held after chunk {step}"
            for index in range(POOL + 1):  # the next sends get their own answers
                number = f"+1888{step:04d}{index:03d}"
                result = await client.send_sms(number, "after")
                assert result.data is not None
                assert result.data.to == number
    counts = collections.Counter(json.loads(body)["phone_number"] for body in server.requests)
    assert not [number for number, count in counts.items() if count > 1], "sent twice"
    assert landed >= answer_chunks() - 1, "the cancels landed inside the sends"


async def test_a_send_cancelled_while_connecting_frees_its_slot(
    hostile: Callable[..., RawServer],
) -> None:
    """Cancelled while its connect is never answered (a full accept queue), with another
    send queued behind it at the gate: both slots come back; the pool then serves."""
    server = hostile(Stepped())
    with full_accept_queue() as url:
        client = TwoConnections(KEY, base_url=url, max_retries=0, timeout=GUARD)
        async with client:
            with anyio.fail_after(GUARD):
                async with anyio.create_task_group() as group:
                    for index in range(POOL + 1):  # the last one queues at the gate
                        group.start_soon(client.send_sms, f"+1999000000{index}", "never")
                    await until(lambda: pools_of(client).gate.waiting() == 1)
                    group.cancel_scope.cancel()
            pools = pools_of(client)
            assert pools.gate.free == POOL
            assert pools.gate.waiting() == 0
            assert sorted(pools.free) == list(range(POOL))
            served = client.with_options(base_url=server.base_url)  # the same pool
            for index in range(POOL + 1):
                number = f"+1888999{index:04d}"
                result = await served.send_sms(number, "after")
                assert result.data is not None
                assert result.data.to == number


async def test_a_send_cancelled_after_n_loop_turns_frees_its_slot_and_connection(
    hostile: Callable[..., RawServer],
) -> None:
    """The early awaits (the gate, connecting, writing): cancel after N turns of the event
    loop, N = 0 .. 30, the victim's answer let out at once; same checks after each."""
    stepped = Stepped()
    server = hostile(stepped)
    client = TwoConnections(KEY, base_url=server.base_url, max_retries=0, timeout=GUARD)
    async with client:
        for turns in range(31):
            stepped.reset()
            stepped.allow(10**6)
            with anyio.fail_after(GUARD):
                async with anyio.create_task_group() as group:
                    group.start_soon(client.send_sms, f"{VICTIM}{turns:07d}", "cancel me")
                    for _ in range(turns):
                        await anyio.lowlevel.checkpoint()
                    group.cancel_scope.cancel()
            pools = pools_of(client)
            assert pools.gate.free == POOL, f"a slot lost after {turns} turns"
            assert sorted(pools.free) == list(range(POOL)), f"a shard held after {turns} turns"
            for index in range(POOL + 1):
                number = f"+1888{turns:04d}{index:03d}"
                result = await client.send_sms(number, "after")
                assert result.data is not None
                assert result.data.to == number
    counts = collections.Counter(json.loads(body)["phone_number"] for body in server.requests)
    assert not [number for number, count in counts.items() if count > 1], "sent twice"
