"""Adversarial pass (issue 22): on Postgres, the heartbeat (`renew`, rows found by key
and locked in key order), a confirmation before a send, this worker's records and
another worker's claims of the same expired rows, all at once: no deadlock (Postgres
would abort one statement: a `JournalError`), and every key ends one worker's.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from textflow._many._postgres_journal import PostgresJournal
from textflow.testing.journals import FakeClock

from tests.many.stores_support import PostgresServer, campaign

LEASE = 30.0
KEYS = [f"k{index:04d}" for index in range(300)]
ROUNDS = 4


def _phone(index: int) -> str:
    return f"+1202555{index:04d}"


def test_renew_confirm_record_and_claims_of_the_same_rows_do_not_deadlock(
    journal_postgres: PostgresServer,
) -> None:
    url = f"{journal_postgres.url()}?campaign={campaign()}"
    clock = FakeClock()
    mine = PostgresJournal(url, clock=clock, lease=LEASE, heartbeat=False)
    other = PostgresJournal(url, clock=clock, lease=LEASE, heartbeat=False)
    try:
        assert mine.claim_many(
            [(k, _phone(i)) for i, k in enumerate(KEYS)], resend_maybe_sent=False
        ) == [None] * len(KEYS)
        clock.advance(LEASE + 1)  # every claim expired: open to a resend
        shuffled = random.Random(22).sample(list(enumerate(KEYS)), len(KEYS))
        recorded: list[str] = []
        confirmed: list[str] = []
        taken: list[str] = []
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def beats() -> None:
            for _ in range(ROUNDS * 5):
                mine.renew()

        def records() -> None:
            for at in range(0, len(shuffled), 25):
                chunk = shuffled[at : at + 25]
                mine.record_many([(key, "sent", "ok") for _, key in chunk])
                recorded.extend(key for _, key in chunk)

        def confirms() -> None:
            confirmed.extend(key for _, key in reversed(shuffled) if mine.confirm_claim(key))

        def claims() -> None:
            for at in range(0, len(shuffled), 30):
                chunk = shuffled[-(at + 30) or None : len(shuffled) - at]
                kept = other.claim_many(
                    [(key, _phone(i)) for i, key in chunk], resend_maybe_sent=True
                )
                taken.extend(key for (_, key), answer in zip(chunk, kept) if answer is None)

        def guarded(work: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                start.wait()
                try:
                    work()
                except BaseException as exc:  # reported below, with the others'
                    errors.append(exc)

            return run

        threads = [
            threading.Thread(target=guarded(work)) for work in (beats, records, confirms, claims)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        states = {key: other.state(key) for key in KEYS}
    finally:
        mine.close()
        other.close()
    # a key the other worker took is its own ("sending"); every other key was recorded by
    # this worker, its claim still its own when the record landed
    assert {key for key, state in states.items() if state == "sending"} == set(taken)
    assert {key for key, state in states.items() if state == "sent"} == set(KEYS) - set(taken)
    assert not set(taken) & set(confirmed)  # a confirmed claim was renewed: not open to take
