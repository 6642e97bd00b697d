"""Adversarial pass (issue 22): a real worker process stopped (SIGSTOP) between its
claim and its send for longer than its lease, while a run resending ``maybe_sent`` takes
the recipient; then continued (SIGCONT). Its heartbeat was stopped with it.

Exactly once at the fake, and the stopped worker's report says it skipped the one it
no longer held. Waits are for facts (the process stopped, the store's view of the
lease), bounded against a hang only.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from textflow._many._postgres_journal import PostgresJournal
from textflow._many._recipients import message_key
from textflow._many._redis_journal import RedisJournal
from textflow.testing import FakeTextFlow

from tests.many.many_support import CREDITS, numbers
from tests.many.stores_support import campaign

ROOT = Path(__file__).resolve().parent.parent.parent
HANG = 120.0  # a guard against a hung worker only
LEASE = 2  # seconds on the store's clock: the stop lasts until it ran out


def _url(store: str, request: pytest.FixtureRequest) -> str:
    server = request.getfixturevalue(f"journal_{store}")
    base = server.url if store == "redis" else server.url()
    return f"{base}?campaign={campaign()}&lease={LEASE}"


@pytest.mark.workers
@pytest.mark.skipif(not hasattr(os, "WUNTRACED"), reason="POSIX job control")
@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_a_worker_stopped_past_its_lease_does_not_send_what_a_resend_took(
    store: str, kind: str, request: pytest.FixtureRequest
) -> None:
    url = _url(store, request)
    fake = FakeTextFlow(credits=CREDITS)
    phone = numbers(1)[0]
    key = message_key(phone, "Hi")
    with fake.serve() as base_url:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        args = [sys.executable, "-m", "tests.many.hostile22_worker", url, base_url, "3", kind]
        worker = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            _, status = os.waitpid(worker.pid, os.WUNTRACED)
            assert os.WIFSTOPPED(status), "the worker ended before its claim"
            opener = RedisJournal if store == "redis" else PostgresJournal
            with opener(url, heartbeat=False) as other:
                deadline = time.monotonic() + HANG
                while other.state(key) != "maybe_sent":  # the stopped worker's lease ran out
                    assert time.monotonic() < deadline, "the lease never ran out"
                    time.sleep(0.05)
                with fake.client() as client:
                    resent = client.send_many([phone], "Hi", journal=other, resend_maybe_sent=True)
            assert resent.sent == 1
        finally:
            os.kill(worker.pid, signal.SIGCONT)
            out, _ = worker.communicate(timeout=HANG)
    assert worker.returncode == 0, out
    totals = json.loads(out)
    delivered = collections.Counter(m.phone_number for m in fake.messages)
    assert delivered == dict.fromkeys(numbers(3), 1)  # nobody twice
    assert totals == {"sent": 2, "skipped": 1, "maybe_sent": 0, "refused": 0}
