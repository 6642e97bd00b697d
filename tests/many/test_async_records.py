"""Outcomes handed to the journal in batches: the async driver takes the records of sends
that ended together to its worker thread in one hop (``record_many`` when the journal has
it), and each recipient still counts as done only once its outcome is stored."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Optional

import anyio
import anyio.lowlevel
import pytest

import textflow
from textflow._many._async import _store, send_many
from textflow._many._recipients import message_key
from textflow.models import SendMessageOk
from textflow.testing import FakeTextFlow

from tests.many.many_support import Sender, numbers


class BatchJournal:
    """A store with ``record_many``: a dict, and the batches it was handed."""

    def __init__(self, fail_records: bool = False) -> None:
        self.rows: dict[str, str] = {}
        self.batches: list[list[str]] = []
        self.fail_records = fail_records
        self._lock = threading.Lock()

    def state(self, key: str) -> Optional[str]:
        return self.rows.get(key)

    def claim(self, key: str, phone_number: str, *, resend_maybe_sent: bool) -> bool:
        with self._lock:
            if key in self.rows:
                return False
            self.rows[key] = "sending"
            return True

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        self.record_many([(key, status, detail)])

    def record_many(self, records: Sequence[tuple[str, str, Optional[str]]]) -> None:
        with self._lock:
            self.batches.append([key for key, _, _ in records])
            if self.fail_records:
                raise textflow.JournalError("the store is gone")
            for key, status, _ in records:
                self.rows[key] = status

    def close(self) -> None:
        pass


class Gated:
    """The fake's async client, whose sends all wait for one gate: they end together."""

    def __init__(self, fake: FakeTextFlow, count: int) -> None:
        self.client = fake.async_client()
        self.gate = anyio.Event()
        self.waiting = 0
        self.count = count

    async def send_sms(self, phone_number: str, text: str) -> SendMessageOk:
        self.waiting += 1
        if self.waiting == self.count:
            self.gate.set()
        await self.gate.wait()
        result: SendMessageOk = await self.client.send_sms(phone_number, text)
        return result


@pytest.mark.anyio
async def test_each_recipient_counts_as_done_only_once_its_outcome_is_stored(
    many: Sender,
) -> None:
    journal = BatchJournal()
    unstored: list[str] = []

    def progress(step: textflow.Progress) -> None:
        key = message_key(step.outcome.phone_number, "Hi")
        if journal.rows.get(key) != "sent":
            unstored.append(step.outcome.phone_number)

    report = await many.send(
        numbers(60), "Hi", concurrency=20, journal=journal, on_progress=progress
    )
    assert report.sent == 60
    assert unstored == []
    assert sorted(key for batch in journal.batches for key in batch) == sorted(journal.rows)


@pytest.mark.anyio
async def test_sends_that_end_together_are_recorded_in_one_hop(fake: FakeTextFlow) -> None:
    """20 sends end at once: the first to end takes its record to the thread alone, the
    19 that end meanwhile go together in the next hop: 2 batches, not 20."""
    journal = BatchJournal()
    sender = Gated(fake, 20)
    try:
        report = await send_many(sender, numbers(20), "Hi", concurrency=20, journal=journal)
    finally:
        await sender.client.aclose()
    assert report.sent == 20
    assert [len(batch) for batch in journal.batches] == [1, 19]
    assert set(journal.rows.values()) == {"sent"}


@pytest.mark.anyio
async def test_a_batch_the_journal_could_not_store_is_maybe_sent_and_stops_the_run(
    fake: FakeTextFlow,
) -> None:
    journal = BatchJournal(fail_records=True)
    sender = Gated(fake, 20)
    try:
        with pytest.raises(textflow.JournalError, match="the store is gone") as caught:
            await send_many(sender, numbers(40), "Hi", concurrency=20, journal=journal)
    finally:
        await sender.client.aclose()
    report: Any = caught.value.report
    assert report.sent == 0
    assert report.maybe_sent == len(fake.messages) == 20  # the first 20 only: then it stops
    assert sum(len(batch) for batch in journal.batches) == 20


class SlowFirstBatch(BatchJournal):
    """The first batch of records waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.first_in = threading.Event()
        self.release = threading.Event()

    def record_many(self, records: Sequence[tuple[str, str, Optional[str]]]) -> None:
        if not self.first_in.is_set():
            self.first_in.set()
            assert self.release.wait(10)  # a guard against a hang: the test sets it
        super().record_many(records)


@pytest.mark.anyio
async def test_sends_cancelled_while_their_records_wait_still_store_them(
    fake: FakeTextFlow,
) -> None:
    """The caller cancels while 19 answered sends wait behind a slow hop: their outcomes
    are stored all the same (none left ``sending``, to turn ``maybe_sent``)."""
    journal = SlowFirstBatch()
    sender = Gated(fake, 20)
    try:
        async with anyio.create_task_group() as group:

            async def run() -> None:
                await send_many(sender, numbers(20), "Hi", concurrency=20, journal=journal)

            group.start_soon(run)
            await anyio.to_thread.run_sync(journal.first_in.wait, 10)
            for _ in range(50):  # the other 19 end and queue behind the first hop
                await anyio.lowlevel.checkpoint()
            group.cancel_scope.cancel()
            journal.release.set()
    finally:
        await sender.client.aclose()
    assert len(fake.messages) == 20
    assert journal.rows == {message_key(n, "Hi"): "sent" for n in numbers(20)}


@pytest.mark.anyio
async def test_an_interrupt_as_a_record_hop_starts_leaves_nobody_silently_done(
    fake: FakeTextFlow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C (KeyboardInterrupt) lands in the hop that takes 19 records to the journal,
    before its thread starts: the 19 were marked done, neither recorded nor counted (the
    journal kept them ``sending``, the report lost them). Now they are stored at once."""
    journal = BatchJournal()
    sender = Gated(fake, 20)
    real = anyio.to_thread.run_sync
    hops: list[int] = []

    async def interrupted(function: Any, *args: Any, **options: Any) -> Any:
        if function is _store:  # a record hop: (run, its batch, ...)
            hops.append(len(args[1]))
            if len(hops) == 2:  # the batch of 19: the signal comes before its thread runs
                raise KeyboardInterrupt
        return await real(function, *args, **options)

    monkeypatch.setattr(anyio.to_thread, "run_sync", interrupted)
    try:
        with pytest.raises(textflow.SendManyInterrupted) as caught:
            await send_many(sender, numbers(20), "Hi", concurrency=20, journal=journal)
    finally:
        await sender.client.aclose()
    assert hops == [1, 19]
    report = caught.value.report
    assert (report.sent, report.maybe_sent) == (20, 0)
    assert journal.rows == {message_key(n, "Hi"): "sent" for n in numbers(20)}
