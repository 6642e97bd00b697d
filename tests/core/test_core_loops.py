"""An async client used from one event loop after another: nothing of an ended loop is kept
or reused.

``asyncio.run(client.send_sms(...))`` per send is how scripts and Celery tasks use
the async client. Each loop's connections are let go as it ends; nothing is kept
for later, and nothing is left for garbage collection to close (a transport left
so warns, and the warning fails these tests). The server runs in a subprocess, so
that traced memory is the client's alone.
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from collections.abc import Iterator
from typing import Callable

import anyio
import pytest

import textflow
from textflow.testing import DEFAULT_API_KEY

from tests.core.core_support import KEY, ok_sms
from tests.core.hostile_support import LIMIT as SERVER_LIMIT
from tests.core.hostile_support import Answer, RawServer, json_answer

LOOPS = 1000
LIMIT = 256 * 1024  # bytes of traced memory the 1,000 loops may leave behind
SERVE = (
    "import sys\n"
    "from textflow.testing import FakeTextFlow\n"
    "with FakeTextFlow(credits=1_000_000).serve() as url:\n"
    "    print(url, flush=True)\n"
    "    sys.stdin.read()\n"
)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        yield process.stdout.readline().strip()
    finally:
        process.stdin.close()
        process.wait(10)
        process.stdout.close()


def _run_on(library: str) -> Callable[[Callable[[], object]], object]:
    if library == "asyncio":
        return lambda send: asyncio.run(send())  # type: ignore[arg-type]
    import trio

    return lambda send: trio.run(send)  # type: ignore[arg-type]


def grown_over_loops(url: str, library: str, loops: int) -> int:
    """Bytes of traced memory left after ``loops`` event loops of one send each."""
    run = _run_on(library)
    client = textflow.AsyncTextFlowClient(DEFAULT_API_KEY, base_url=url)

    async def send() -> None:
        assert (await client.send_sms("+11234567890", "one loop, one send")).ok

    for _ in range(30):  # warm up: imports, caches, the first pools
        run(send)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(loops):
            run(send)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    async def close() -> None:
        await client.aclose()

    run(close)
    return grown


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_a_loop_per_send_does_not_grow_memory(url: str, library: str) -> None:
    grown = grown_over_loops(url, library, LOOPS)
    assert grown < LIMIT, f"{grown / 1024:.0f} KiB kept after {LOOPS} event loops"


def test_a_loop_closed_without_asyncio_run_is_let_go_on_the_next_call(url: str) -> None:
    """``run_until_complete`` then ``close()``: no shutdown hook ran, so the old loop's
    connection can only be shut from outside it; the next call, in a new loop, works.

    asyncio itself warns about the transport of a loop closed under it (ResourceWarning,
    when it is collected): that warning is expected here, and only here.
    """
    client = textflow.AsyncTextFlowClient(DEFAULT_API_KEY, base_url=url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        loop = asyncio.new_event_loop()
        try:
            assert loop.run_until_complete(client.send_sms("+11234567890", "first loop")).ok
        finally:
            loop.close()
        assert asyncio.run(client.send_sms("+11234567890", "second loop")).ok
        gc.collect()  # the first loop's transport, let go by the call above
    asyncio.run(client.aclose())


def _echo_sms(body: bytes) -> bytes:
    """The fake's answer to a send_sms request: ``data.to`` and ``data.content`` as sent."""
    sent = json.loads(body)
    answer = ok_sms(to=sent["phone_number"])
    answer["data"]["content"] = sent["text"]
    return json_answer(answer)


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_an_answer_cut_off_by_the_end_of_its_loop_is_never_read_in_the_next(
    hostile: Callable[[Answer], RawServer], library: str
) -> None:
    """A send still waiting for its answer when its event loop ends (``asyncio.run``
    cancels it; a trio run is cancelled): the late answer arrives after the loop has
    ended, on a connection the next loop must not use."""
    loop_ended = threading.Event()
    late_answer_failed: list[bool] = []

    def late_first(conn: socket.socket, number: int, body: bytes) -> bool:
        if b"first" in body:
            loop_ended.wait(SERVER_LIMIT)
            time.sleep(0.1)  # the loop's last turns: its connections are closed there
            try:
                conn.sendall(_echo_sms(body))
                conn.sendall(_echo_sms(body))  # a reset shows on the second send at the latest
            except OSError:
                late_answer_failed.append(True)
            return False
        conn.sendall(_echo_sms(body))
        return True

    server = hostile(late_first)
    client = textflow.AsyncTextFlowClient(KEY, base_url=server.base_url, max_retries=0)
    run = _run_on(library)

    async def first_then_end() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(client.send_sms, "+11234567890", "first")
            await anyio.sleep(0.2)  # written, and waiting for its answer
            group.cancel_scope.cancel()

    run(first_then_end)
    loop_ended.set()

    async def second() -> textflow.SendMessageOk:
        return await client.send_sms("+11234567890", "second")

    answer = run(second)
    assert isinstance(answer, textflow.SendMessageOk)
    assert answer.data is not None
    assert answer.data.content == "second"
    assert server.connections == 2  # the second went on a connection of its own
    deadline = time.monotonic() + SERVER_LIMIT
    while not late_answer_failed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert late_answer_failed == [True]  # the first loop's connection was closed

    async def close() -> None:
        await client.aclose()

    run(close)
