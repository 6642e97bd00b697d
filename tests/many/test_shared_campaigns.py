"""Many worker processes on one shared journal: every recipient once, one rate for all.

The workers are subprocesses (``tests.many.campaign_worker``) sending to the
fake served on 127.0.0.1; the journal is a real Redis or PostgreSQL that the
tests start.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from textflow.testing import FakeTextFlow

from tests.many.many_support import CREDITS, numbers
from tests.many.stores_support import PostgresServer, RedisServer, campaign

ROOT = Path(__file__).resolve().parent.parent.parent
TIMEOUT = 600.0  # a guard against a hung worker: 20x what a run takes on a slow machine


def _workers(
    count: int, journal: str, base_url: str, recipients: int, rate: Optional[float] = None
) -> list[subprocess.Popen[str]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [sys.executable, "-m", "tests.many.campaign_worker", journal, base_url, str(recipients)]
    if rate is not None:
        args.append(str(rate))
    return [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(count)
    ]


def _totals(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    found = []
    for worker in workers:
        out, _ = worker.communicate(timeout=TIMEOUT)
        assert worker.returncode == 0, out
        found.append(json.loads(out))
    return found


def _shared_url(store: str, request: pytest.FixtureRequest) -> str:
    if store == "redis":
        server: RedisServer = request.getfixturevalue("journal_redis")
        return f"{server.url}?campaign={campaign()}"
    postgres: PostgresServer = request.getfixturevalue("journal_postgres")
    return f"{postgres.url()}?campaign={campaign()}"


@pytest.mark.workers
@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_four_workers_send_to_everyone_exactly_once(
    store: str, request: pytest.FixtureRequest
) -> None:
    fake = FakeTextFlow(credits=CREDITS)
    journal = _shared_url(store, request)
    with fake.serve() as base_url:
        totals = _totals(_workers(4, journal, base_url, 5000))
    delivered = collections.Counter(m.phone_number for m in fake.messages)
    assert sorted(delivered) == sorted(numbers(5000))
    assert set(delivered.values()) == {1}
    assert sum(t["sent"] for t in totals) == 5000
    assert all(t["sent"] + t["skipped"] == 5000 for t in totals)  # each saw every recipient


@pytest.mark.workers
def test_four_workers_together_keep_one_rate_at_the_receiver(journal_redis: RedisServer) -> None:
    """Four worker processes at max_per_second=20 send 200: no one-second window of the
    moments the fake handled them holds more than 20 (an upper bound that holds by
    construction, whatever the delays: a permit comes back only with the answer)."""
    handled: list[float] = []
    fake = FakeTextFlow(credits=CREDITS, on_message=lambda _: handled.append(time.monotonic()))
    journal = f"{journal_redis.url}?campaign={campaign()}"
    with fake.serve() as base_url:
        _totals(_workers(4, journal, base_url, 200, rate=20))
    assert sorted(m.phone_number for m in fake.messages) == numbers(200)
    handled.sort()
    assert len(handled) == 200
    busiest = max(sum(1 for t in handled[i:] if t < start + 1.0) for i, start in enumerate(handled))
    assert busiest <= 20
    assert handled[-1] - handled[0] >= (200 - 20) / 20  # one rate for all: not four


@pytest.mark.workers
def test_a_worker_killed_mid_run_on_postgres_leaves_its_claims_and_a_rerun_sends_nobody_twice(
    journal_postgres: PostgresServer,
) -> None:
    fake = FakeTextFlow(credits=CREDITS)
    journal = f"{journal_postgres.url()}?campaign={campaign()}"
    with fake.serve() as base_url:
        workers = _workers(3, journal, base_url, 1500)
        deadline = time.monotonic() + TIMEOUT
        while len(fake.messages) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        workers[0].kill()  # kill -9, whatever statement it is in
        workers[0].communicate(timeout=TIMEOUT)  # and its pipe closed
        assert workers[0].returncode != 0
        _totals(workers[1:])
        (rerun,) = _totals(_workers(1, journal, base_url, 1500))
    delivered = collections.Counter(m.phone_number for m in fake.messages)
    assert set(delivered.values()) == {1}  # nobody twice, killed worker or not
    # the rerun sent nobody: the survivors took what the killed worker had not claimed;
    # its claims in flight are still leased (skipped now, maybe_sent when they expire)
    assert rerun["sent"] == 0
    assert rerun["skipped"] == 1500
    # at most its claims are unknown: its 8 sends in flight and, claimed ahead of a free
    # slot, up to 7 more waiting for one (the claim step asks for 8 at most)
    assert len(delivered) >= 1500 - (8 + 7)
