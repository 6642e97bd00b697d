"""``SQLiteStore``: counts in an SQLite file shared by the processes of one machine."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Optional, Union

from textflow.errors import GuardStoreError
from textflow.guard._store import Denial, Limit, worst

if TYPE_CHECKING:
    import sqlite3

_SWEEP_EVERY = 256  # acquires between deletions of every expired row

_SCHEMA = """
CREATE TABLE IF NOT EXISTS textflow_guard_events (
    key TEXT NOT NULL,
    at REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS textflow_guard_events_key ON textflow_guard_events (key, at);
CREATE INDEX IF NOT EXISTS textflow_guard_events_expires ON textflow_guard_events (expires);
"""


class SQLiteStore:
    """Counts in an SQLite database file: for several processes on one machine.

    Each ``acquire`` runs in one ``BEGIN IMMEDIATE`` transaction, so the
    processes (and threads) sharing the file count atomically. Only keyed
    hashes are stored, never a phone number. The file is created if missing;
    use a local disk (SQLite's locking is unreliable on network file systems).

    Args:
        path: The database file, e.g. ``"/var/lib/myapp/guard.sqlite3"``.
        timeout: Seconds to wait for another process's transaction.

    Examples:
        >>> guard = VerificationGuard(client, store=SQLiteStore("guard.sqlite3"))
    """

    def __init__(self, path: Union[str, os.PathLike[str]], *, timeout: float = 10.0) -> None:
        self._path = os.fspath(path)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._connection: Optional[sqlite3.Connection] = None
        self._pid = 0
        self._calls = 0
        with self._using():
            self._connect()

    def __repr__(self) -> str:
        return f"SQLiteStore({self._path!r})"

    @contextlib.contextmanager
    def _using(self) -> Iterator[None]:
        """The connection, for one thread at a time; SQLite's errors as `GuardStoreError`."""
        import sqlite3

        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise GuardStoreError(
                    f"The guard's store {self._path} failed: {type(exc).__name__}: {exc}"
                ) from exc

    def _connect(self) -> sqlite3.Connection:
        """This process's connection (a forked child opens its own). Caller holds the lock."""
        if self._connection is None or self._pid != os.getpid():
            import sqlite3  # here: a Python built without sqlite3 can still import textflow

            connection = sqlite3.connect(
                self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: no fsync per commit (a power cut may forget the last counts,
            # never corrupt the file). Measured here: ~0.25 ms per acquire, ~2.6 ms with FULL.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    def acquire(self, now: float, limits: Sequence[Limit]) -> Optional[Denial]:
        """Record one event at ``now`` under every limit's key, or nothing if one is full."""
        with self._using():
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                self._calls += 1
                if self._calls % _SWEEP_EVERY == 0:
                    db.execute("DELETE FROM textflow_guard_events WHERE expires <= ?", (now,))
                blocked = []
                for index, limit in enumerate(limits):
                    at = self._blocking(db, now, limit)
                    if at is not None:
                        blocked.append((index, at))
                denial = worst(now, limits, blocked)
                if denial is None:
                    db.executemany(
                        "INSERT INTO textflow_guard_events (key, at, expires) VALUES (?, ?, ?)",
                        [(limit.key, now, now + limit.window) for limit in limits],
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return denial

    @staticmethod
    def _blocking(db: sqlite3.Connection, now: float, limit: Limit) -> Optional[float]:
        """When the event that keeps ``limit`` full happened, or None if it has room."""
        db.execute(
            "DELETE FROM textflow_guard_events WHERE key = ? AND at <= ?",
            (limit.key, now - limit.window),
        )
        (count,) = db.execute(
            "SELECT COUNT(*) FROM textflow_guard_events WHERE key = ?", (limit.key,)
        ).fetchone()
        if count < limit.limit:
            return None
        (at,) = db.execute(
            "SELECT at FROM textflow_guard_events WHERE key = ? ORDER BY at LIMIT 1 OFFSET ?",
            (limit.key, count - limit.limit),
        ).fetchone()
        return float(at)

    def clear(self, keys: Sequence[str]) -> None:
        """Forget every event under ``keys``."""
        with self._using():
            self._connect().executemany(
                "DELETE FROM textflow_guard_events WHERE key = ?", [(key,) for key in keys]
            )

    def close(self) -> None:
        """Close this process's connection (the next call opens a new one)."""
        with self._using():
            if self._connection is not None:
                self._connection.close()
                self._connection = None
