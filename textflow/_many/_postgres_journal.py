"""A journal in PostgreSQL, shared by any number of workers: ``postgresql://...?campaign=NAME``.

The SDK creates its tables in the user's database on first use (schema 1)::

    CREATE TABLE textflow_journal_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE textflow_journal (
        campaign     TEXT NOT NULL,
        key          TEXT NOT NULL,              -- sha256(phone_number NUL text)
        phone_number TEXT NOT NULL,
        status       TEXT NOT NULL,              -- sending, sent, maybe_sent, refused
        owner        TEXT,                       -- the worker holding the claim
        lease_until  DOUBLE PRECISION,           -- its deadline, seconds since the epoch
        detail       TEXT,                       -- the API's message, or the error
        updated_at   DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (campaign, key)
    );

A claim is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` (the row is
locked and its status checked in the same statement), so two workers never
both claim a recipient. Delete a campaign with ``DELETE FROM textflow_journal
WHERE campaign = 'NAME'``. Phone numbers are stored; the API key never is.
Leases are set and read on the server's clock (``statement_timestamp()``).

A few lines over 300: the statements are read beside the Python that runs them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional

from textflow._many._lease import (
    DEFAULT_LEASE,
    OUR_PARAMETERS,
    Clock,
    Heartbeat,
    campaign_of,
    check_lease,
    lease_of,
    shown_url,
    without_query,
    worker_id,
)
from textflow._many._outcomes import MAYBE_SENT, REFUSED, SENT
from textflow.errors import JournalError

if TYPE_CHECKING:
    import psycopg

SCHEMA_VERSION = "1"
_LOCK_ID = 0x7465787466  # "textf": serialises the first CREATE TABLE of concurrent workers

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS textflow_journal_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS textflow_journal ("
    " campaign TEXT NOT NULL, key TEXT NOT NULL, phone_number TEXT NOT NULL,"
    " status TEXT NOT NULL, owner TEXT, lease_until DOUBLE PRECISION, detail TEXT,"
    " updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (campaign, key))",
    "INSERT INTO textflow_journal_meta VALUES ('schema_version', '1') ON CONFLICT DO NOTHING",
)

# the server's clock, one for every worker (a test gives its fake clock's time instead)
_NOW = (
    "COALESCE(%(now)s::double precision,"
    " EXTRACT(EPOCH FROM statement_timestamp())::double precision)"
)

_CLAIM = """
INSERT INTO textflow_journal AS j
    (campaign, key, phone_number, status, owner, lease_until, detail, updated_at)
VALUES (%(campaign)s, %(key)s, %(phone)s, 'sending', %(owner)s,
        <now> + %(lease)s, NULL, <now>)
ON CONFLICT (campaign, key) DO UPDATE SET
    phone_number = EXCLUDED.phone_number, status = 'sending', owner = EXCLUDED.owner,
    lease_until = EXCLUDED.lease_until, detail = NULL, updated_at = EXCLUDED.updated_at
WHERE j.status = 'refused'
   OR (%(resend)s AND (j.status = 'maybe_sent'
                       OR (j.status = 'sending' AND j.lease_until < <now>)))
RETURNING 1
""".replace("<now>", _NOW)

_VIEW = f"CASE WHEN status = 'sending' AND lease_until < {_NOW} THEN 'maybe_sent' ELSE status END"


class PostgresJournal:
    """A `Journal` in PostgreSQL that many workers share; claims are leased.

    Args:
        url: ``postgresql://user:password@host:port/dbname?campaign=NAME`` (libpq's
            URL; other query parameters are passed on to it).
        lease: Seconds a claim stays ``sending`` without a heartbeat (default: the URL's
            ``lease=``, else 60).
        clock: Seconds since the epoch (tests move a fake one); by default the server's
            clock, one clock for every worker whatever theirs say.
        heartbeat: Extend this worker's open claims from a thread.

    Raises:
        JournalError: The database cannot be reached, or its ``textflow_journal`` is
            not a textflow journal; ``__cause__`` is psycopg's error.

    Examples:
        >>> journal = PostgresJournal("postgresql://app@db/app?campaign=spring")
        >>> report = client.send_many(numbers, text="Hi", journal=journal)
    """

    def __init__(
        self,
        url: str,
        *,
        lease: Optional[float] = None,
        clock: Optional[Clock] = None,
        heartbeat: bool = True,
    ) -> None:
        self.campaign = campaign_of(url)
        self.url = shown_url(url)
        self.lease = lease_of(url, DEFAULT_LEASE) if lease is None else check_lease(lease)
        self.owner = worker_id()
        self._clock = clock
        # two connections, each used by one thread at a time: claims (the dispatching
        # thread) do not wait behind records (the sending threads)
        self._lock = threading.Lock()
        self._writer_lock = threading.Lock()
        server = without_query(url, *OUR_PARAMETERS)
        with self._failing_as_journal_error():
            import psycopg

            self._db: psycopg.Connection[Any] = psycopg.connect(
                server, autocommit=True, connect_timeout=10
            )
        try:
            with self._using():
                self._open(self._db)
                self._writer: psycopg.Connection[Any] = psycopg.connect(
                    server, autocommit=True, connect_timeout=10
                )
                self._writer.execute("SET synchronous_commit TO on")
        except BaseException:
            self._db.close()
            raise
        self._heartbeat = Heartbeat(self.renew, self.lease / 3) if heartbeat else None

    @contextlib.contextmanager
    def _failing_as_journal_error(self) -> Iterator[None]:
        try:
            import psycopg
        except ImportError as exc:
            raise JournalError(
                "A Postgres journal needs psycopg 3: pip install 'textflowsms[postgres]'."
            ) from exc
        try:
            yield
        except psycopg.Error as exc:
            raise JournalError(
                f"The journal {self.url} cannot be used: {type(exc).__name__}: {exc}"
            ) from exc

    @contextlib.contextmanager
    def _using(self) -> Iterator[None]:
        with self._lock, self._failing_as_journal_error():
            yield

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        with self._writer_lock, self._failing_as_journal_error():
            yield

    def _open(self, db: psycopg.Connection[Any]) -> None:
        # a claim must be on disk before its SMS leaves, whatever the server's default
        # (with synchronous_commit off, a crash loses the last claims: a rerun sends twice)
        db.execute("SET synchronous_commit TO on")
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            for statement in _SCHEMA:
                db.execute(statement)
            row = db.execute(
                "SELECT value FROM textflow_journal_meta WHERE name = 'schema_version'"
            ).fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            raise JournalError(
                f"The journal {self.url} is not a textflow journal of schema {SCHEMA_VERSION}."
            )
        # a table of the same name but other columns fails here, not mid-run
        db.execute(
            "SELECT campaign, key, phone_number, status, owner, lease_until, detail, updated_at "
            "FROM textflow_journal LIMIT 0"
        )

    def _given_now(self) -> Optional[float]:
        """The fake clock's time; None: the statement reads the server's clock."""
        return None if self._clock is None else self._clock()

    def state(self, key: str) -> Optional[str]:
        """The recipient's status (an expired claim reads ``maybe_sent``), or None.

        Examples:
            >>> journal.state(message_key("+11234567890", "Hi"))
            'sent'
        """
        params = {"now": self._given_now(), "campaign": self.campaign, "key": key}
        with self._using():
            row = self._db.execute(
                f"SELECT {_VIEW} FROM textflow_journal "  # noqa: S608 - constant text
                "WHERE campaign = %(campaign)s AND key = %(key)s",
                params,
            ).fetchone()
        return None if row is None else str(row[0])

    def claim(self, key: str, phone_number: str, *, resend_maybe_sent: bool) -> bool:
        """Mark the recipient ``sending`` under this worker's lease unless it is done.

        Examples:
            >>> journal.claim(key, "+11234567890", resend_maybe_sent=False)
            True
        """
        params = {
            "campaign": self.campaign,
            "key": key,
            "phone": phone_number,
            "owner": self.owner,
            "lease": self.lease,
            "now": self._given_now(),
            "resend": bool(resend_maybe_sent),
        }
        with self._using():
            claimed = self._db.execute(_CLAIM, params).fetchone() is not None
        if claimed and self._heartbeat is not None:
            self._heartbeat.start()
        return claimed

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        """Store the outcome of a recipient this worker claimed (ignored if it is not ours).

        Examples:
            >>> journal.record(key, "sent", "Message sent successfully")
        """
        if status not in (SENT, MAYBE_SENT, REFUSED):
            raise ValueError(f"cannot record the status {status!r}.")
        if detail is not None:  # the API's words, as they came: TEXT refuses U+0000
            detail = detail.replace("\x00", "\N{REPLACEMENT CHARACTER}")
        with self._writing():
            self._writer.execute(
                f"UPDATE textflow_journal SET status = %(status)s, detail = %(detail)s, "  # noqa: S608
                f"updated_at = {_NOW}, lease_until = NULL WHERE campaign = %(campaign)s "
                "AND key = %(key)s AND status = 'sending' AND owner = %(owner)s",
                {
                    "status": status,
                    "detail": detail,
                    "now": self._given_now(),
                    "campaign": self.campaign,
                    "key": key,
                    "owner": self.owner,
                },
            )

    def renew(self) -> None:
        """Move the deadlines of this worker's open claims to ``lease`` seconds from now.

        Examples:
            >>> journal.renew()
        """
        with self._writing():
            self._writer.execute(
                f"UPDATE textflow_journal SET lease_until = {_NOW} + %(lease)s "  # noqa: S608
                "WHERE campaign = %(campaign)s AND owner = %(owner)s AND status = 'sending'",
                {
                    "now": self._given_now(),
                    "lease": self.lease,
                    "campaign": self.campaign,
                    "owner": self.owner,
                },
            )

    def counts(self) -> dict[str, int]:
        """Recipients by status; claims whose lease expired count as ``maybe_sent``.

        Examples:
            >>> journal.counts()
            {'maybe_sent': 2, 'sent': 9998}
        """
        with self._using():
            rows = self._db.execute(
                f"SELECT {_VIEW} AS s, COUNT(*) FROM textflow_journal "  # noqa: S608
                "WHERE campaign = %(campaign)s GROUP BY s ORDER BY s",
                {"now": self._given_now(), "campaign": self.campaign},
            ).fetchall()
        return {str(status): int(count) for status, count in rows}

    def recorded_since(self, when: float) -> int:
        """Recipients whose outcome was recorded at ``when`` (seconds since the epoch) or later.

        Examples:
            >>> journal.recorded_since(time.time() - 60)
            1200
        """
        with self._using():
            row = self._db.execute(
                "SELECT COUNT(*) FROM textflow_journal WHERE campaign = %s "
                "AND status <> 'sending' AND updated_at >= %s",
                (self.campaign, when),
            ).fetchone()
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        """Stop the heartbeat and close the connection (claims left open expire).

        Examples:
            >>> journal.close()
        """
        if self._heartbeat is not None:
            self._heartbeat.stop()
        with self._writing():
            self._writer.close()
        with self._using():
            self._db.close()

    def __enter__(self) -> PostgresJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresJournal({self.url!r})"
