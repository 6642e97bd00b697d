"""The rate limit shared through Redis: the permits it grants, for many limiters at once.

The end-to-end run with worker processes and the fake's arrival times is in
test_shared_campaigns.py.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from pathlib import Path

import pytest

from textflow import InputValidationError, JournalError, SQLiteJournal
from textflow._many._shared_rate import SharedRateLimiter
from textflow.testing import FakeTextFlow

from tests.many.many_support import CREDITS, Sender, numbers
from tests.many.stores_support import RedisServer, free_port


def _busiest(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times))


def test_no_second_at_the_receiver_holds_more_than_max_per_second(
    journal_redis: RedisServer,
) -> None:
    """Four limiters (four connections, as four workers) send 60 together; each send
    spends a random time on the way (so later ones overtake it) and back."""
    url = f"{journal_redis.url}?name={uuid.uuid4().hex}"
    arrivals: list[float] = []
    lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        limiter = SharedRateLimiter(url, max_per_second=20)
        try:
            for _ in range(15):
                while True:
                    permit, wait = limiter.take()
                    time.sleep(wait)
                    if permit is not None:
                        break
                time.sleep(rng.choice([0.0, 0.001, 0.02, 0.3]))  # on the way
                with lock:
                    arrivals.append(time.monotonic())
                time.sleep(rng.choice([0.0, 0.001, 0.02, 0.3]))  # the answer on its way back
                limiter.give_back(permit)
        finally:
            limiter.close()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(arrivals) == 60
    assert _busiest(arrivals, 1.0) <= 20
    assert max(arrivals) - min(arrivals) >= (60 - 20) / 20  # paced, not all at once


def test_while_others_hold_every_permit_none_is_granted(journal_redis: RedisServer) -> None:
    limiter = SharedRateLimiter(f"{journal_redis.url}?name={uuid.uuid4().hex}", max_per_second=2)
    try:
        first, wait = limiter.take()
        assert first is not None
        assert wait == 0.0
        second, wait = limiter.take()
        assert second is not None
        assert wait > 0.0
        held, retry = limiter.take()
        assert held is None
        assert retry > 0.0
        limiter.give_back(second)
        third, wait = limiter.take()
        assert third is not None
        assert wait > 0.5
    finally:
        limiter.close()


def test_a_minute_limit_holds_with_a_second_limit(journal_redis: RedisServer) -> None:
    url = f"{journal_redis.url}?name={uuid.uuid4().hex}"
    limiter = SharedRateLimiter(url, max_per_second=1000, max_per_minute=30)
    try:
        taken = [limiter.take()[0] for _ in range(30)]
        assert None not in taken
        assert limiter.take()[0] is None  # 30 out: none until one comes back
        limiter.give_back(taken[0])
        permit, wait = limiter.take()
        assert permit is not None
        assert wait > 1.0
    finally:
        limiter.close()


def test_a_killed_workers_permits_count_as_given_back_after_the_hold(
    journal_redis: RedisServer,
) -> None:
    url = f"{journal_redis.url}?name={uuid.uuid4().hex}"
    dead = SharedRateLimiter(url, max_per_second=2, hold=0.001)  # never gives back
    alive = SharedRateLimiter(url, max_per_second=2)
    try:
        assert dead.take()[0] is not None
        assert dead.take()[0] is not None
        time.sleep(0.01)
        permit, wait = alive.take()  # the dead ones' permits expired
        assert permit is not None
        assert wait > 0.5
    finally:
        dead.close()
        alive.close()


def test_limits_with_other_names_do_not_share(journal_redis: RedisServer) -> None:
    first = SharedRateLimiter(f"{journal_redis.url}?name=a-{uuid.uuid4().hex}", max_per_second=1)
    other = SharedRateLimiter(f"{journal_redis.url}?name=b-{uuid.uuid4().hex}", max_per_second=1)
    try:
        assert first.take()[1] == 0.0
        assert other.take()[1] == 0.0
        assert first.take()[1] > 0.5
    finally:
        first.close()
        other.close()


def test_a_bad_rate_limit_url_is_refused_before_sending() -> None:
    with pytest.raises(InputValidationError, match="Redis URL"):
        SharedRateLimiter("postgresql://db/x", max_per_second=1)
    with pytest.raises(InputValidationError, match="name"):
        SharedRateLimiter("redis://127.0.0.1/0?name=a:b", max_per_second=1)


def test_redis_down_is_a_journal_error_without_the_password() -> None:
    limiter = SharedRateLimiter(f"redis://user:hunter2@127.0.0.1:{free_port()}/0", max_per_second=1)
    with pytest.raises(JournalError, match="rate limit") as caught:
        limiter.take()
    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is not None


def test_a_redis_journal_object_shares_its_rate_limit(journal_redis: RedisServer) -> None:
    from textflow import RedisJournal
    from textflow._many._run import LocalLimiter, open_limiter, settings

    options = settings(
        text="Hi",
        phone_field="phone_number",
        concurrency=1,
        max_per_second=5,
        on_progress=None,
        stop_on=None,
        resend_maybe_sent=False,
        keep_outcomes=None,
    )
    with RedisJournal(f"{journal_redis.url}?campaign={uuid.uuid4().hex}") as journal:
        limiter = open_limiter(options, journal, lambda: 0.0)
        assert isinstance(limiter, SharedRateLimiter)
        limiter.close()
    assert isinstance(open_limiter(options, "campaign.db", lambda: 0.0), LocalLimiter)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_the_limit_lost_mid_run_stops_the_run_with_every_outcome_kept(
    kind: str, tmp_path: Path
) -> None:
    """Redis (the limit's, not the journal's) dies during the third send: that send's
    answer is still recorded as sent, and the run stops with a JournalError."""
    redis = RedisServer(str(tmp_path))
    redis.start()
    handled: list[int] = []

    def kill_on_third(_: object) -> None:
        handled.append(1)
        if len(handled) == 3:
            redis.kill()

    fake = FakeTextFlow(credits=CREDITS, on_message=kill_on_third)
    many = Sender(kind, fake)
    journal = tmp_path / "campaign.db"
    try:
        with pytest.raises(JournalError, match="rate limit") as caught:
            await many.send(
                numbers(10),
                "Hi",
                concurrency=1,
                journal=journal,
                max_per_second=1000,
                rate_limit=f"{redis.url}?name={uuid.uuid4().hex}",
            )
    finally:
        await many.close()
        redis.stop()
    report = caught.value.report
    assert report is not None
    assert report.sent == len(fake.messages) == 3
    with SQLiteJournal(journal) as kept:
        assert kept.counts() == {"sent": 3}
