"""An async client used from one event loop after another keeps nothing of the loops that ended.

``asyncio.run(client.send_sms(...))`` per send is how scripts and Celery tasks use
the async client. Each loop's connections are let go as it ends; nothing is kept
for later, and nothing is left for garbage collection to close (a transport left
so warns, and the warning fails these tests). The server runs in a subprocess, so
that traced memory is the client's alone.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import tracemalloc
import warnings
from collections.abc import Iterator
from typing import Callable

import pytest

import textflow
from textflow.testing import DEFAULT_API_KEY

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
