"""`campaign_status` measures a campaign's pace on its journal's clock, not the dashboard's.

The shared journals run on a fake clock far from this machine's (2023): their outcomes
are stamped with it, and the pace over the last minute must be read on it too.
"""

from __future__ import annotations

from typing import Any

import pytest

from textflow._many._postgres_journal import PostgresJournal
from textflow._many._redis_journal import RedisJournal
from textflow._many._status import campaign_status
from textflow.testing.journals import FakeClock

from tests.many.stores_support import PostgresServer, RedisServer, campaign


def _journal(store: str, clock: FakeClock, request: pytest.FixtureRequest) -> Any:
    if store == "redis":
        redis: RedisServer = request.getfixturevalue("journal_redis")
        return RedisJournal(f"{redis.url}?campaign={campaign()}", clock=clock, heartbeat=False)
    postgres: PostgresServer = request.getfixturevalue("journal_postgres")
    url = f"{postgres.url()}?campaign={campaign()}"
    return PostgresJournal(url, clock=clock, heartbeat=False)


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_the_pace_and_time_left_are_on_the_journals_clock(
    store: str, request: pytest.FixtureRequest
) -> None:
    clock = FakeClock()
    with _journal(store, clock, request) as journal:
        for index in range(12):
            key = f"k{index}"
            assert journal.claim(key, f"+1202555{index:04d}", resend_maybe_sent=False)
            if index < 6:
                journal.record(key, "sent", None)
        clock.advance(30)  # the six outcomes are 30 s old on the journal's clock
        status = campaign_status(journal, total=12)
        assert journal.now() == clock.now
        assert status.per_second == pytest.approx(6 / 60)  # six over the last minute
        assert status.eta_seconds == pytest.approx(6 / (6 / 60))
        clock.advance(61)  # a minute later on the journal's clock: no outcome in it
        assert campaign_status(journal, total=12).per_second == 0
