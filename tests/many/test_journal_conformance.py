"""Every built-in journal passes the public conformance suite (textflow.testing.journals)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from textflow import JournalError, SQLiteJournal
from textflow._many._postgres_journal import PostgresJournal
from textflow._many._redis_journal import RedisJournal
from textflow.testing.journals import FakeClock, JournalConformance, SharedJournalConformance

from tests.many.stores_support import PostgresServer, RedisServer


class TestSQLiteJournal(JournalConformance):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path

    def open_journal(self, name: str, *, clock: FakeClock, lease: float) -> Any:
        return SQLiteJournal(self.folder / f"{name}.db")


class TestRedisJournal(SharedJournalConformance):
    @pytest.fixture(autouse=True)
    def _server(self, journal_redis: RedisServer) -> None:
        self.url = journal_redis.url

    def open_journal(self, name: str, *, clock: FakeClock, lease: float) -> Any:
        return RedisJournal(
            f"{self.url}?campaign={name}", clock=clock, lease=lease, heartbeat=False
        )


class TestPostgresJournal(SharedJournalConformance):
    @pytest.fixture(autouse=True)
    def _server(self, journal_postgres: PostgresServer) -> None:
        self.url = journal_postgres.url()

    @pytest.mark.parametrize(
        "lose",
        [
            "DELETE FROM textflow_journal WHERE campaign = %(name)s",
            "DELETE FROM textflow_journal WHERE campaign = %(name)s AND key = '#campaign'",
            "TRUNCATE textflow_journal",
        ],
    )
    def test_a_campaign_whose_rows_are_lost_stops_its_workers(self, lose: str) -> None:
        """As on Redis: a worker that had the campaign open, or whose URL names its
        instance, stops instead of taking the lost campaign for a new one."""
        import psycopg

        name = self.fresh_name()
        clock = FakeClock()
        with self.opened(name, clock) as journal:
            assert journal.claim("k1", "+12025550100", resend_maybe_sent=False)
            journal.record("k1", "sent", "ok")
            pinned = journal.pinned_url()
            assert f"campaign={name}&instance={journal.instance}" in pinned
            with PostgresJournal(pinned, heartbeat=False) as again:  # the same campaign
                assert again.instance == journal.instance
                assert not again.claim("k1", "+12025550100", resend_maybe_sent=False)
            assert journal.counts() == {"sent": 1}  # the campaign's own row is not counted
            with psycopg.connect(self.url, autocommit=True) as db:
                db.execute(lose, {"name": name})
            with pytest.raises(JournalError, match="lost the campaign"):
                journal.claim_many([("k1", "+12025550100")], resend_maybe_sent=False)
            with pytest.raises(JournalError, match="lost the campaign"):
                PostgresJournal(pinned, heartbeat=False)
            assert journal.state("k1") in (None, "sent")  # sent to nobody again

    def open_journal(self, name: str, *, clock: FakeClock, lease: float) -> Any:
        return PostgresJournal(
            f"{self.url}?campaign={name}", clock=clock, lease=lease, heartbeat=False
        )
