"""Fork with a full pool: many connections open, then parent and child each send a crowd
at once on the same client. Each send's text is its own; every answer must echo it (a
connection shared across the fork would hand one process the other's answers).

Sync (threads) and asyncio. The fake TextFlow runs in a subprocess (the
``fake_url`` fixture of test_core_fork.py), so the test process forks with no thread of
its own running.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import textflow
from textflow.testing import DEFAULT_API_KEY

from tests.core.test_core_fork import _content, exit_code, fake_url, in_child

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() exists only on POSIX"),
    pytest.mark.filterwarnings(
        "ignore:.*use of fork\\(\\) may lead to deadlocks:DeprecationWarning"
    ),
]

__all__ = ["fake_url"]  # the fixture, used here by name

PHONE = "+11234567890"
CROWD = 24  # sends at once on each side: more than one connection each


def sync_crowd(client: textflow.TextFlowClient, who: str) -> bool:
    texts = [f"{who} {i}" for i in range(CROWD)]
    with ThreadPoolExecutor(CROWD) as pool:
        answers = list(pool.map(lambda t: _content(client.send_sms(PHONE, t)), texts))
    return answers == texts


async def async_crowd(client: textflow.AsyncTextFlowClient, who: str) -> bool:
    texts = [f"{who} {i}" for i in range(CROWD)]
    results = await asyncio.gather(*(client.send_sms(PHONE, t) for t in texts))
    return [_content(r) for r in results] == texts


def test_a_sync_client_with_a_full_pool_serves_crowds_in_parent_and_child(fake_url: str) -> None:
    with textflow.TextFlowClient(DEFAULT_API_KEY, base_url=fake_url) as client:
        assert sync_crowd(client, "before")  # many pooled connections now; threads ended
        pid = in_child(lambda: sync_crowd(client, "child") and sync_crowd(client, "child2"))
        assert sync_crowd(client, "parent")
        assert sync_crowd(client, "parent2")
        assert exit_code(pid) == 0


def test_an_async_client_with_a_full_pool_serves_crowds_in_parent_and_child(
    fake_url: str,
) -> None:
    client = textflow.AsyncTextFlowClient(DEFAULT_API_KEY, base_url=fake_url)
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(async_crowd(client, "before"))

        def child() -> bool:
            # the parent's loop does not run in the child: a new one, in a new thread
            outcome: list[bool] = []

            async def work() -> None:
                outcome.append(await async_crowd(client, "child"))
                outcome.append(await async_crowd(client, "child2"))

            thread = threading.Thread(target=lambda: asyncio.run(work()))
            thread.start()
            thread.join(30)
            return outcome == [True, True]

        pid = in_child(child)
        assert loop.run_until_complete(async_crowd(client, "parent"))
        assert loop.run_until_complete(async_crowd(client, "parent2"))
        assert exit_code(pid) == 0
        loop.run_until_complete(client.aclose())
    finally:
        loop.close()
