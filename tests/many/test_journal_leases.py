"""A shared journal's lease, given as ``lease=`` or ``?lease=`` in its URL: seconds, at
least a second (its heartbeat renews the worker's open claims every third of it), or a
clear `InputValidationError` before the store is contacted."""

from __future__ import annotations

from typing import Any

import pytest

from textflow import InputValidationError, PostgresJournal, RedisJournal
from textflow.testing.journals import FakeClock

from tests.many.stores_support import PostgresServer, RedisServer, campaign, free_port

JOURNALS: dict[str, Any] = {"redis": RedisJournal, "postgres": PostgresJournal}


def _nowhere(store: str) -> str:
    """A URL of the store's kind at a port nothing listens on: a journal that got as far
    as connecting would raise `JournalError`, not `InputValidationError`."""
    scheme = "redis" if store == "redis" else "postgresql"
    return f"{scheme}://127.0.0.1:{free_port()}/0?campaign={campaign()}"


@pytest.mark.parametrize("store", sorted(JOURNALS))
@pytest.mark.parametrize("lease", [0, -1, 0.001, 0.999, float("nan"), float("inf"), True, "60"])
def test_a_lease_under_a_second_or_not_seconds_is_refused_before_the_store_is_contacted(
    store: str, lease: Any
) -> None:
    with pytest.raises(InputValidationError) as raised:
        JOURNALS[store](_nowhere(store), lease=lease, heartbeat=False)
    assert raised.value.argument == "lease"
    assert "at least 1" in str(raised.value)


@pytest.mark.parametrize("store", sorted(JOURNALS))
@pytest.mark.parametrize("lease", ["0.5", "0", "-3", "abc", "inf", "nan", ""])
def test_a_lease_in_the_url_is_checked_the_same_way(store: str, lease: str) -> None:
    with pytest.raises(InputValidationError) as raised:
        JOURNALS[store](f"{_nowhere(store)}&lease={lease}", heartbeat=False)
    assert raised.value.argument == "journal"
    assert "at least 1" in str(raised.value)


@pytest.mark.parametrize("store", sorted(JOURNALS))
@pytest.mark.parametrize("how", ["keyword", "url"])
def test_a_one_second_lease_is_taken_and_runs_out_after_a_second(
    store: str, how: str, request: pytest.FixtureRequest
) -> None:
    if store == "redis":
        redis: RedisServer = request.getfixturevalue("journal_redis")
        url = f"{redis.url}?campaign={campaign()}"
    else:
        postgres: PostgresServer = request.getfixturevalue("journal_postgres")
        url = f"{postgres.url()}?campaign={campaign()}"
    clock = FakeClock()
    journal = (
        JOURNALS[store](url, lease=1, clock=clock, heartbeat=False)
        if how == "keyword"
        else JOURNALS[store](f"{url}&lease=1", clock=clock, heartbeat=False)
    )
    with journal:
        assert journal.lease == 1.0
        assert journal.claim("k", "+15550100001", resend_maybe_sent=False)
        clock.advance(2)  # past the lease, with no heartbeat: another run sees maybe_sent
        assert journal.state("k") == "maybe_sent"
