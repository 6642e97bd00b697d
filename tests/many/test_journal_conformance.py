"""Every built-in journal passes the public conformance suite (textflow.testing.journals)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from textflow import SQLiteJournal
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

    def open_journal(self, name: str, *, clock: FakeClock, lease: float) -> Any:
        return PostgresJournal(
            f"{self.url}?campaign={name}", clock=clock, lease=lease, heartbeat=False
        )
