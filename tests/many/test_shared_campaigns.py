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
def test_four_workers_together_keep_one_rate(journal_redis: RedisServer) -> None:
    """Four worker processes at max_per_second=20 send 200 in no less than 9 seconds (one
    worker's own limit would let four do it in 2.5); the fake got each number once."""
    fake = FakeTextFlow(credits=CREDITS)
    journal = f"{journal_redis.url}?campaign={campaign()}"
    with fake.serve() as base_url:
        _totals(_workers(4, journal, base_url, 200, rate=20))
    times = sorted(m.timestamp for m in fake.messages)  # milliseconds, at the fake
    assert sorted(m.phone_number for m in fake.messages) == numbers(200)
    assert times[-1] - times[0] >= (200 - 20) / 20 * 1000
