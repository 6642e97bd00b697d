"""A crowd of sends larger than the pool, on both clients: the sends beyond the pool
wait at the gate; every one is sent once and answered; one cut by its deadline while
it waits was never sent (``may_have_been_sent`` is False) and took no slot.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

import textflow
from textflow import _config

from tests.core.core_support import Harness, ScriptedServer

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.not_on_aiohttp("aiohttp's own pool has no gate of the SDK's"),
]

POOL = 3
CROWD = 12
GUARD = 30.0  # seconds before a lost slot fails the test instead of hanging it


@pytest.fixture(autouse=True)
def small_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = _config.DEFAULT_LIMITS
    monkeypatch.setattr(
        _config,
        "DEFAULT_LIMITS",
        httpx.Limits(
            max_connections=POOL,
            max_keepalive_connections=POOL,
            keepalive_expiry=limits.keepalive_expiry,
        ),
    )


async def send(
    api: Harness, client: textflow.TextFlowClient | textflow.AsyncTextFlowClient, number: str
) -> Any:
    if api.is_async:
        return await api.call("send_sms", number, "crowd", client=client)
    return await anyio.to_thread.run_sync(lambda: client.send_sms(number, "crowd"))


async def test_a_crowd_larger_than_the_pool_is_sent_once_each_and_answered(
    api: Harness, server: ScriptedServer
) -> None:
    client = api.make(base_url=server.base_url, max_retries=0)
    numbers = [f"+1123456{index:04d}" for index in range(CROWD)]
    answered: list[str] = []

    async def one(number: str) -> None:
        answered.append((await send(api, client, number)).data.to)

    with anyio.fail_after(GUARD):
        for _ in range(2):  # a second crowd: no slot was lost by the first
            async with anyio.create_task_group() as group:
                for number in numbers:
                    group.start_soon(one, number)
    assert sorted(answered) == sorted(numbers * 2)
    assert len(server.requests) == CROWD * 2, "each send went out once"


@pytest.mark.parametrize(
    "waiting",
    [0.3, httpx.Timeout(GUARD, pool=0.1)],
    ids=["the call's deadline", "a pool timeout shorter than the call's"],
)
async def test_sends_cut_while_queued_were_never_sent_and_took_no_slot(
    api: Harness, server: ScriptedServer, waiting: Any
) -> None:
    """Queued sends cut at the gate, by their call's deadline or by a pool timeout the
    retry loop told the transport (the gate's timer ends the wait): timeouts, not sent.
    The holders keep every connection until the waits have ended (then the server drops
    them), and every slot is back after."""
    server.script = [("hang", GUARD)] * POOL  # the first sends hold every connection
    client = api.make(base_url=server.base_url, max_retries=0, timeout=GUARD)
    short = client.with_options(timeout=waiting)  # the same pool
    held: list[textflow.APIError] = []
    queued: list[textflow.APIError] = []

    async def holder(number: str) -> None:
        try:
            await send(api, client, number)
        except textflow.APIError as exc:
            held.append(exc)

    async def waiter(number: str) -> None:
        try:
            await send(api, short, number)
        except textflow.APIError as exc:
            queued.append(exc)

    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as group:
            for index in range(POOL):
                group.start_soon(holder, f"+1123456{index:04d}")
            while len(server.requests) < POOL:  # every connection is held
                await anyio.sleep(0.01)
            async with anyio.create_task_group() as waiters:
                for index in range(4):
                    waiters.start_soon(waiter, f"+1123457{index:04d}")
            server.close()  # the waits are over: now the holders' connections drop
    assert len(queued) == 4
    assert all(isinstance(exc, textflow.APITimeoutError) for exc in queued)
    assert not any(exc.may_have_been_sent for exc in queued), "cut at the gate: not sent"
    assert len(server.requests) == POOL, "only the holders reached the server"
    assert len(held) == POOL
    assert all(exc.may_have_been_sent for exc in held)
    other = ScriptedServer()
    try:  # every slot is back: twice the pool gets through, on the same pool
        again = client.with_options(base_url=other.base_url)
        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as group:
                for index in range(POOL * 2):
                    group.start_soon(send, api, again, f"+1123458{index:04d}")
        assert len(other.requests) == POOL * 2
    finally:
        other.close()
