"""max_per_second: no one-second window ever holds more sends than the limit."""

from __future__ import annotations

import random
from typing import Any

import anyio
import pytest

import textflow
from textflow._many import _async
from textflow._many._rate import RateLimiter
from textflow.testing import FakeTextFlow

from tests.many.many_support import numbers


def busiest_window(starts: list[float]) -> int:
    """The most starts in any window [t, t + 1) (the busiest one starts at a start)."""
    ordered = sorted(starts)
    return max(sum(1 for s in ordered if t <= s < t + 1.0) for t in ordered)


class Clock:
    """Time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("per_second", [1, 2.5, 3, 20, 50, 0.5])
def test_no_window_over_the_limit_whatever_the_arrivals(per_second: float) -> None:
    rng = random.Random(per_second)  # a fixed seed: the same arrivals every run
    limiter, now, starts = RateLimiter(per_second), 0.0, []
    for _ in range(300):
        now += rng.choice([0.0, 0.0, 0.001, 0.01, 0.2, 1.5])  # bursts and pauses
        start = limiter.reserve(now)
        assert start >= now
        starts.append(start)
        now = start if rng.random() < 0.5 else now  # sometimes the caller waits, sometimes not
    assert busiest_window(starts) <= max(1, int(per_second))


def test_starts_are_evenly_spaced_and_a_pause_gives_no_burst() -> None:
    limiter = RateLimiter(10)
    assert [round(limiter.reserve(0.0), 9) for _ in range(3)] == [0.0, 0.1, 0.2]
    # after a long pause, the next start is at once, the one after 0.1 s later
    assert limiter.reserve(50.0) == 50.0
    assert round(limiter.reserve(50.0), 9) == 50.1


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_bad_rates(bad: float) -> None:
    with pytest.raises(ValueError, match="max_per_second"):
        RateLimiter(bad)


def test_not_a_number() -> None:
    with pytest.raises(TypeError, match="max_per_second"):
        RateLimiter(True)


@pytest.mark.anyio
async def test_async_send_many_at_20_per_second_on_the_fakes_clock() -> None:
    """100 sends at concurrency 50: the fake's own timestamps show at most 20 a second."""
    clock = Clock()
    fake = FakeTextFlow(credits=1000, clock=clock)

    async def sleep(seconds: float) -> None:
        await anyio.lowlevel.checkpoint()  # let the send just started reach the fake first
        clock.sleep(seconds)

    async with fake.async_client() as client:
        report = await _async.send_many(
            client,
            numbers(100),
            "Hi",
            concurrency=50,
            max_per_second=20,
            _clock=clock,
            _sleep=sleep,
        )
    assert report.sent == 100
    stamps = [m.timestamp / 1000 for m in fake.messages]
    assert len(stamps) == 100
    assert busiest_window(stamps) <= 20
    assert max(stamps) - min(stamps) >= 99 / 20 - 0.002  # paced, not just capped (ms stamps)


def test_sync_send_many_is_paced_in_real_time() -> None:
    """A lower bound only (a busy machine can only make it slower): 30 sends at 20/s."""
    fake = FakeTextFlow(credits=1000)
    with fake.client() as client:
        report = client.send_many(numbers(30), "Hi", concurrency=5, max_per_second=20)
    assert report.sent == 30
    stamps = sorted(m.timestamp / 1000 for m in fake.messages)
    assert stamps[-1] - stamps[0] >= 29 / 20 - 0.01  # the fake's clock is in milliseconds


def test_the_sync_runner_sleeps_what_the_limiter_says() -> None:
    from textflow._many import _sync

    clock = Clock()
    sent_at: list[float] = []
    fake = FakeTextFlow(credits=1000)

    class Recording:
        def __init__(self, client: Any) -> None:
            self.client = client

        def send_sms(self, phone_number: str, text: str) -> textflow.SendMessageResult:
            sent_at.append(clock())
            result: textflow.SendMessageResult = self.client.send_sms(phone_number, text)
            return result

    with fake.client() as client:
        report = _sync.send_many(
            Recording(client),  # type: ignore[arg-type]
            numbers(40),
            "Hi",
            concurrency=1,
            max_per_second=10,
            _clock=clock,
            _sleep=clock.sleep,
        )
    assert report.sent == 40
    assert busiest_window(sent_at) <= 10
    assert sent_at[-1] - sent_at[0] >= 39 / 10 - 1e-6
