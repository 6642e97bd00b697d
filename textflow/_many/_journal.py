"""The journal of a ``send_many`` run: who was about to be sent, and what happened.

A run asks ``state`` before it considers a recipient, ``claim``\\ s it just
before sending (written and committed before the request leaves), and
``record``\\ s the outcome after. A recipient claimed but never recorded (the
process was killed mid-send) is ``maybe_sent`` when the journal is next
opened. Any store that keeps those three promises will do (`Journal`);
`SQLiteJournal` is the one built in. A store may also offer ``claim_many``
(several claims in one step, as the Redis and Postgres journals do): the
drivers then claim a batch at once (see `textflow._many._run.Run.claim_all`);
``record_many`` (several outcomes in one step: see `textflow._many._run.Run.ended`);
and, with leased claims, ``claim_stale`` and ``confirm_claim`` (a claim checked
just before its send when the worker may have stalled past its lease: see
`textflow._many._run.Run.still_claimed`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Optional, Protocol, Union

from textflow._many._outcomes import MAYBE_SENT, REFUSED, SENT
from textflow.errors import JournalBusyError, JournalError

SENDING = "sending"
#: Statuses a rerun does not send again (maybe-sent ones only with ``resend_maybe_sent``).
DONE = frozenset({SENT, MAYBE_SENT})
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS textflow_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS textflow_recipients (
    key TEXT PRIMARY KEY,            -- sha256(phone_number NUL text): a new text is a new row
    phone_number TEXT NOT NULL,
    status TEXT NOT NULL,            -- sending, sent, maybe_sent, refused
    detail TEXT,                     -- the API's message, or the error
    updated_at REAL NOT NULL         -- seconds since the epoch
);
"""


class Journal(Protocol):
    """What ``send_many`` needs of a journal; implement it to keep one elsewhere.

    Examples:
        >>> class MyJournal:
        ...     def state(self, key): ...
        ...     def claim(self, key, phone_number, *, resend_maybe_sent): ...
        ...     def record(self, key, status, detail): ...
        ...     def close(self): ...
    """

    def state(self, key: str) -> Optional[str]:
        """The recipient's status (``sent``, ``maybe_sent``, ``refused``, ``sending``) or None.

        Examples:
            >>> journal.state(message_key("+11234567890", "Hi"))
            'sent'
        """

    def claim(self, key: str, phone_number: str, *, resend_maybe_sent: bool) -> bool:
        """Mark the recipient ``sending``, durably, unless it is done; ``True`` if claimed.

        Done means ``sent``, ``maybe_sent`` (unless ``resend_maybe_sent``) or
        ``sending`` (claimed already in this run). Check and write are one step.

        Examples:
            >>> journal.claim(key, "+11234567890", resend_maybe_sent=False)
            True
        """

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        """Store the outcome of a claimed recipient.

        Examples:
            >>> journal.record(key, "sent", "Message sent successfully")
        """

    def close(self) -> None:
        """Release the store.

        Examples:
            >>> journal.close()
        """


class SQLiteJournal:
    """A journal in a SQLite file (WAL, one writer); a second run on it at once is refused.

    Opening it turns recipients left ``sending`` by a killed run into
    ``maybe_sent``. It holds phone numbers and hashes of the texts, never the
    API key. Survives a killed process; a power cut may lose the last few
    records (the file is synced at checkpoints, not at every send).

    Args:
        path: The database file; created if absent.

    Raises:
        JournalBusyError: Another run is using this journal now.
        JournalError: The file cannot be opened, read or written (not a journal, no
            room, no permission); ``__cause__`` is SQLite's error. Any later call
            that fails raises it too.

    Examples:
        >>> with SQLiteJournal("campaign.db") as journal:
        ...     report = client.send_many(numbers, text="Hi", journal=journal)
        >>> journal.counts()
        {'sent': 2}
    """

    def __init__(self, path: Union[str, os.PathLike[str]]) -> None:
        import sqlite3  # here, not at the top: ``import textflow`` stays quick

        self.path = Path(path)
        # one connection, used from the run's threads in turn: taken and let go by each
        # method's own ``with`` (a C lock's), never inside a generator's context manager,
        # whose exit a Ctrl-C landing at its entry would skip, the lock left held
        self._lock = threading.Lock()
        db = None
        try:  # the file closed whatever ends the opening, a Ctrl-C in the with's exit too
            with self._failing_as_journal_error():
                db = self._db = sqlite3.connect(
                    str(self.path), timeout=0.5, isolation_level=None, check_same_thread=False
                )
                self._open()
        except BaseException:
            if db is not None:
                db.close()
            raise

    @contextlib.contextmanager
    def _failing_as_journal_error(self) -> Iterator[None]:
        """SQLite's errors raised as `JournalError`, with SQLite's as the cause."""
        import sqlite3

        try:
            yield
        except sqlite3.Error as exc:
            raise JournalError(
                f"The journal {self.path} cannot be used: {type(exc).__name__}: {exc}"
            ) from exc

    def _open(self) -> None:
        import sqlite3

        try:
            # exclusive: the lock is taken at the first write and held until close, so a
            # second run on the same file fails here instead of sending twice
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise JournalBusyError(
                    f"The journal {self.path} is in use by another run; wait for it to end."
                ) from exc
            raise
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                self._db.execute(statement)
        self._db.execute(
            "INSERT OR IGNORE INTO textflow_meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
        )
        self._db.execute(
            "UPDATE textflow_recipients SET status = ?, detail = ?, updated_at = ? "
            "WHERE status = ?",
            (MAYBE_SENT, "interrupted while sending", time.time(), SENDING),
        )
        self._db.execute("COMMIT")

    def state(self, key: str) -> Optional[str]:
        """The recipient's status, or None if the journal has never seen it.

        Examples:
            >>> journal.state(message_key("+11234567890", "Hi"))
            'sent'
        """
        with self._lock, self._failing_as_journal_error():
            row = self._db.execute(
                "SELECT status FROM textflow_recipients WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else str(row[0])

    def claim(self, key: str, phone_number: str, *, resend_maybe_sent: bool) -> bool:
        """Mark the recipient ``sending`` (committed) unless it is done; ``True`` if claimed.

        Examples:
            >>> journal.claim(key, "+11234567890", resend_maybe_sent=False)
            True
        """
        done = {SENT, SENDING} if resend_maybe_sent else {SENT, SENDING, MAYBE_SENT}
        with self._lock, self._failing_as_journal_error():
            row = self._db.execute(
                "SELECT status FROM textflow_recipients WHERE key = ?", (key,)
            ).fetchone()
            if row is not None and row[0] in done:
                return False
            # one statement is one transaction, committed (in the WAL) before the send
            self._db.execute(
                "INSERT OR REPLACE INTO textflow_recipients VALUES (?, ?, ?, NULL, ?)",
                (key, phone_number, SENDING, time.time()),
            )
        return True

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        """Store the outcome of a claimed recipient.

        Examples:
            >>> journal.record(key, "sent", "Message sent successfully")
        """
        if status not in (SENT, MAYBE_SENT, REFUSED):
            raise ValueError(f"cannot record the status {status!r}.")
        with self._lock, self._failing_as_journal_error():
            self._db.execute(
                "UPDATE textflow_recipients SET status = ?, detail = ?, updated_at = ? "
                "WHERE key = ?",
                (status, detail, time.time(), key),
            )

    def counts(self) -> dict[str, int]:
        """Recipients by status, e.g. ``{'sent': 9998, 'maybe_sent': 2}``.

        Examples:
            >>> SQLiteJournal("campaign.db").counts()
            {'sent': 2}
        """
        with self._lock, self._failing_as_journal_error():
            rows = self._db.execute(
                "SELECT status, COUNT(*) FROM textflow_recipients GROUP BY status ORDER BY status"
            ).fetchall()
        return {str(status): int(count) for status, count in rows}

    def recorded_since(self, when: float) -> int:
        """Recipients whose outcome was recorded at ``when`` (seconds since the epoch) or later.

        Examples:
            >>> journal.recorded_since(time.time() - 60)
            1200
        """
        with self._lock, self._failing_as_journal_error():
            row = self._db.execute(
                "SELECT COUNT(*) FROM textflow_recipients WHERE status <> ? AND updated_at >= ?",
                (SENDING, when),
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the file (and release it for the next run).

        Examples:
            >>> journal.close()
        """
        with self._lock:  # (no generator's context manager: a Ctrl-C at its entry skipped
            self._db.close()  # the close, the file left locked until garbage collection)

    def __enter__(self) -> SQLiteJournal:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteJournal({str(self.path)!r})"
