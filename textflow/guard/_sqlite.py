"""``SQLiteStore``: counts in an SQLite file shared by the processes of one machine."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

from textflow.errors import GuardStoreError
from textflow.guard import _checks
from textflow.guard._checks import Check, Stored, Write
from textflow.guard._store import Denial, Verdict

if TYPE_CHECKING:
    import sqlite3

_SWEEP_EVERY = 256  # decisions between deletions of every expired row

_SCHEMA = """
CREATE TABLE IF NOT EXISTS textflow_guard_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS textflow_guard_state_expires ON textflow_guard_state (expires);
"""


class SQLiteStore:
    """Counts in an SQLite database file: for several processes on one machine.

    Each decision runs in one ``BEGIN IMMEDIATE`` transaction, so the
    processes (and threads) sharing the file count atomically. Only keyed
    hashes and counts are stored, never a phone number or a code. The file is created if missing;
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
            try:
                self._set_up(connection)
            except BaseException:  # a locked or unusable file: nothing left open behind
                connection.close()
                raise
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    def _set_up(self, connection: sqlite3.Connection) -> None:
        """WAL, the table; retried while another process sets up the same new file.

        Switching a file to WAL takes its exclusive lock from under a shared one, and SQLite
        answers "database is locked" at once there instead of waiting ``timeout`` (its busy
        handler would deadlock): two processes opening one new file at the same time failed.
        """
        import sqlite3

        deadline = time.monotonic() + self._timeout
        pause = 0.001
        while True:
            try:
                if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    connection.execute("PRAGMA journal_mode=WAL")  # kept in the file
                # WAL + NORMAL: no fsync per commit (a power cut may forget the last counts,
                # never corrupt the file). Measured here: ~0.25 ms per acquire, ~2.6 ms with FULL.
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def decide(
        self,
        now: float,
        checks: Sequence[Check],
        *,
        always: bool = False,
        read: Optional[str] = None,
    ) -> Verdict:
        """Check every rule; count the event if all have room (or ``always``)."""
        with self._transaction(now) as db:
            states = {check.key: self._get(db, now, check.key) for check in checks}
            denials, saves = _checks.decide_in_python(now, checks, states, always)
            self._save(db, saves.items())
            record = self._get(db, now, read) if read is not None else None
            return Verdict([Denial(i, w) for i, w in denials], record)

    def write(self, now: float, writes: Sequence[Write]) -> None:
        """Apply ``writes`` atomically."""
        with self._transaction(now) as db:
            for op in writes:
                row = db.execute(
                    "SELECT value, expires FROM textflow_guard_state WHERE key = ? AND expires > ?",
                    (op.key, now),
                ).fetchone()
                value, expires = (json.loads(row[0]), row[1]) if row else (None, now)
                result = _checks.write(now, op, value, expires)
                if result is None:
                    db.execute("DELETE FROM textflow_guard_state WHERE key = ?", (op.key,))
                else:
                    self._save(db, [(op.key, result)])

    @contextlib.contextmanager
    def _transaction(self, now: float) -> Iterator[sqlite3.Connection]:
        with self._using():
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                self._calls += 1
                if self._calls % _SWEEP_EVERY == 0:
                    db.execute("DELETE FROM textflow_guard_state WHERE expires <= ?", (now,))
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @staticmethod
    def _get(db: sqlite3.Connection, now: float, key: str) -> Any:
        row = db.execute(
            "SELECT value FROM textflow_guard_state WHERE key = ? AND expires > ?", (key, now)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    @staticmethod
    def _save(db: sqlite3.Connection, saves: Iterable[tuple[str, Stored]]) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO textflow_guard_state (key, value, expires) VALUES (?, ?, ?)",
            [(key, json.dumps(value, separators=(",", ":")), exp) for key, (value, exp) in saves],
        )

    def close(self) -> None:
        """Close this process's connection (the next call opens a new one)."""
        with self._using():
            if self._connection is not None:
                self._connection.close()
                self._connection = None
