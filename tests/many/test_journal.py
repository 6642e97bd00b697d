"""The journal: a rerun never sends twice, and a killed run leaves a journal that reads right."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import anyio
import pytest

import textflow
from textflow import JournalBusyError, JournalError, SQLiteJournal
from textflow._many._recipients import message_key
from textflow.testing import FakeTextFlow

from tests.many.many_support import Sender, numbers
from tests.tools import missing, require_tool

INVALID = "+15555550100"
TIMEOUT = 20.0  # seconds a subprocess may take; it normally takes well under one


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "campaign.db"


@pytest.mark.anyio
async def test_a_rerun_sends_only_to_those_not_sent(many: Sender, journal_path: Path) -> None:
    recipients = numbers(30)
    many.fake.balance = "1.50"  # ten SMS: the run stops there
    with pytest.raises(textflow.SendManyStopped):
        await many.send(recipients, "Hi", concurrency=3, journal=str(journal_path))
    first = [m.phone_number for m in many.fake.messages]
    assert len(first) == 10
    many.fake.balance = 100
    report = await many.send(recipients, "Hi", concurrency=3, journal=journal_path)
    delivered = [m.phone_number for m in many.fake.messages]
    assert sorted(delivered) == sorted(recipients)  # everyone once, nobody twice
    assert (report.sent, report.skipped) == (20, 10)
    assert {o.previous for o in report.with_status("skipped")} == {"sent"}
    with SQLiteJournal(journal_path) as journal:
        assert journal.counts() == {"sent": 30}


@pytest.mark.anyio
async def test_a_trunk_zero_in_brackets_is_the_same_recipient(
    many: Sender, journal_path: Path
) -> None:
    """The journal keys the number as TextFlow sees it: a rerun with the other spelling
    of the same number sends nothing."""
    await many.send(["+44 (0)7700 900123"], "Hi", journal=journal_path)
    report = await many.send(["+44 7700 900123"], "Hi", journal=journal_path)
    assert (report.sent, report.skipped) == (0, 1)
    assert [m.phone_number for m in many.fake.messages] == ["+447700900123"]


@pytest.mark.anyio
async def test_maybe_sent_is_not_sent_again_unless_asked(many: Sender, journal_path: Path) -> None:
    many.fake.fail_next("send_sms", status=502)
    report = await many.send(numbers(3), "Hi", concurrency=1, journal=journal_path)
    assert (report.sent, report.maybe_sent) == (2, 1)
    report = await many.send(numbers(3), "Hi", concurrency=1, journal=journal_path)
    assert (report.sent, report.skipped) == (0, 3)
    assert sorted(o.previous or "" for o in report.outcomes) == ["maybe_sent", "sent", "sent"]
    report = await many.send(
        numbers(3), "Hi", concurrency=1, journal=journal_path, resend_maybe_sent=True
    )
    assert (report.sent, report.skipped) == (1, 2)
    assert len(many.fake.messages) == 3


@pytest.mark.anyio
async def test_refused_recipients_are_tried_again(many: Sender, journal_path: Path) -> None:
    many.fake.fail_next("send_sms", status=400)  # the first is refused, not sent
    first = await many.send(numbers(2), "Hi", concurrency=1, journal=journal_path)
    assert (first.sent, first.refused) == (1, 1)
    report = await many.send(numbers(2), "Hi", concurrency=1, journal=journal_path)
    assert (report.sent, report.skipped) == (1, 1)
    assert sorted(m.phone_number for m in many.fake.messages) == numbers(2)


@pytest.mark.anyio
async def test_a_new_text_is_a_new_message(many: Sender, journal_path: Path) -> None:
    await many.send(numbers(2), "Sale starts Monday", journal=journal_path)
    report = await many.send(numbers(2), "Sale starts Tuesday", journal=journal_path)
    assert report.sent == 2
    assert len(many.fake.messages) == 4


@pytest.mark.anyio
async def test_the_same_message_twice_in_one_run_is_sent_once(
    many: Sender, journal_path: Path
) -> None:
    report = await many.send(["+12025550001"] * 5, "Hi", concurrency=3, journal=journal_path)
    assert len(many.fake.messages) == 1
    assert (report.sent, report.skipped) == (1, 4)
    assert {o.previous for o in report.with_status("skipped")} <= {"sending", "sent"}


def test_a_claim_without_a_record_reads_as_maybe_sent(journal_path: Path) -> None:
    key = message_key("+12025550001", "Hi")
    with SQLiteJournal(journal_path) as journal:
        assert journal.state(key) is None
        assert journal.claim(key, "+12025550001", resend_maybe_sent=False)
        assert journal.state(key) == "sending"
        assert not journal.claim(key, "+12025550001", resend_maybe_sent=True)
    with SQLiteJournal(journal_path) as journal:  # as after a crash: never recorded
        assert journal.state(key) == "maybe_sent"
        assert not journal.claim(key, "+12025550001", resend_maybe_sent=False)
        assert journal.claim(key, "+12025550001", resend_maybe_sent=True)
        journal.record(key, "sent", "Message sent successfully")
        assert journal.counts() == {"sent": 1}


def test_record_refuses_an_unknown_status(journal_path: Path) -> None:
    with SQLiteJournal(journal_path) as journal, pytest.raises(ValueError, match="status"):
        journal.record("k", "skipped", None)


def test_two_runs_on_one_journal_at_once_are_refused(journal_path: Path) -> None:
    first = SQLiteJournal(journal_path)
    try:
        with pytest.raises(JournalBusyError, match="in use by another run"):
            SQLiteJournal(journal_path)
    finally:
        first.close()
    SQLiteJournal(journal_path).close()  # free again once the first is closed


def test_a_journal_that_is_not_a_database_is_a_journal_error_with_the_cause(
    journal_path: Path,
) -> None:
    journal_path.write_bytes(b"not a database" * 100)
    with pytest.raises(JournalError, match="cannot be used") as caught:
        SQLiteJournal(journal_path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    assert not isinstance(caught.value, sqlite3.Error)  # never a bare sqlite3 error


@pytest.mark.anyio
async def test_send_many_on_a_file_that_is_not_a_journal_raises_journal_error(
    many: Sender, journal_path: Path
) -> None:
    journal_path.write_bytes(b"not a database" * 100)
    with pytest.raises(JournalError):
        await many.send(numbers(2), "Hi", journal=journal_path)
    assert many.fake.messages == []


@pytest.mark.anyio
async def test_a_journal_that_fails_mid_run_stops_the_run_with_journal_error(
    many: Sender, journal_path: Path
) -> None:
    journal = SQLiteJournal(journal_path)
    journal.close()  # every later call fails inside SQLite
    with pytest.raises(JournalError) as caught:
        await many.send(numbers(2), "Hi", journal=journal)
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert many.fake.messages == []


def test_a_busy_journal_is_a_journal_error_too() -> None:
    assert issubclass(JournalBusyError, JournalError)
    assert issubclass(JournalBusyError, RuntimeError)  # as before


def test_the_journal_holds_numbers_and_hashes_never_the_key_or_text(
    fake: FakeTextFlow, journal_path: Path
) -> None:
    with fake.client() as client:
        client.send_many(numbers(3), "Secret sale code XYZZY", journal=journal_path)
    stored = b"".join(p.read_bytes() for p in journal_path.parent.iterdir())
    assert fake.api_key.encode() not in stored
    assert b"XYZZY" not in stored
    assert numbers(1)[0].encode() in stored  # the numbers are kept: the docs say so
    with SQLiteJournal(journal_path) as journal:
        assert repr(journal).startswith("SQLiteJournal(")


class MemoryJournal:
    """Another store, through the Journal protocol: a dict."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}
        self.closed = False

    def state(self, key: str) -> Optional[str]:
        return self.rows.get(key)

    def claim(self, key: str, phone_number: str, *, resend_maybe_sent: bool) -> bool:
        done = {"sent", "sending"} | (set() if resend_maybe_sent else {"maybe_sent"})
        if self.rows.get(key) in done:
            return False
        self.rows[key] = "sending"
        return True

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        self.rows[key] = status

    def close(self) -> None:
        self.closed = True


@pytest.mark.anyio
async def test_any_store_that_keeps_the_protocol(many: Sender) -> None:
    journal = MemoryJournal()
    await many.send([*numbers(3), INVALID], "Hi", journal=journal)
    report = await many.send([*numbers(4), INVALID], "Hi", journal=journal)
    assert (report.sent, report.skipped, report.refused) == (1, 3, 1)
    assert len(many.fake.messages) == 4
    assert not journal.closed  # the caller's journal is the caller's to close
    assert sorted(journal.rows.values()) == ["refused", "sent", "sent", "sent", "sent"]


CHILD = textwrap.dedent(
    """
    import sys
    from textflow import TextFlowClient
    numbers = [f"+1202555{i:04d}" for i in range(10)]
    with TextFlowClient(max_retries=0) as client:
        report = client.send_many(numbers, "Hi", concurrency=1, journal=sys.argv[1])
    skipped = sorted(o.previous for o in report.with_status("skipped"))
    print(report.sent, report.skipped, ",".join(skipped))
    """
)


def test_kill_9_mid_send_then_rerun(journal_path: Path) -> None:
    fake = FakeTextFlow(credits=100)
    for _ in range(3):
        fake.fail_next("send_sms", delay=0.001)  # answered at once
    fake.fail_next("send_sms", delay=60)  # processed, answered a minute later: in flight
    with fake.serve() as base_url:
        env = {**os.environ, "TEXTFLOW_API_KEY": fake.api_key, "TEXTFLOW_BASE_URL": base_url}
        env.pop("TEXTFLOW_LOG", None)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(journal_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + TIMEOUT
            while len(fake.messages) < 4 and time.monotonic() < deadline:
                assert child.poll() is None, child.communicate()
                time.sleep(0.01)
            assert len(fake.messages) == 4
        finally:
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=TIMEOUT)
        assert child.returncode == -signal.SIGKILL

        with SQLiteJournal(journal_path) as journal:  # readable; the one in flight is maybe sent
            assert journal.counts() == {"maybe_sent": 1, "sent": 3}

        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(journal_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=True,
        )
    assert done.stdout.split() == ["6", "4", "maybe_sent,sent,sent,sent"]
    delivered = [m.phone_number for m in fake.messages]
    assert sorted(delivered) == [f"+1202555{i:04d}" for i in range(10)]  # each at most once


class _RecordsFailAfter:
    """A SQLite journal whose writes of outcomes fail after ``good`` of them (a full disk)."""

    def __init__(self, path: Path, good: int) -> None:
        self.inner = SQLiteJournal(path)
        self.good = good

    def state(self, key: str) -> Optional[str]:
        return self.inner.state(key)

    def claim(self, key: str, phone_number: str, *, resend_maybe_sent: bool) -> bool:
        return self.inner.claim(key, phone_number, resend_maybe_sent=resend_maybe_sent)

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        if self.good <= 0:
            raise JournalError("The journal cannot be written: database or disk is full")
        self.good -= 1
        self.inner.record(key, status, detail)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.anyio
async def test_a_write_failure_mid_run_reports_the_sends_in_flight_as_maybe_sent(
    many: Sender, journal_path: Path
) -> None:
    journal = _RecordsFailAfter(journal_path, good=3)
    with pytest.raises(JournalError) as caught:
        await many.send(numbers(10), "Hi", journal=journal, concurrency=1)
    journal.close()
    report = caught.value.report
    assert report is not None
    assert (report.sent, report.maybe_sent) == (3, 1)  # the fourth went out, unrecorded
    assert [o.status for o in report.outcomes][-1] == "maybe_sent"
    rerun = await many.send(numbers(10), "Hi", journal=journal_path, concurrency=1)
    assert (rerun.sent, rerun.skipped) == (6, 4)  # the fourth is maybe_sent: not again
    assert sorted(m.phone_number for m in many.fake.messages) == numbers(10)


@pytest.mark.anyio
async def test_a_journal_in_a_folder_that_is_not_there(many: Sender, tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="cannot be used") as caught:
        await many.send(numbers(2), "Hi", journal=tmp_path / "absent" / "campaign.db")
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert many.fake.messages == []


class _WaitsForTheLoop(MemoryJournal):
    """A journal whose every call blocks until a task on the event loop lets it go: run on
    the loop itself, it would wait for a task that cannot run (and fail after 10 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()
        self.callers: set[int] = set()

    def _wait(self) -> None:
        self.callers.add(threading.get_ident())
        if not self.go.wait(10.0):  # a guard against a hang: the loop sets it at once
            raise RuntimeError("the journal was called on the event loop and blocked it")

    def state(self, key: str) -> Optional[str]:
        self._wait()
        return super().state(key)

    def claim(self, key: str, phone_number: str, *, resend_maybe_sent: bool) -> bool:
        self._wait()
        return super().claim(key, phone_number, resend_maybe_sent=resend_maybe_sent)

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        self._wait()
        super().record(key, status, detail)


@pytest.mark.anyio
async def test_the_async_driver_never_blocks_the_loop_on_the_journal(fake: FakeTextFlow) -> None:
    journal = _WaitsForTheLoop()
    loop_thread = threading.get_ident()
    progress_threads: list[int] = []

    async def let_go() -> None:
        await anyio.sleep(0.01)  # the first journal call is waiting by now, in a thread
        journal.go.set()

    async with fake.async_client() as client, anyio.create_task_group() as group:
        group.start_soon(let_go)
        report = await client.send_many(
            numbers(5),
            "Hi",
            journal=journal,
            on_progress=lambda _: progress_threads.append(threading.get_ident()),
        )
    assert report.sent == 5
    assert sorted(journal.rows.values()) == ["sent"] * 5
    assert loop_thread not in journal.callers
    assert progress_threads == [loop_thread] * 5  # on_progress is called on the loop


@pytest.mark.anyio
async def test_a_journal_on_a_full_disk_stops_with_journal_error_and_a_rerun_sends_nobody_twice(
    many: Sender, journal_path: Path
) -> None:
    # SQLite's own "database or disk is full" (SQLITE_FULL), reached by capping the
    # file's pages a little above what the empty journal takes
    journal = SQLiteJournal(journal_path)
    pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
    journal._db.execute(f"PRAGMA max_page_count = {pages + 1}")
    with pytest.raises(JournalError, match="full") as caught:
        await many.send(numbers(300), "Hi", journal=journal, concurrency=4)
    journal.close()
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    report = caught.value.report
    assert report is not None
    assert 0 < report.sent < 300
    assert report.sent + report.maybe_sent == len(many.fake.messages)
    rerun = await many.send(numbers(300), "Hi", journal=journal_path, concurrency=4)
    delivered = collections.Counter(m.phone_number for m in many.fake.messages)
    assert set(delivered.values()) == {1}  # nobody twice
    # the first run's maybe_sent, and any claim it could not give back (the disk took no
    # more), which reads maybe_sent on reopening: skipped; everyone else is sent
    assert rerun.sent + rerun.skipped == 300
    unknown = {o.phone_number for o in rerun.with_status("skipped") if o.previous == "maybe_sent"}
    assert len(unknown) <= 2 * 4
    assert set(numbers(300)) - unknown <= set(delivered)


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """``folder`` made read-only: chmod for a user, the immutable flag for root (whom
    permissions do not stop); checked by trying to write in it."""
    if os.geteuid() == 0:
        chattr = require_tool("chattr", "apt-get install e2fsprogs")
        # a file system without the flag leaves it writable: found by the probe below
        subprocess.run([chattr, "+i", str(folder)], check=False, capture_output=True)
        undo = [chattr, "-i", str(folder)]
    else:
        folder.chmod(0o555)
        undo = []
    try:
        try:
            (folder / "probe").touch()
        except OSError:
            pass
        else:
            missing("a folder that can be made read-only", "a file system with chattr +i")
        yield
    finally:
        if undo:
            subprocess.run(undo, check=False, capture_output=True)
        folder.chmod(0o755)


@pytest.mark.anyio
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
async def test_a_journal_in_a_read_only_folder_is_a_journal_error_before_sending(
    many: Sender, tmp_path: Path, existing: bool
) -> None:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    path = folder / "campaign.db"
    if existing:  # a journal from an earlier run: its write-ahead log cannot be created
        SQLiteJournal(path).close()
    with _read_only(folder), pytest.raises(JournalError, match="cannot be used") as caught:
        await many.send(numbers(2), "Hi", journal=path)
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert many.fake.messages == []
