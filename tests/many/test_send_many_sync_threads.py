"""The sync ``send_many``'s sending threads: at most ``concurrency``, started as needed,
all ended when the run returns or raises, whatever ended it.

Sync only: the async driver runs its sends as tasks, with no thread of its own.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Optional

import pytest

from textflow import JournalError, SendManyInterrupted, SendReport, TextFlowClient
from textflow.models import SendMessageOk
from textflow.testing import FakeTextFlow

from tests.many.many_support import CREDITS, numbers

GUARD = 30.0  # seconds: a guard against a hang, not a measure
THREADS = "textflow-send-many"


class Recording:
    """A client that remembers which thread sent each message."""

    def __init__(self, client: TextFlowClient, fails_at: Optional[str] = None) -> None:
        self.client = client
        self.fails_at = fails_at
        self.threads: Counter[str] = Counter()
        self._lock = threading.Lock()

    def send_sms(self, phone_number: str, text: str) -> SendMessageOk:
        with self._lock:
            self.threads[threading.current_thread().name] += 1
        if phone_number == self.fails_at:
            raise KeyboardInterrupt  # some code in the send raised it
        return self.client.send_sms(phone_number, text)


def _sending_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(THREADS)]


def _all_ended(before: int) -> bool:
    """The run's sending threads end, and no other thread is left (within the guard)."""
    for thread in _sending_threads():
        thread.join(GUARD)
    return threading.active_count() == before


@pytest.fixture
def fake() -> FakeTextFlow:
    return FakeTextFlow(credits=CREDITS)


def _send_many(client: Recording, recipients: list[str], concurrency: int) -> SendReport:
    from textflow._many._sync import send_many

    return send_many(client, recipients, "Hi", concurrency=concurrency)


@pytest.mark.parametrize(("count", "concurrency"), [(1000, 50), (20, 1), (3, 10), (0, 5)])
def test_at_most_concurrency_threads_each_recipient_once_and_none_left(
    fake: FakeTextFlow, count: int, concurrency: int
) -> None:
    before = threading.active_count()
    with fake.client() as client:
        recording = Recording(client)
        report = client.send_many(numbers(count), "Hi", concurrency=concurrency)
        assert report.sent == count
        again = _send_many(recording, numbers(count, start=count), concurrency)
        assert again.sent == count
    assert Counter(m.phone_number for m in fake.messages) == Counter(numbers(2 * count))
    assert len(recording.threads) <= min(count, concurrency)
    assert all(name.startswith(f"{THREADS}_") for name in recording.threads)
    assert _all_ended(before)


def test_a_generator_that_raises_midway_stops_the_run_after_the_sends_in_flight(
    fake: FakeTextFlow,
) -> None:
    def recipients() -> Iterator[str]:
        yield from numbers(7)
        raise ValueError("the input broke")

    before = threading.active_count()
    with fake.client() as client, pytest.raises(ValueError, match="the input broke"):
        client.send_many(recipients(), "Hi", concurrency=3)
    assert sorted(m.phone_number for m in fake.messages) == numbers(7)
    assert _all_ended(before)


def test_a_keyboard_interrupt_raised_in_a_send_stops_the_run_with_the_report(
    fake: FakeTextFlow,
) -> None:
    """It was lost with the pool's future: the run went on, and that recipient was
    missing from the report."""
    before = threading.active_count()
    with fake.client() as client:
        recording = Recording(client, fails_at=numbers(20)[4])
        with pytest.raises(SendManyInterrupted) as caught:
            _send_many(recording, numbers(20), 2)
    report = caught.value.report
    assert report.sent == len(fake.messages) < 20
    assert numbers(20)[4] not in {m.phone_number for m in fake.messages}
    assert _all_ended(before)


class FailingJournal:
    """A journal whose records fail after the first ``good``."""

    def __init__(self, good: int) -> None:
        self.good = good
        self.claimed: set[str] = set()

    def state(self, key: str) -> Optional[str]:
        return None

    def claim(self, key: str, phone_number: str, *, resend_maybe_sent: bool = False) -> bool:
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True

    def record(self, key: str, status: str, detail: Optional[str] = None) -> None:
        if self.good <= 0:
            raise JournalError("the journal is gone")
        self.good -= 1

    def close(self) -> None:
        pass


def test_a_journal_that_fails_stops_the_run_and_leaves_no_thread(fake: FakeTextFlow) -> None:
    before = threading.active_count()
    with fake.client() as client, pytest.raises(JournalError) as caught:
        client.send_many(numbers(30), "Hi", concurrency=4, journal=FailingJournal(good=5))
    report = caught.value.report
    assert report is not None
    assert report.sent == 5
    assert report.sent + report.maybe_sent == len(fake.messages)  # each send is counted
    assert _all_ended(before)
