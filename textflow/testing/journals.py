"""One conformance suite for ``send_many`` journals: every store passes it, yours too.

Subclass `JournalConformance` (a store one run holds at a time, like
`textflow.SQLiteJournal`) or `SharedJournalConformance` (a store many workers
share, with leased claims, like the Redis and Postgres journals) in a test
module, name the class ``Test...`` and implement ``open_journal``; pytest
collects the inherited tests::

    from textflow.testing.journals import SharedJournalConformance

    class TestMyJournal(SharedJournalConformance):
        def open_journal(self, name, *, clock, lease):
            return MyJournal(f"mystore://db?campaign={name}", clock=clock, lease=lease)

``name`` is a fresh campaign (or file) name per test; opening the same name
again must open the same journal. ``clock`` is a `FakeClock` (seconds since
the epoch) that the tests move; ``lease`` is the claim lease in seconds.
Besides the `textflow.Journal` protocol, the suite uses ``counts()`` (totals
by status) and, for shared stores, ``renew()`` (extend this worker's open
claims) and, when the store has them, ``claim_stale`` (timed on ``clock``) and
``confirm_claim``. Some tests fork processes (POSIX only) and kill one with SIGKILL.

One module (about 380 lines): it is one public suite, imported by one name.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
import unittest
import uuid
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Callable

from textflow._many._journal import Journal

_PROTOCOL = tuple(name for name in vars(Journal) if not name.startswith("_"))

#: Statuses as stored: `send_many` writes these, ``counts()`` reports them.
SENT, REFUSED, MAYBE_SENT, SENDING = "sent", "refused", "maybe_sent", "sending"
START = 1_700_000_000.0
LEASE = 30.0
THREADS = 8
KEYS = 200


class FakeClock:
    """Seconds since the epoch that only move when a test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _keys(count: int) -> list[str]:
    return [f"conformance-{index:05d}" for index in range(count)]


def _number(index: int) -> str:
    return f"+1202555{index % 10000:04d}"


def _forked(work: Callable[[], Sequence[str]]) -> tuple[int, list[str]]:
    """Run ``work`` in a forked child; its exit status (or -signal) and what it returned."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def child() -> None:  # pragma: no cover - runs in the child
        send.send(list(work()))

    process = context.Process(target=child, daemon=True)
    with warnings.catch_warnings():  # forking a threaded test process: the child only runs work
        warnings.simplefilter("ignore", DeprecationWarning)
        process.start()
    send.close()
    try:
        written: list[str] = receive.recv()
    except EOFError:  # the child died first (on purpose, in some tests)
        written = []
    finally:
        receive.close()
    process.join()
    return int(process.exitcode or 0), written


class JournalConformance:
    """What every journal promises; subclass it as ``Test...`` and implement `open_journal`."""

    def open_journal(self, name: str, *, clock: FakeClock, lease: float) -> Any:
        """A journal for ``name`` (the same journal when the name is opened again)."""
        raise NotImplementedError("implement open_journal(name, *, clock, lease)")

    # --- helpers -------------------------------------------------------------------------

    @contextlib.contextmanager
    def opened(self, name: str, clock: FakeClock, lease: float = LEASE) -> Iterator[Any]:
        journal = self.open_journal(name, clock=clock, lease=lease)
        try:
            yield journal
        finally:
            journal.close()

    @staticmethod
    def fresh_name() -> str:
        return f"conformance-{uuid.uuid4().hex[:12]}"

    # --- the tests -----------------------------------------------------------------------

    def test_it_has_the_methods_send_many_calls(self) -> None:
        with self.opened(self.fresh_name(), FakeClock()) as journal:
            for name in (*_PROTOCOL, "counts"):
                assert callable(getattr(journal, name, None)), f"no {name}()"

    def test_a_recipient_is_claimed_once(self) -> None:
        with self.opened(self.fresh_name(), FakeClock()) as journal:
            assert journal.state("a") is None
            assert journal.claim("a", _number(1), resend_maybe_sent=False)
            assert journal.state("a") == SENDING
            assert not journal.claim("a", _number(1), resend_maybe_sent=False)
            assert not journal.claim("a", _number(1), resend_maybe_sent=True)

    def test_outcomes_decide_what_may_be_claimed_again(self) -> None:
        with self.opened(self.fresh_name(), FakeClock()) as journal:
            for key in ("sent", "refused", "maybe"):
                assert journal.claim(key, _number(2), resend_maybe_sent=False)
            journal.record("sent", SENT, "Message sent successfully")
            journal.record("refused", REFUSED, "BadRequestError: invalid")
            journal.record("maybe", MAYBE_SENT, "APITimeoutError: no answer")
            assert [journal.state(k) for k in ("sent", "refused", "maybe")] == [
                SENT,
                REFUSED,
                MAYBE_SENT,
            ]
            assert not journal.claim("sent", _number(2), resend_maybe_sent=True)
            assert not journal.claim("maybe", _number(2), resend_maybe_sent=False)
            assert journal.claim("refused", _number(2), resend_maybe_sent=False)
            assert journal.claim("maybe", _number(2), resend_maybe_sent=True)

    def test_counts_are_totals_by_status(self) -> None:
        with self.opened(self.fresh_name(), FakeClock()) as journal:
            for index, key in enumerate(_keys(6)):
                assert journal.claim(key, _number(index), resend_maybe_sent=False)
            for key in _keys(3):
                journal.record(key, SENT, "ok")
            journal.record(_keys(6)[3], REFUSED, "no")
            assert journal.counts() == {SENDING: 2, REFUSED: 1, SENT: 3}

    def test_claims_from_threads_are_each_won_once(self) -> None:
        with self.opened(self.fresh_name(), FakeClock()) as journal:
            won = self._race(lambda: journal, lambda _journal: None)
        assert sorted(won) == _keys(KEYS)

    def test_claims_from_async_tasks_are_each_won_once(self) -> None:
        """Tasks on one event loop, each calling the journal from worker threads, as the
        async client does."""
        with self.opened(self.fresh_name(), FakeClock()) as journal:

            async def claims() -> list[str]:
                return [
                    key
                    for index, key in enumerate(_keys(KEYS))
                    if await asyncio.to_thread(
                        journal.claim, key, _number(index), resend_maybe_sent=False
                    )
                ]

            async def race() -> list[str]:
                won = await asyncio.gather(*(claims() for _ in range(THREADS)))
                return [key for keys in won for key in keys]

            won = asyncio.run(race())
        assert sorted(won) == _keys(KEYS)

    def _race(self, opener: Callable[[], Any], closer: Callable[[Any], None]) -> list[str]:
        """THREADS threads claim the same KEYS at once; the keys each won, together."""
        won: list[str] = []
        lock = threading.Lock()
        gate = threading.Barrier(THREADS)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                journal = opener()
                try:
                    gate.wait()
                    mine = [
                        key
                        for index, key in enumerate(_keys(KEYS))
                        if journal.claim(key, _number(index), resend_maybe_sent=False)
                    ]
                finally:
                    closer(journal)
                with lock:
                    won.extend(mine)
            except BaseException as exc:  # shown by the test, not lost in a thread
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return won

    def test_a_reopened_journal_has_its_outcomes(self) -> None:
        name, clock = self.fresh_name(), FakeClock()
        with self.opened(name, clock) as journal:
            assert journal.claim("a", _number(1), resend_maybe_sent=False)
            journal.record("a", SENT, "ok")
        with self.opened(name, clock) as journal:
            assert journal.state("a") == SENT
            assert not journal.claim("a", _number(1), resend_maybe_sent=True)
            assert journal.counts() == {SENT: 1}

    def test_a_worker_killed_between_claim_and_record_leaves_maybe_sent(self) -> None:
        name, clock = self.fresh_name(), FakeClock()
        with self.opened(name, clock) as journal:  # created before the child races for it
            pass

        def claim_and_die() -> list[str]:
            journal = self.open_journal(name, clock=clock, lease=LEASE)
            journal.claim("a", _number(1), resend_maybe_sent=False)
            journal.claim("b", _number(2), resend_maybe_sent=False)
            journal.record("b", SENT, "ok")
            os.kill(os.getpid(), signal.SIGKILL)
            return []

        code, _ = _forked(claim_and_die)
        assert code == -signal.SIGKILL
        clock.advance(LEASE + 1)  # a shared store's lease runs out; a single-run store reopens
        with self.opened(name, clock) as journal:
            assert journal.state("a") == MAYBE_SENT
            assert journal.state("b") == SENT
            assert not journal.claim("a", _number(1), resend_maybe_sent=False)
            assert journal.counts() == {MAYBE_SENT: 1, SENT: 1}
            assert journal.claim("a", _number(1), resend_maybe_sent=True)


class SharedJournalConformance(JournalConformance):
    """What a journal many workers share promises besides: leases, and claims across
    instances, threads and processes."""

    def test_workers_on_threads_never_both_claim_a_recipient(self) -> None:
        name, clock = self.fresh_name(), FakeClock()
        with self.opened(name, clock):
            pass
        won = self._race(lambda: self.open_journal(name, clock=clock, lease=LEASE), _close)
        assert sorted(won) == _keys(KEYS)

    def test_worker_processes_never_both_claim_a_recipient(self) -> None:
        name, clock = self.fresh_name(), FakeClock()
        with self.opened(name, clock):
            pass

        def claim_all() -> list[str]:
            with self.opened(name, clock) as journal:
                return [
                    key
                    for index, key in enumerate(_keys(KEYS))
                    if journal.claim(key, _number(index), resend_maybe_sent=False)
                ]

        results: list[tuple[int, list[str]]] = []
        threads = [
            threading.Thread(target=lambda: results.append(_forked(claim_all))) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [code for code, _ in results] == [0, 0, 0, 0]
        assert sorted(key for _, won in results for key in won) == _keys(KEYS)

    def test_an_expired_claim_is_maybe_sent_and_not_claimed_again(self) -> None:
        name, clock = self.fresh_name(), FakeClock()
        with self.opened(name, clock) as first, self.opened(name, clock) as second:
            assert first.claim("a", _number(1), resend_maybe_sent=False)
            clock.advance(LEASE - 1)
            assert second.state("a") == SENDING
            assert not second.claim("a", _number(1), resend_maybe_sent=True)
            clock.advance(2)
            assert second.state("a") == MAYBE_SENT
            assert second.counts() == {MAYBE_SENT: 1}
            assert not second.claim("a", _number(1), resend_maybe_sent=False)
            assert second.claim("a", _number(1), resend_maybe_sent=True)
            assert second.state("a") == SENDING

    def test_renewing_keeps_a_claim_alive(self) -> None:
        name, clock = self.fresh_name(), FakeClock()
        with self.opened(name, clock) as first, self.opened(name, clock) as second:
            assert first.claim("a", _number(1), resend_maybe_sent=False)
            for _ in range(4):
                clock.advance(LEASE * 0.75)
                first.renew()
                assert second.state("a") == SENDING
            clock.advance(LEASE + 1)
            assert second.state("a") == MAYBE_SENT

    def test_the_owner_records_late_but_no_one_else_does(self) -> None:
        name, clock = self.fresh_name(), FakeClock()
        with self.opened(name, clock) as first, self.opened(name, clock) as second:
            assert first.claim("late", _number(1), resend_maybe_sent=False)
            assert first.claim("taken", _number(2), resend_maybe_sent=False)
            clock.advance(LEASE + 1)
            first.record("late", SENT, "ok")  # the real outcome beats the lease's guess
            assert second.state("late") == SENT
            assert second.claim("taken", _number(2), resend_maybe_sent=True)
            first.record("taken", SENT, "ok")  # no longer first's claim: ignored
            second.record("late", REFUSED, "not second's claim")
            assert second.state("taken") == SENDING
            assert first.state("late") == SENT

    def test_a_stale_claim_is_confirmed_only_while_it_is_this_workers(self) -> None:
        """The optional ``claim_stale`` and ``confirm_claim`` (timed on ``clock``)."""
        name, clock = self.fresh_name(), FakeClock()
        with self.opened(name, clock) as first, self.opened(name, clock) as second:
            _needs_confirm(first)
            for index, key in enumerate(("kept", "taken", "done")):
                assert first.claim(key, _number(index), resend_maybe_sent=False)
            assert not first.claim_stale("kept")
            clock.advance(LEASE + 1)  # the worker stalled past its lease
            assert first.claim_stale("kept")
            assert first.confirm_claim("kept")  # nobody took it meanwhile: renewed
            assert not first.claim_stale("kept")
            assert second.claim("taken", _number(1), resend_maybe_sent=True)
            assert not first.confirm_claim("taken")  # another worker's now
            first.record("done", SENT, "ok")
            assert not first.confirm_claim("done")
            clock.advance(LEASE - 1)
            assert second.state("kept") == SENDING  # the confirmation renewed a whole lease
            assert second.state("taken") == SENDING

    def test_a_confirmation_racing_another_workers_claim_lets_one_win(self) -> None:
        """Claims expired; their owner confirms them while another worker resending
        ``maybe_sent`` claims them, from the other end: each key is one worker's."""
        name, clock = self.fresh_name(), FakeClock()
        keys = _keys(KEYS)
        with self.opened(name, clock) as first, self.opened(name, clock) as second:
            _needs_confirm(first)
            for index, key in enumerate(keys):
                assert first.claim(key, _number(index), resend_maybe_sent=False)
            clock.advance(LEASE + 1)
            confirmed: list[str] = []
            taken: list[str] = []
            start = threading.Barrier(2)

            def confirm() -> None:
                start.wait()
                confirmed.extend(key for key in keys if first.confirm_claim(key))

            def claim() -> None:
                start.wait()
                for index in reversed(range(len(keys))):
                    if second.claim(keys[index], _number(index), resend_maybe_sent=True):
                        taken.append(keys[index])

            threads = [threading.Thread(target=confirm), threading.Thread(target=claim)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert not set(confirmed) & set(taken)
        assert sorted(confirmed + taken) == keys


def _needs_confirm(journal: Any) -> None:
    if not (hasattr(journal, "claim_stale") and hasattr(journal, "confirm_claim")):
        # the standard library's skip, which pytest honours: textflow.testing imports
        # nothing but the standard library, httpx, anyio and the SDK
        raise unittest.SkipTest("the store has no claim_stale and confirm_claim (optional)")


def _close(journal: Any) -> None:
    journal.close()
