"""Campaigns on Celery with real worker processes: re-delivery and worker death never send twice.

A ``celery worker`` with a pool of three processes on a Redis broker, ``acks_late``
and ``reject_on_worker_lost`` (the chunk of a pool process killed with SIGKILL goes
back to the broker at once), a 3-second visibility timeout; the
journal is on the same Redis, with a 2-second lease; the fake is served on
127.0.0.1 with 0.2 s of latency, so a killed worker has sends in flight.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from textflow import JournalError, TextFlowClient
from textflow._many._postgres_journal import PostgresJournal
from textflow._many._redis_journal import RedisJournal
from textflow.integrations.celery import enqueue_campaign, split_campaign
from textflow.testing import DEFAULT_API_KEY, FakeTextFlow

from tests.many.many_support import CREDITS, numbers
from tests.many.stores_support import PostgresServer, RedisServer, campaign, free_port
from tests.tools import missing

ROOT = Path(__file__).resolve().parent.parent.parent
HANG = 180.0  # a guard against a hang: 20x what the campaign takes on a slow machine


def _worker(name: str, broker: str, base_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        TEXTFLOW_TEST_BROKER=broker,
        TEXTFLOW_API_KEY=DEFAULT_API_KEY,
        TEXTFLOW_BASE_URL=base_url,
    )
    args = [sys.executable, "-m", "celery", "-A", "tests.many.celery_app", "worker"]
    args += ["--pool=prefork", "--concurrency=3"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    args += ["-n", f"{name}@127.0.0.1", "--loglevel=WARNING"]
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def _children(pid: int) -> list[int]:
    """The pool processes of a worker (Linux's /proc)."""
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def _wait(condition: object, what: str) -> None:
    deadline = time.monotonic() + HANG
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.workers
def test_a_worker_killed_mid_campaign_sends_nobody_twice(
    journal_redis: RedisServer, tmp_path: Path
) -> None:
    try:
        from tests.many.celery_app import send_chunk
    except ImportError:
        missing("celery", "pip install -e '.[celery]'")
    broker = journal_redis.url.replace("/0", "/1")
    journal_url = f"{journal_redis.url}?campaign={campaign()}&lease=2"
    recipients = numbers(240)
    # Once the campaign is under way, the fake holds its answers (its on_message runs before
    # it answers) until the pool is killed: the kill lands with sends in flight, whatever
    # the machine's load (killing one pool process at a moment chosen by the clock found
    # it between chunks once: nothing in flight, nothing to test).
    hold, release = threading.Event(), threading.Event()
    held: list[str] = []

    def holding(message: Any) -> None:
        if hold.is_set() and not release.is_set():
            held.append(message.phone_number)
            release.wait(HANG)

    fake = FakeTextFlow(credits=CREDITS, latency=0.2, on_message=holding)
    with fake.serve() as base_url:
        workers = [_worker("w", broker, base_url, tmp_path / "w.log")]
        try:
            send_chunk.app.conf.broker_url = broker
            enqueue_campaign(
                send_chunk, recipients, "Hi", journal=journal_url, chunk_size=20, concurrency=4
            )
            _wait(lambda: len(fake.messages) >= 60, "the campaign to be under way")
            hold.set()
            _wait(lambda: len(held) >= 1, "a send to be in flight")
            for child in _children(workers[0].pid):  # the whole pool, mid-chunk
                os.kill(child, signal.SIGKILL)
            release.set()
            with RedisJournal(journal_url) as journal:
                _wait(
                    lambda: (
                        sum(journal.counts().values()) == 240 and "sending" not in journal.counts()
                    ),
                    "the campaign to finish",
                )
                counts = journal.counts()
        finally:
            release.set()  # a held answer's thread never outlives the test
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=HANG)
    delivered = collections.Counter(m.phone_number for m in fake.messages)
    assert set(delivered.values()) == {1}  # nobody twice
    # the killed pool's open claims: at least the one held, at most 3 processes x (4 in
    # flight + 3 claimed ahead of a free slot, the claim step asking for 4 at most)
    assert 1 <= counts.get("maybe_sent", 0) <= 3 * (4 + 3)
    assert counts == {"sent": 240 - counts["maybe_sent"], "maybe_sent": counts["maybe_sent"]}
    assert len(delivered) >= counts["sent"]


def test_a_campaign_splits_into_chunks_from_a_list_or_a_csv(tmp_path: Path) -> None:
    assert [len(c) for c in split_campaign(iter(numbers(45)), chunk_size=20)] == [20, 20, 5]
    path = tmp_path / "contacts.csv"
    path.write_text("phone_number,name\n+12025550001,Ana\n+12025550002,Bo\n", encoding="utf-8")
    assert list(split_campaign(path, chunk_size=1)) == [
        [{"phone_number": "+12025550001", "name": "Ana"}],
        [{"phone_number": "+12025550002", "name": "Bo"}],
    ]


def test_the_chunk_task_in_process(journal_redis: RedisServer) -> None:
    """The task's own logic, run eagerly: chunks, a re-delivered chunk, a stop, a bad journal."""
    from celery import Celery

    from textflow import InputValidationError
    from textflow.integrations.celery import make_send_chunk_task, send_chunk

    fake = FakeTextFlow(credits=CREDITS)
    app = Celery("textflow_eager", broker="memory://")
    app.conf.task_always_eager = True
    task = make_send_chunk_task(app, name="eager.send_chunk", client_factory=fake.client)
    journal = f"{journal_redis.url}?campaign={campaign()}"
    results = enqueue_campaign(task, numbers(25), "Hi", journal=journal, chunk_size=10)
    assert [r.get()["sent"] for r in results] == [10, 10, 5]
    again = task.delay(numbers(10), "Hi", journal=journal).get()  # delivered twice
    assert (again["sent"], again["skipped"]) == (0, 10)
    assert len(fake.messages) == 25
    fake.balance = 0
    stopped = task.delay(numbers(3, start=100), "Hi", journal=journal).get()
    assert stopped["sent"] == 0
    assert "Insufficient credits" in stopped["stopped_by"]
    with pytest.raises(InputValidationError, match="shared journal URL"):
        send_chunk(numbers(1), "Hi", journal="campaign.db", client=fake.client())


def _counting_task(max_retries: int, fake: FakeTextFlow) -> tuple[Any, list[int]]:
    """An eager chunk task (a retry runs at once, its countdown not waited) and its attempts."""
    from celery import Celery

    from textflow.integrations.celery import make_send_chunk_task

    attempts: list[int] = []

    def client_factory() -> TextFlowClient:
        attempts.append(1)
        return fake.client()

    app = Celery("textflow_eager", broker="memory://")
    app.conf.task_always_eager = True
    task = make_send_chunk_task(
        app, name="eager.counted", client_factory=client_factory, max_retries=max_retries
    )
    return task, attempts


def test_a_chunk_on_a_wiped_journal_fails_at_once_without_retries(
    journal_redis: RedisServer,
) -> None:
    # it was retried 10 times, 5 s apart, though a lost campaign never comes back
    import redis

    fake = FakeTextFlow(credits=CREDITS)
    task, attempts = _counting_task(10, fake)
    url = f"{journal_redis.url}?campaign={campaign()}"
    [first] = enqueue_campaign(task, numbers(3), "Hi", journal=url, chunk_size=10)
    assert first.get()["sent"] == 3
    with RedisJournal(url, heartbeat=False) as journal:
        pinned = journal.pinned_url()  # what enqueue_campaign gives every chunk
    with redis.Redis(port=journal_redis.port) as db:  # Redis lost its data (no persistence)
        for key in db.scan_iter(match="*"):
            db.delete(key)
    again = task.apply(args=(numbers(3), "Hi"), kwargs={"journal": pinned})
    with pytest.raises(JournalError, match="lost the campaign"):
        again.get()
    assert len(attempts) == 2  # the first chunk, and the wiped one once: no retry
    assert len(fake.messages) == 3  # nobody twice


def test_a_chunk_whose_journal_cannot_be_reached_is_retried() -> None:
    fake = FakeTextFlow(credits=CREDITS)
    task, attempts = _counting_task(2, fake)
    url = f"redis://127.0.0.1:{free_port()}/0?campaign={campaign()}"  # nobody listens
    result = task.apply(args=(numbers(2), "Hi"), kwargs={"journal": url})
    with pytest.raises(JournalError, match="cannot be used"):
        result.get()
    assert len(attempts) == 3  # the first try and its 2 retries
    assert fake.messages == []


def test_a_chunk_on_a_database_that_does_not_exist_fails_at_once(
    journal_postgres: PostgresServer,
) -> None:
    # the server answers FATAL: the same on every retry
    fake = FakeTextFlow(credits=CREDITS)
    task, attempts = _counting_task(2, fake)
    url = f"{journal_postgres.url('no_such_database')}?campaign={campaign()}"
    result = task.apply(args=(numbers(2), "Hi"), kwargs={"journal": url})
    with pytest.raises(JournalError, match="does not exist"):
        result.get()
    assert len(attempts) == 1
    assert fake.messages == []


def test_a_chunk_whose_postgres_journal_times_out_on_a_lock_is_retried(
    journal_postgres: PostgresServer,
) -> None:
    # a lock held longer than the journal's timeout= passes: retried, not failed for good
    import psycopg

    fake = FakeTextFlow(credits=CREDITS)
    task, attempts = _counting_task(2, fake)
    plain = f"{journal_postgres.url()}?campaign={campaign()}"
    # The tables and the campaign made with the default timeout: under load, making them
    # can take longer than the short one the task's journal waits on the lock with.
    PostgresJournal(plain, heartbeat=False).close()
    url = f"{plain}&timeout=0.2"
    with psycopg.connect(journal_postgres.url()) as other:  # a transaction left open
        other.execute("LOCK TABLE textflow_journal IN ACCESS EXCLUSIVE MODE")
        result = task.apply(args=(numbers(2), "Hi"), kwargs={"journal": url})
        with pytest.raises(JournalError, match="timeout"):
            result.get()
    assert len(attempts) == 3  # the first try and its 2 retries
    assert fake.messages == []
