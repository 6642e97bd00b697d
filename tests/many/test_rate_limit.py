"""max_per_second: no one-second window at the receiver ever holds more sends than the limit."""

from __future__ import annotations

import heapq
import random
from typing import Any

import anyio
import pytest

import textflow
from textflow._many import _async
from textflow._many._rate import Pacer, RateLimiter, Turn
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


def _simulate(
    pacer: Pacer, sends: int, concurrency: int, rng: random.Random
) -> tuple[list[float], list[float]]:
    """A driver on a simulated clock: (starts, arrivals at the receiver).

    Each send spends a random time on the way there and another on the way back
    (from a millisecond to two seconds: a slow send is overtaken by later ones); the
    permit is given back when the answer is in. Events run in time order."""
    delays = [0.0, 0.001, 0.01, 0.05, 0.3, 0.9, 2.0]
    starts: list[float] = []
    arrivals: list[float] = []
    answers: list[tuple[float, int]] = []  # (when the answer is in, permit): a heap
    now = 0.0
    while len(starts) < sends or answers:
        can_send = len(starts) < sends and len(answers) < concurrency
        if answers and (not can_send or answers[0][0] <= now):
            when, permit = heapq.heappop(answers)
            now = max(now, when) if not can_send else now
            pacer.give_back(permit, when)
            continue
        turn = pacer.take(now)
        if turn.permit is None:
            # nothing comes back before the retry: jump to whichever is first
            now = min(turn.start, answers[0][0]) if answers else turn.start
            continue
        assert turn.start >= now
        now = turn.start  # the driver sleeps until its start, then sends
        arrival = now + rng.choice(delays)
        starts.append(now)
        arrivals.append(arrival)
        heapq.heappush(answers, (arrival + rng.choice(delays), turn.permit))
    return starts, arrivals


@pytest.mark.parametrize("per_second", [1, 2.5, 3, 20, 50, 0.5])
@pytest.mark.parametrize("concurrency", [1, 8, 60])
def test_no_window_at_the_receiver_over_the_limit_whatever_the_delays(
    per_second: float, concurrency: int
) -> None:
    rng = random.Random(f"{per_second}-{concurrency}")  # fixed seeds: the same run each time
    pacer = Pacer([RateLimiter(per_second)])
    starts, arrivals = _simulate(pacer, 300, concurrency, rng)
    assert len(arrivals) == 300
    assert busiest_window(arrivals) <= max(1, int(per_second))
    assert busiest_window(starts) <= max(1, int(per_second))


def test_a_minute_limit_holds_at_the_receiver_with_a_second_limit() -> None:
    rng = random.Random(7)
    pacer = Pacer([RateLimiter(20), RateLimiter(90, window=60.0)])
    _, arrivals = _simulate(pacer, 200, 30, rng)
    ordered = sorted(arrivals)
    assert max(sum(1 for s in ordered if t <= s < t + 60.0) for t in ordered) <= 90
    assert busiest_window(arrivals) <= 20


def test_a_slow_send_holds_back_the_send_one_window_after_it() -> None:
    """Booking starts alone let send 0 (slowed on the way) and send 2 land in one second;
    a permit comes back only with the answer, and counts for a window after that."""
    pacer = Pacer([RateLimiter(2)])
    first, second = pacer.take(0.0), pacer.take(0.0)
    assert (first.start, second.start) == (0.0, 0.5)
    assert pacer.take(0.6) == Turn(None, 1.6)  # both held: not before one comes back
    assert second.permit is not None
    assert first.permit is not None
    pacer.give_back(second.permit, 0.55)
    # send 0 is still out (it may land at any moment): send 2 starts a window after
    # the answer to send 1, so no window holds all three
    assert pacer.take(0.6).start == 1.55


def test_starts_are_evenly_spaced_and_a_pause_gives_no_burst() -> None:
    pacer = Pacer([RateLimiter(10)])

    def start(now: float) -> float:
        turn = pacer.take(now)
        assert turn.permit is not None
        pacer.give_back(turn.permit, turn.start)  # answered at once
        return round(turn.start, 9)

    assert [start(0.0) for _ in range(3)] == [0.0, 0.1, 0.2]
    # after a long pause, the next start is at once, the one after 0.1 s later
    assert start(50.0) == 50.0
    assert start(50.0) == 50.1


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
