"""The rate limit shared through Redis: the starts it books, for many limiters at once.

The bookings are Redis's arithmetic on Redis's clock, so the windows are
checked exactly; the end-to-end run with worker processes is in
test_shared_campaigns.py.
"""

from __future__ import annotations

import threading
import uuid
from typing import Optional

import pytest

from textflow import InputValidationError, JournalError
from textflow._many._shared_rate import SharedRateLimiter

from tests.many.stores_support import RedisServer, free_port


def _busiest(starts: list[float], window: float) -> int:
    starts = sorted(starts)
    return max(sum(1 for t in starts[i:] if t < start + window) for i, start in enumerate(starts))


def _book_from_threads(
    url: str,
    count: int,
    *,
    max_per_second: Optional[float] = None,
    max_per_minute: Optional[float] = None,
) -> list[float]:
    """Four limiters (four connections, as four workers) book ``count`` starts together."""
    starts: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        limiter = SharedRateLimiter(
            url, max_per_second=max_per_second, max_per_minute=max_per_minute
        )
        try:
            for _ in range(count // 4):
                start, _ = limiter.book()
                with lock:
                    starts.append(start)
        finally:
            limiter.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return starts


def test_no_second_holds_more_than_max_per_second(journal_redis: RedisServer) -> None:
    url = f"{journal_redis.url}?name={uuid.uuid4().hex}"
    starts = _book_from_threads(url, 200, max_per_second=20)
    assert len(starts) == 200
    assert _busiest(starts, 1.0) == 20
    assert max(starts) - min(starts) >= (200 - 20) / 20  # booked ahead, not all at once


def test_a_minute_limit_holds_with_a_second_limit(journal_redis: RedisServer) -> None:
    url = f"{journal_redis.url}?name={uuid.uuid4().hex}"
    starts = _book_from_threads(url, 40, max_per_second=50, max_per_minute=30)
    assert _busiest(starts, 60.0) == 30
    assert _busiest(starts, 1.0) <= 50


def test_limits_with_other_names_do_not_share(journal_redis: RedisServer) -> None:
    first = SharedRateLimiter(f"{journal_redis.url}?name=a-{uuid.uuid4().hex}", max_per_second=1)
    other = SharedRateLimiter(f"{journal_redis.url}?name=b-{uuid.uuid4().hex}", max_per_second=1)
    try:
        assert first.wait() == 0.0
        assert other.wait() == 0.0
        assert first.wait() > 0.5
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
        limiter.wait()
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
