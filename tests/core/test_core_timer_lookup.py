"""Each event loop finds its own deadline keeper, whatever loop asked before it.

``textflow._http.timers.keeper`` remembers the last loop's keeper (one entry, by a
weak reference to the loop or trio run) before asking anyio's ``RunVar``. A keeper
of another loop would keep a call's deadline with a timer that never fires in this
one: loops that follow each other, alternate between asyncio and trio, or run at the
same time in two threads must each get their own, every time.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import anyio
import trio

import textflow
from textflow._http import timers


async def _looked_up_twice() -> timers.Keeper:
    first = timers.keeper()
    assert timers.keeper() is first
    return first


def test_loops_one_after_another_each_get_their_own_keeper() -> None:
    found = [
        asyncio.run(_looked_up_twice()),
        trio.run(_looked_up_twice),
        asyncio.run(_looked_up_twice()),
        trio.run(_looked_up_twice),
        asyncio.run(_looked_up_twice()),
    ]
    assert len({id(keeper) for keeper in found}) == len(found)  # all kept alive: ids differ
    assert [keeper.trio for keeper in found] == [False, True, False, True, False]


def test_two_threads_looking_up_in_turn_each_keep_their_own() -> None:
    turns = 200
    seen: dict[str, set[int]] = {"asyncio": set(), "trio": set()}
    barrier = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    async def alternate(name: str) -> None:
        for _ in range(turns):
            seen[name].add(id(timers.keeper()))
            # the other loop looks up meanwhile (each library's own thread call: anyio 4.0's
            # to_thread fails on today's trio, in the lowest session)
            if name == "trio":
                await trio.to_thread.run_sync(barrier.wait)
            else:
                await asyncio.get_running_loop().run_in_executor(None, barrier.wait)

    def run(name: str) -> None:
        try:
            anyio.run(alternate, name, backend=name)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(name,)) for name in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert len(seen["asyncio"]) == 1
    assert len(seen["trio"]) == 1
    assert seen["asyncio"] != seen["trio"]


def test_a_deadline_still_cuts_a_call_after_a_loop_of_the_other_library() -> None:
    """The keeper a call gets is the one whose timer runs in its loop: a slow hook is
    cut at the call's deadline in each of several loops, one after another."""

    async def call() -> Any:
        async def never(event: textflow.RequestEvent) -> None:
            await anyio.sleep(30)

        client = textflow.AsyncTextFlowClient(
            "tf_test_0123456789abcdef",
            base_url="http://127.0.0.1:9/api",
            timeout=0.2,
            on_request=never,
        )
        try:
            with anyio.fail_after(10):  # a guard: a deadline that never fires fails here
                await client.get_balance()
        except textflow.APITimeoutError as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError("the call ended without its deadline")

    for backend in ("asyncio", "trio", "asyncio", "trio"):
        assert isinstance(anyio.run(call, backend=backend), textflow.APITimeoutError)
