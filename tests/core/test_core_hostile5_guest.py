"""trio in guest mode on an asyncio loop (``trio.lowlevel.start_guest_run``).

A guest run's tasks run inside the host loop's callbacks: ``asyncio.get_running_loop()``
answers there too, yet the task is trio's (anyio and sniffio say "trio"). The SDK's
per-loop deadline timer and its gate must treat such a task as trio's: a deadline in
trio's clock handed to asyncio's timer fires at the wrong time (trio's clock has an
offset of its own), and an asyncio future awaited in a trio task is a TypeError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Callable

import httpx
import pytest
import trio

import textflow
from textflow._http.transport import AsyncTextFlowTransport

from tests.core.core_support import ScriptedServer

HANG = 5.0  # how long the silent server keeps a connection before closing it


def start_guest_run(main: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
    """Starts ``main`` as a trio guest run on the running asyncio loop; the future of its
    outcome (``.unwrap()`` gives its result or raises its exception)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    trio.lowlevel.start_guest_run(
        main,
        run_sync_soon_threadsafe=loop.call_soon_threadsafe,
        done_callback=done.set_result,
        host_uses_signal_set_wakeup_fd=False,
    )
    return done


def in_guest_run(main: Callable[[], Awaitable[Any]]) -> Any:
    """Runs ``main`` as a trio guest run on a fresh asyncio loop; its result or exception."""

    async def host() -> Any:
        return (await start_guest_run(main)).unwrap()

    return asyncio.run(host())


def test_a_read_timeout_fires_in_a_trio_guest_run(server: ScriptedServer) -> None:
    client = textflow.AsyncTextFlowClient(
        api_key="k", base_url=server.base_url, max_retries=0, timeout=httpx.Timeout(5.0, read=0.2)
    )
    server.script.append(("hang", HANG))

    async def main() -> BaseException:
        try:
            with pytest.raises(textflow.TextFlowError) as caught:
                await client.get_balance()
            return caught.value
        finally:
            await client.aclose()

    error = in_guest_run(main)
    # not the server closing the connection after HANG seconds
    assert isinstance(error, textflow.APITimeoutError), error


def test_sends_queued_at_the_gate_in_a_trio_guest_run_get_their_turn(
    server: ScriptedServer,
) -> None:
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=1))
    client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, pool=5.0))

    async def main() -> list[int]:
        statuses: list[int] = []

        async def one() -> None:
            statuses.append((await client.get(server.base_url + "/balance")).status_code)

        try:
            async with trio.open_nursery() as nursery:
                for _ in range(3):  # two wait at the one-slot gate
                    nursery.start_soon(one)
        finally:
            await client.aclose()
        return statuses

    assert in_guest_run(main) == [200, 200, 200]


def test_the_host_loops_calls_keep_their_deadline_while_a_guest_run_calls_too(
    server: ScriptedServer,
) -> None:
    """The host's asyncio task looks its deadline timer up after the guest's trio task
    did (the one-entry lookup cache then asks trio first, and trio's token answers in
    the host's tasks too): each must get its own library's."""
    guest = textflow.AsyncTextFlowClient(api_key="k", base_url=server.base_url, max_retries=0)
    host_client = textflow.AsyncTextFlowClient(
        api_key="k",
        base_url=server.base_url,
        max_retries=0,
        timeout=0.3,  # a call's deadline
    )
    guest_answered = trio.Event()
    host_done: list[BaseException] = []

    async def guest_main() -> None:
        try:
            await guest.send_sms("+11234567890", "Hi")  # the last lookup is the guest's
            guest_answered.set()
            while not host_done:
                await trio.sleep(0.01)
        finally:
            await guest.aclose()

    async def host() -> None:
        done = start_guest_run(guest_main)
        while not guest_answered.is_set() and not done.done():
            await asyncio.sleep(0.01)
        server.script.append(("hang", HANG))
        try:
            with pytest.raises(textflow.TextFlowError) as caught:
                await host_client.send_sms("+11234567890", "Hi")
            host_done.append(caught.value)
        finally:
            host_done.append(RuntimeError("over"))
            await host_client.aclose()
        (await done).unwrap()

    asyncio.run(host())
    assert isinstance(host_done[0], textflow.APITimeoutError), host_done[0]


def test_one_client_in_the_host_loop_and_its_guest_run_is_refused_clearly(
    server: ScriptedServer,
) -> None:
    """An async client belongs to one event loop at a time; a trio guest run is a loop
    of its own. Shared, the guest's connections (trio's) were handed to the host's
    asyncio tasks and the host's to the guest: TypeError and RuntimeError, no
    TextFlowError."""
    client = textflow.AsyncTextFlowClient(api_key="k", base_url=server.base_url, max_retries=0)
    outcomes: list[object] = []

    async def guest_main() -> None:
        try:
            await client.send_sms("+11234567890", "from the guest")
            outcomes.append("guest sent")
        except textflow.TextFlowError as exc:
            outcomes.append(type(exc))

    async def host() -> None:
        await client.send_sms("+11234567890", "from the host")
        done = start_guest_run(guest_main)
        (await done).unwrap()
        result = await client.send_sms("+11234567890", "from the host again")
        outcomes.append(result.data.to)
        await client.aclose()

    asyncio.run(host())
    assert outcomes == [textflow.ClientStateError, "+11234567890"]
    assert len(server.requests) == 2
