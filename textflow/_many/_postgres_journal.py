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

A claim (or a batch of them) is one ``INSERT ... ON CONFLICT DO NOTHING`` of new
rows, then, for rows that may be claimed again, one ``UPDATE`` under row locks taken in
key order, the status checked again under the lock, so two workers never both claim a
recipient; the records of sends that end together are one ``UPDATE`` (`GroupCommit`).
Leases are set and read on the server's clock (``statement_timestamp()``), one clock
for every worker. Over 300 lines, yet one module: the statements are read beside the
Python that runs them. Delete a campaign with ``DELETE FROM textflow_journal WHERE
campaign = 'NAME'``. Phone numbers are stored; the API key never is.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Optional

from textflow._many._batch import GroupCommit
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

# a batch of claims: new rows in one statement that locks nothing it does not insert
# (DO NOTHING), so workers racing over the same recipients do not queue behind each
# other's row locks; keys sorted, so that overlapping batches insert in one order
_CLAIM_NEW = """
INSERT INTO textflow_journal
    (campaign, key, phone_number, status, owner, lease_until, detail, updated_at)
SELECT %(campaign)s, c.key, c.phone, 'sending', %(owner)s, <now> + %(lease)s, NULL, <now>
FROM unnest(%(keys)s::text[], %(phones)s::text[]) AS c(key, phone) ORDER BY c.key
ON CONFLICT (campaign, key) DO NOTHING
RETURNING key
""".replace("<now>", _NOW)

# then, only when some existing rows may be claimed again (refused; with resend, maybe
# sent or an expired lease): those, locked in key order, the status checked again under
# the lock (two workers never both take one)
_CLAIM_AGAIN = """
WITH again AS (
    SELECT key FROM textflow_journal
    WHERE campaign = %(campaign)s AND key = ANY(%(keys)s)
    ORDER BY key FOR UPDATE
)
UPDATE textflow_journal AS j
SET phone_number = c.phone, status = 'sending', owner = %(owner)s,
    lease_until = <now> + %(lease)s, detail = NULL, updated_at = <now>
FROM unnest(%(keys)s::text[], %(phones)s::text[]) AS c(key, phone)
WHERE j.campaign = %(campaign)s AND j.key = ANY(%(keys)s) AND j.key = c.key
  AND j.key IN (SELECT key FROM again)
  AND (j.status = 'refused'
       OR (%(resend)s AND (j.status = 'maybe_sent'
                           OR (j.status = 'sending' AND j.lease_until < <now>))))
RETURNING j.key
""".replace("<now>", _NOW)

# a batch of records in one statement; the rows are locked in key order first (as claims
# lock them), so a record batch and another worker's claim batch never deadlock; every
# row is found by its primary key (key = ANY), never by a scan of the campaign
_RECORD_MANY = """
WITH mine AS (
    SELECT key FROM textflow_journal
    WHERE campaign = %(campaign)s AND key = ANY(%(keys)s) AND status = 'sending'
      AND owner = %(owner)s
    ORDER BY key FOR UPDATE
)
UPDATE textflow_journal AS j
SET status = r.status, detail = r.detail, updated_at = <now>, lease_until = NULL
FROM unnest(%(keys)s::text[], %(statuses)s::text[], %(details)s::text[])
    AS r(key, status, detail)
WHERE j.campaign = %(campaign)s AND j.key = ANY(%(keys)s) AND j.key = r.key
  AND j.key IN (SELECT key FROM mine)
""".replace("<now>", _NOW)

# each use of a prepared statement planned with its own values (PostgreSQL 12 or later)
_CUSTOM_PLANS = "SET plan_cache_mode TO force_custom_plan"

_VIEW = f"CASE WHEN status = 'sending' AND lease_until < {_NOW} THEN 'maybe_sent' ELSE status END"


def _settle(db: psycopg.Connection[Any]) -> None:
    """What each of the journal's connections needs, whatever the server's defaults."""
    # a claim must be on disk before its SMS leaves (with synchronous_commit off, a crash
    # loses the last claims: a rerun sends twice)
    db.execute("SET synchronous_commit TO on")
    db.execute(_CUSTOM_PLANS)


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
        # statements prepared at their first use (parsed once per connection: a third
        # less server CPU per batch), but planned at each use (force_custom_plan): a
        # generic plan kept from when the campaign's table was nearly empty looked rows
        # up by scanning the whole campaign (Postgres's CPU per record grew with the
        # campaign); planned with the keys at hand, the primary key is used
        with self._failing_as_journal_error():
            import psycopg

            self._db: psycopg.Connection[Any] = psycopg.connect(
                server, autocommit=True, connect_timeout=10, prepare_threshold=0
            )
        try:
            with self._using():
                self._open(self._db)
                self._writer: psycopg.Connection[Any] = psycopg.connect(
                    server, autocommit=True, connect_timeout=10, prepare_threshold=0
                )
                _settle(self._writer)
        except BaseException:
            self._db.close()
            raise
        self._heartbeat = Heartbeat(self.renew, self.lease / 3) if heartbeat else None
        self._records: GroupCommit[tuple[str, str, Optional[str]]] = GroupCommit(self._write)

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
        _settle(db)
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
        kept = self.claim_many([(key, phone_number)], resend_maybe_sent=resend_maybe_sent)
        return kept[0] is None

    def claim_many(
        self, claims: Sequence[tuple[str, str]], *, resend_maybe_sent: bool
    ) -> list[Optional[str]]:
        """Claim several recipients (key, phone number) in one statement; for each, None if
        claimed, else the status that kept it (as `state` reads it).

        Examples:
            >>> journal.claim_many([(key, "+11234567890")], resend_maybe_sent=False)
            [None]
        """
        first: dict[str, str] = {}
        for key, phone_number in claims:
            first.setdefault(key, phone_number)  # a key twice in one batch: claimed once
        if not first:
            return []
        params = {
            "campaign": self.campaign,
            "keys": list(first),
            "phones": list(first.values()),
            "owner": self.owner,
            "lease": self.lease,
            "now": self._given_now(),
            "resend": bool(resend_maybe_sent),
        }
        with self._using():
            claimed = {str(row[0]) for row in self._db.execute(_CLAIM_NEW, params).fetchall()}
            others = [key for key in first if key not in claimed]
            kept: dict[str, str] = {}
            if others:
                rows = self._db.execute(
                    f"SELECT key, {_VIEW} FROM textflow_journal "  # noqa: S608 - constant text
                    "WHERE campaign = %(campaign)s AND key = ANY(%(keys)s)",
                    {"now": params["now"], "campaign": self.campaign, "keys": others},
                ).fetchall()
                kept = {str(key): str(status) for key, status in rows}
                again = sorted(
                    key
                    for key, status in kept.items()
                    if status == REFUSED or (resend_maybe_sent and status == MAYBE_SENT)
                )
                if again:
                    params["keys"] = again
                    params["phones"] = [first[key] for key in again]
                    rows = self._db.execute(_CLAIM_AGAIN, params).fetchall()
                    claimed.update(str(row[0]) for row in rows)
        if claimed and self._heartbeat is not None:
            self._heartbeat.start()
        answers: list[Optional[str]] = []
        seen: set[str] = set()
        for key, _ in claims:
            if key in seen:  # the batch's own earlier claim of it
                answers.append("sending" if key in claimed else kept.get(key, "sending"))
            else:
                answers.append(None if key in claimed else kept.get(key, "sending"))
            seen.add(key)
        return answers

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        """Store the outcome of a recipient this worker claimed (ignored if it is not ours).

        Examples:
            >>> journal.record(key, "sent", "Message sent successfully")
        """
        self.record_many([(key, status, detail)])

    def record_many(self, records: Sequence[tuple[str, str, Optional[str]]]) -> None:
        """`record` for several recipients (key, status, detail), in one statement.

        Examples:
            >>> journal.record_many([(key, "sent", "Message sent successfully")])
        """
        rows = []
        for key, status, detail in records:
            if status not in (SENT, MAYBE_SENT, REFUSED):
                raise ValueError(f"cannot record the status {status!r}.")
            if detail is not None:  # the API's words, as they came: TEXT refuses U+0000
                detail = detail.replace("\x00", "\N{REPLACEMENT CHARACTER}")
            rows.append((key, status, detail))
        # with the records of other sends that ended meanwhile: one statement for them all
        self._records.write_many(rows)

    def _write(self, records: Sequence[tuple[str, str, Optional[str]]]) -> None:
        params = {
            "campaign": self.campaign,
            "owner": self.owner,
            "now": self._given_now(),
            "keys": [key for key, _, _ in records],
            "statuses": [status for _, status, _ in records],
            "details": [detail for _, _, detail in records],
        }
        with self._writing():
            self._writer.execute(_RECORD_MANY, params)

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

    def now(self) -> float:
        """Seconds since the epoch on the journal's clock (the server's, or the clock
        given): the clock of its leases and of `recorded_since`.

        Examples:
            >>> journal.now()
            1767225600.123456
        """
        with self._using():
            row = self._db.execute(f"SELECT {_NOW}", {"now": self._given_now()}).fetchone()
        assert row is not None  # a SELECT without FROM returns one row
        return float(row[0])

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
