"""Adversarial pass (issue 22): the worker's clock that decides whether a claim must be
confirmed before its send. A machine that sleeps (a laptop's lid closed, a suspended
host) is the "paused machine" the check is for, but the process's monotonic clock does
not move while the system is suspended: the claim must read stale all the same.
"""

from __future__ import annotations

from typing import Any

import pytest

from textflow._many import _lease
from textflow._many._postgres_journal import PostgresJournal
from textflow._many._redis_journal import RedisJournal
from textflow.testing.journals import FakeClock

from tests.many.stores_support import campaign

LEASE = 30.0


def test_a_sleep_the_monotonic_clock_did_not_count_reads_stale() -> None:
    monotonic, wall = FakeClock(), FakeClock()
    held = _lease.Held(LEASE, None, clocks=(monotonic, wall))
    held.claimed(["k"], held.now())
    assert not held.stale("k")
    wall.advance(LEASE)  # suspended for a lease: only the wall clock moved
    assert held.stale("k")


def test_a_wall_clock_stepped_back_does_not_hide_the_time_that_passed() -> None:
    monotonic, wall = FakeClock(), FakeClock()
    held = _lease.Held(LEASE, None, clocks=(monotonic, wall))
    held.claimed(["k"], held.now())
    wall.advance(-3600)  # the wall clock corrected backwards meanwhile
    assert not held.stale("k")
    monotonic.advance(LEASE / 2 + 1)
    assert held.stale("k")
    held.confirmed(["k"], held.now())
    assert not held.stale("k")  # confirmed on both clocks, as they read now


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_a_shared_journal_notices_a_suspended_machine(
    store: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opened as a user opens it (no clock given: the store's own time for leases)."""
    monotonic, wall = FakeClock(), FakeClock()
    monkeypatch.setattr(_lease, "SYSTEM_CLOCKS", (monotonic, wall))
    server = request.getfixturevalue(f"journal_{store}")
    url = f"{server.url if store == 'redis' else server.url()}?campaign={campaign()}"
    opener: Any = RedisJournal if store == "redis" else PostgresJournal
    journal = opener(url, lease=LEASE, heartbeat=False)
    try:
        assert journal.claim("k", "+12025550000", resend_maybe_sent=False)
        assert not journal.claim_stale("k")
        wall.advance(3600)  # the machine slept an hour: its monotonic clock did not move
        assert journal.claim_stale("k")
    finally:
        journal.close()
