"""Adversarial pass (issue 20) on the async gate's hand-over: a slot given back goes to the
first in line with its releaser's shard, and the woken send's own checks replace what the
releaser left (no look at release).

- A shard handed over whose idle connection the server closed meanwhile: the woken send
  opens a new connection (nothing written on the closed one), and the one behind it
  reuses that; every send answered once, in order, every slot back.
- A server that sends something unasked after an answer, on a shard handed over: the
  woken send does not read it as its answer.
"""

from __future__ import annotations

import socket
import threading
from typing import Callable

import anyio
import httpx
import pytest

from textflow._http.transport import AsyncTextFlowTransport

from tests.core.core_support import ok_sms
from tests.core.hostile_support import Answer, RawServer, json_answer
from tests.core.test_core_gate_handover import GUARD, assert_whole

pytestmark = pytest.mark.anyio


def first_then_closed(conn: socket.socket, number: int, body: bytes) -> bool:
    """The first request's answer, then the server ends that connection; the others kept."""
    conn.sendall(json_answer(ok_sms()))
    return number != 1


def with_a_stray_answer(stray_sent: threading.Event) -> Answer:
    """The first request's answer and, after it, a second one nobody asked for."""

    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(json_answer(ok_sms()))
        if number == 1:
            conn.sendall(json_answer({"ok": True, "stray": True}, status=201))
            stray_sent.set()
        return True

    return answer


async def _hand_over(server: RawServer, wait_for: Callable[[], bool]) -> list[int]:
    """The first send holds the only slot (its answer arrived, its body unread) while two
    more queue; once ``wait_for()`` holds, its body is read and closed, handing the slot
    over. The statuses of the two queued sends."""
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=1))
    statuses: list[int] = []
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(GUARD)) as client:
        held = await client.send(
            client.build_request("POST", server.base_url, content=b"held"), stream=True
        )

        async def queued(name: bytes) -> None:
            statuses.append((await client.post(server.base_url, content=name)).status_code)

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as group:
                for name in (b"first in line", b"second in line"):
                    group.start_soon(queued, name)
                    await anyio.wait_all_tasks_blocked()
                assert transport._pools.gate.waiting() == 2
                while not wait_for():
                    await anyio.sleep(0.01)
                await held.aread()
                await held.aclose()  # the slot and its shard go to the first in line
        assert_whole(transport, 1)
    return statuses


async def test_a_handed_over_connection_the_server_closed_meanwhile_is_not_written_on(
    hostile: Callable[[Answer], RawServer],
) -> None:
    server = hostile(first_then_closed)
    statuses = await _hand_over(server, lambda: server.ended == 1)
    assert statuses == [200, 200]
    assert server.requests == [b"held", b"first in line", b"second in line"]
    assert server.connections == 2  # a new one for the first in line, reused by the second


async def test_an_unasked_answer_on_a_handed_over_connection_is_nobodys_answer(
    hostile: Callable[[Answer], RawServer],
) -> None:
    stray_sent = threading.Event()
    server = hostile(with_a_stray_answer(stray_sent))
    statuses = await _hand_over(server, stray_sent.is_set)  # (on loopback: arrived)
    assert statuses == [200, 200]  # not the stray 201
    assert server.requests == [b"held", b"first in line", b"second in line"]
