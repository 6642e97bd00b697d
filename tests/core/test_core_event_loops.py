"""An async client taken from one event loop to the next, as the docs allow."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Callable

import anyio

import textflow

from tests.core.core_support import KEY
from tests.core.hostile_support import Answer, RawServer, json_answer

BALANCE = {"ok": True, "credits": 1, "packages": {}}


def balance(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(json_answer(BALANCE))
    return True


def test_a_loop_that_is_not_running_does_not_block_the_next(
    hostile: Callable[[Answer], RawServer],
) -> None:
    server = hostile(balance)
    client = textflow.AsyncTextFlowClient(KEY, base_url=server.base_url)
    first = asyncio.new_event_loop()
    try:
        assert first.run_until_complete(client.get_balance()).ok  # first is left open, idle
        assert asyncio.run(client.get_balance()).ok
    finally:
        with contextlib.suppress(textflow.ClientStateError):
            first.run_until_complete(client.aclose())
        first.close()


def test_a_client_made_under_asyncio_serves_a_crowd_under_trio() -> None:
    import trio

    def slow_balance(conn: socket.socket, number: int, body: bytes) -> bool:
        time.sleep(0.2)  # keep all 100 connections busy so that later calls wait
        conn.sendall(json_answer(BALANCE))
        return True

    server = RawServer(slow_balance)

    async def make() -> textflow.AsyncTextFlowClient:
        return textflow.AsyncTextFlowClient(KEY, base_url=server.base_url, timeout=20)

    client = asyncio.run(make())
    failures: list[str] = []

    async def crowd() -> None:
        async def one() -> None:
            try:
                await client.get_balance()
            except textflow.TextFlowError as exc:
                failures.append(str(exc))

        async with anyio.create_task_group() as group:
            for _ in range(120):
                group.start_soon(one)
        await client.aclose()

    try:
        trio.run(crowd)
    finally:
        server.close()
    assert failures == []
