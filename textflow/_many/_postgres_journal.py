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

Each campaign has a row of its own, key ``#campaign``, whose ``detail`` is a random
instance id given when the campaign is created: every claim checks it, so a worker whose
campaign's rows were deleted stops with a `JournalError` instead of taking the campaign
for a new one (as a Redis journal does; ``pinned_url`` names the instance for workers
that open the journal afresh).

A claim (or a batch of them) is one ``INSERT ... ON CONFLICT DO NOTHING`` of new
rows, then, for rows that may be claimed again, one ``UPDATE`` under row locks taken in
key order, the status checked again under the lock, so two workers never both claim a
recipient; the records of sends that end together are one ``UPDATE`` (`GroupCommit`).
Every row is found through the primary key, whatever the statistics say, and each
statement's plan is kept per connection. A statement (or a lock wait) longer than the
URL's ``timeout=`` (seconds, default 30) fails; a lost connection fails the call under
way and the next call connects again.
Leases are set and read on the server's clock (``statement_timestamp()``), one clock
for every worker. Over 300 lines, yet one module: the statements are read beside the
Python that runs them. Delete a campaign with ``DELETE FROM textflow_journal WHERE
campaign = 'NAME'``. Phone numbers are stored; the API key never is.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import parse_qs, urlsplit

from textflow._many._batch import GroupCommit
from textflow._many._deadline import Watchdog
from textflow._many._lease import (
    DEFAULT_LEASE,
    OUR_PARAMETERS,
    Clock,
    Held,
    campaign_of,
    check_lease,
    instance_of,
    lease_heartbeat,
    lease_of,
    shown_url,
    without_query,
    worker_id,
)
from textflow._many._outcomes import MAYBE_SENT, REFUSED, SENT
from textflow.errors import InputValidationError, JournalError

if TYPE_CHECKING:
    import psycopg

SCHEMA_VERSION = "1"
#: Our query parameters of a Postgres journal URL (besides the shared journals' own).
_OUR_PARAMETERS = (*OUR_PARAMETERS, "timeout")
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

_VIEW = f"CASE WHEN status = 'sending' AND lease_until < {_NOW} THEN 'maybe_sent' ELSE status END"

# Every statement finds its rows one key at a time through the primary key: a lateral
# subquery per key (OFFSET 0 keeps it one), whose only conditions are campaign = and
# key = (so any plan probes the index with both, whatever the statistics say about the
# campaign), and an UPDATE reaches the rows it locked by their ctid. Keys come sorted and
# are probed in that order, so rows are locked in key order: two batches never deadlock.

# a batch of claims, one statement: new rows inserted (DO NOTHING: it locks nothing it
# does not insert, so workers racing over the same recipients do not queue behind each
# other's row locks), and, for the keys it did not insert, the status that kept them (as
# `state` reads it; none if the row is not visible yet: another worker's, just claimed).
# Nothing is inserted unless the campaign's row still holds the instance this worker
# opened (the last column says whether it did): rows deleted or a table emptied would
# otherwise look like a new campaign, and everyone would be sent again.
_CLAIM = """
WITH c AS MATERIALIZED (
    SELECT * FROM unnest(%(keys)s::text[], %(phones)s::text[]) AS c(key, phone)
), same AS MATERIALIZED (
    SELECT EXISTS (
        SELECT 1 FROM textflow_journal
        WHERE campaign = %(campaign)s AND key = '#campaign' AND detail = %(instance)s
    ) AS ok
), inserted AS (
    INSERT INTO textflow_journal
        (campaign, key, phone_number, status, owner, lease_until, detail, updated_at)
    SELECT %(campaign)s, c.key, c.phone, 'sending', %(owner)s, <now> + %(lease)s, NULL, <now>
    FROM c WHERE (SELECT ok FROM same) ORDER BY c.key
    ON CONFLICT (campaign, key) DO NOTHING
    RETURNING key
)
SELECT c.key, held.status, (SELECT ok FROM same)
FROM c LEFT JOIN LATERAL (
    SELECT <view> AS status FROM textflow_journal AS t
    WHERE t.campaign = %(campaign)s AND t.key = c.key OFFSET 0
) AS held ON true
WHERE c.key NOT IN (SELECT key FROM inserted)
""".replace("<view>", _VIEW).replace("<now>", _NOW)

# then, only when some existing rows may be claimed again (refused; with resend, maybe
# sent or an expired lease): those, locked in key order, the status checked again under
# the lock (FOR UPDATE reads the row's latest version: two workers never both take one)
_CLAIM_AGAIN = """
WITH again AS (
    SELECT f.row, r.phone
    FROM unnest(%(keys)s::text[], %(phones)s::text[]) AS r(key, phone)
    CROSS JOIN LATERAL (
        SELECT t.ctid AS row FROM textflow_journal AS t
        WHERE t.campaign = %(campaign)s AND t.key = r.key
          AND (t.status = 'refused'
               OR (%(resend)s AND (t.status = 'maybe_sent'
                                   OR (t.status = 'sending' AND t.lease_until < <now>))))
        OFFSET 0 FOR UPDATE
    ) AS f
)
UPDATE textflow_journal AS j
SET phone_number = again.phone, status = 'sending', owner = %(owner)s,
    lease_until = <now> + %(lease)s, detail = NULL, updated_at = <now>
FROM again WHERE j.ctid = again.row
RETURNING j.key
""".replace("<now>", _NOW)

# a batch of records in one statement: this worker's open claims among the keys, locked
# in key order (as claims lock them), then updated
_RECORD_MANY = """
WITH mine AS (
    SELECT f.row, r.status, r.detail
    FROM unnest(%(keys)s::text[], %(statuses)s::text[], %(details)s::text[])
        AS r(key, status, detail)
    CROSS JOIN LATERAL (
        SELECT t.ctid AS row FROM textflow_journal AS t
        WHERE t.campaign = %(campaign)s AND t.key = r.key
          AND t.status = 'sending' AND t.owner = %(owner)s
        OFFSET 0 FOR UPDATE
    ) AS f
)
UPDATE textflow_journal AS j
SET status = mine.status, detail = mine.detail, updated_at = <now>, lease_until = NULL
FROM mine WHERE j.ctid = mine.row
RETURNING j.key
""".replace("<now>", _NOW)

# A row another session changed while a batch waited for its lock has moved: the batch,
# which reaches rows by the ctid it read, skips it (never a wrong write: the ctid no
# longer matches). Its keys are tried again one by one, by primary key: a record still
# ours lands, a claim still open to take is taken.
_RECORD_ONE = """
UPDATE textflow_journal
SET status = %(status)s, detail = %(detail)s, updated_at = <now>, lease_until = NULL
WHERE campaign = %(campaign)s AND key = %(key)s AND status = 'sending' AND owner = %(owner)s
""".replace("<now>", _NOW)

_CLAIM_AGAIN_ONE = """
UPDATE textflow_journal
SET phone_number = %(phone)s, status = 'sending', owner = %(owner)s,
    lease_until = <now> + %(lease)s, detail = NULL, updated_at = <now>
WHERE campaign = %(campaign)s AND key = %(key)s
  AND (status = 'refused'
       OR (%(resend)s AND (status = 'maybe_sent'
                           OR (status = 'sending' AND lease_until < <now>))))
RETURNING key
""".replace("<now>", _NOW)

# the heartbeat: this worker's open claims, found by key as records find them (no index
# holds the owner: a filter on it walked the whole campaign every third of a lease); a
# row another session moved meanwhile is skipped, renewed by the next beat if still ours
_RENEW = """
WITH mine AS (
    SELECT f.row
    FROM unnest(%(keys)s::text[]) AS r(key)
    CROSS JOIN LATERAL (
        SELECT t.ctid AS row FROM textflow_journal AS t
        WHERE t.campaign = %(campaign)s AND t.key = r.key
          AND t.status = 'sending' AND t.owner = %(owner)s
        OFFSET 0 FOR UPDATE
    ) AS f
)
UPDATE textflow_journal AS j SET lease_until = <now> + %(lease)s
FROM mine WHERE j.ctid = mine.row
RETURNING j.key
""".replace("<now>", _NOW)

# a claim confirmed before its send (the worker stalled past half a lease): renewed if it
# is still this worker's, by primary key
_CONFIRM = """
UPDATE textflow_journal SET lease_until = <now> + %(lease)s
WHERE campaign = %(campaign)s AND key = %(key)s AND status = 'sending' AND owner = %(owner)s
RETURNING key
""".replace("<now>", _NOW)


#: Seconds a statement may run, lock waits included, unless the URL says ``timeout=``.
DEFAULT_TIMEOUT = 30.0
#: libpq's own parameters, used unless the URL gives them: a server that does not answer
#: the connection in 10 s, or a peer that vanished (its host down, the network cut: no
#: answer to TCP keepalives for about a minute), ends in an error, not a wait without end
_CONNECTION_DEFAULTS = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}


def timeout_of(url: str) -> float:
    """The ``timeout=SECONDS`` of a Postgres journal URL, else `DEFAULT_TIMEOUT`."""
    values = parse_qs(urlsplit(url).query).get("timeout", [])
    if not values:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(values[-1])
    except ValueError:
        seconds = 0.0
    if not (0.001 <= seconds < 86_400):  # statement_timeout 0 would mean no deadline
        raise InputValidationError(
            f"timeout= in a Postgres journal URL is seconds (at least 0.001, below a day), "
            f"not {values[-1]!r}.",
            argument="journal",
        )
    return seconds


def _settle(db: psycopg.Connection[Any], timeout: float) -> None:
    """What each of the journal's connections needs, whatever the server's defaults: one
    round trip."""
    # a claim must be on disk before its SMS leaves (with synchronous_commit off, a crash
    # loses the last claims: a rerun sends twice). Each statement is planned once per
    # connection and its plan kept (force_generic_plan, PostgreSQL 12 or later): planning
    # was most of Postgres's CPU per statement. A plan made while the campaign was nearly
    # empty would scan it (cheaper than an index, on a page or two) and keep scanning it
    # as it grows: no sequential or bitmap scans in the journal's sessions, so every plan
    # finds rows by the primary key (campaign, key), whatever the statistics say. No
    # statement, nor a wait for a lock another session holds, lasts longer than the
    # timeout: a JournalError, not a hang.
    milliseconds = str(max(1, round(timeout * 1000)))
    db.execute(
        "SELECT set_config('synchronous_commit', 'on', false),"
        " set_config('plan_cache_mode', 'force_generic_plan', false),"
        " set_config('enable_seqscan', 'off', false),"
        " set_config('enable_bitmapscan', 'off', false),"
        " set_config('statement_timeout', %(ms)s, false),"
        " set_config('lock_timeout', %(ms)s, false)",
        {"ms": milliseconds},
    )


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
        self._given_url = url
        self._pinned = instance_of(url)
        self.instance = ""  # the campaign's id, read (or given) on open
        self.url = shown_url(url)
        self.lease = lease_of(url, DEFAULT_LEASE) if lease is None else check_lease(lease)
        self.timeout = timeout_of(url)
        self.owner = worker_id()
        self._clock = clock
        self._held = Held(self.lease, clock)
        # two connections, each used by one thread at a time: claims (the dispatching
        # thread) do not wait behind records (the sending threads)
        self._lock = threading.Lock()
        self._writer_lock = threading.Lock()
        self._closed = False
        # the server's own timeout first; past twice that and a second, the client's
        self._watchdog = Watchdog(2 * self.timeout + 1)
        with self._failing_as_journal_error():
            from psycopg.conninfo import conninfo_to_dict, make_conninfo

            server = without_query(url, *_OUR_PARAMETERS)
            given = conninfo_to_dict(server)
            defaults = {k: v for k, v in _CONNECTION_DEFAULTS.items() if k not in given}
            self._conninfo = make_conninfo(server, **defaults)
        with self._failing_as_journal_error():
            self._db = self._connect()
        try:
            with self._lock, self._using():
                self._open(self._db)
                self._writer = self._connect()
        except BaseException:
            self._db.close()
            self._watchdog.stop()
            raise
        self._heartbeat = lease_heartbeat(self.renew, self.lease) if heartbeat else None
        self._records: GroupCommit[tuple[str, str, Optional[str]]] = GroupCommit(self._write)

    def _connect(self) -> psycopg.Connection[Any]:
        """A connection with the journal's session settings; its statements are
        prepared at their first use (parsed and planned once per connection)."""
        import psycopg

        db = psycopg.connect(self._conninfo, autocommit=True, prepare_threshold=0)
        try:
            _settle(db, self.timeout)
        except BaseException:
            db.close()
            raise
        return db

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
        except (psycopg.Error, OSError) as exc:  # OSError: no descriptor left to watch a call
            raise JournalError(
                f"The journal {self.url} cannot be used: {type(exc).__name__}: {exc}"
            ) from exc

    # A connection lost (the server restarted, the network cut) fails the statement under
    # way: a JournalError, and the run stops (what that statement did is not known: its
    # claims may be held, and expire to maybe_sent). The next call connects again, so a
    # journal kept open (a worker's, a dashboard's, the heartbeat's) works again once the
    # server is back; nothing is retried on its own, so nothing is sent twice.
    @contextlib.contextmanager
    def _using(self) -> Iterator[None]:
        """The connection (connected again if lost), Postgres's errors as JournalError.

        The caller holds ``_lock``, taken and let go by its own ``with`` (a C lock's):
        taken in here, a Ctrl-C at this manager's ``__exit__`` entry would skip letting it
        go, and every later call would wait for it."""
        with self._failing_as_journal_error():
            if self._db.closed and not self._closed:
                self._db = self._connect()
            with self._watched(self._db):
                yield

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """The writer's connection, as `_using`; the caller holds ``_writer_lock``."""
        with self._failing_as_journal_error():
            if self._writer.closed and not self._closed:
                self._writer = self._connect()
            with self._watched(self._writer):
                yield

    @contextlib.contextmanager
    def _watched(self, db: psycopg.Connection[Any]) -> Iterator[None]:
        """The block's statements end within the watchdog's limit, answered or not."""
        if db.closed:  # the journal was closed: the statement says so
            yield
            return
        import psycopg

        with self._watchdog.watching(db.fileno()) as call:
            try:
                yield
            except psycopg.Error as exc:
                if not call.cut:
                    raise
                raise JournalError(
                    f"The journal {self.url} did not answer within "
                    f"{self._watchdog.limit:g} seconds (the server, its machine or the "
                    "network stopped): the connection was given up."
                ) from exc

    def _open(self, db: psycopg.Connection[Any]) -> None:
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
                "SELECT campaign, key, phone_number, status, owner, lease_until, detail, "
                "updated_at FROM textflow_journal LIMIT 0"
            )
            # the campaign's instance: given when the campaign is created (under the lock,
            # so that workers opening a new campaign together agree on one)
            found = db.execute(
                "SELECT detail FROM textflow_journal WHERE campaign = %s AND key = '#campaign'",
                (self.campaign,),
            ).fetchone()
            if found is None:
                if self._pinned is not None:  # it existed: its rows are gone
                    raise self._lost()
                instance = uuid.uuid4().hex
                db.execute(
                    "INSERT INTO textflow_journal VALUES (%(campaign)s, '#campaign', '',"  # noqa: S608
                    f" 'campaign', NULL, NULL, %(instance)s, {_NOW})",
                    {"campaign": self.campaign, "instance": instance, "now": self._given_now()},
                )
            else:
                instance = str(found[0])
        if self._pinned is not None and instance != self._pinned:
            raise self._lost()
        self.instance = instance

    def _lost(self) -> JournalError:
        return JournalError(
            f"The journal {self.url} lost the campaign {self.campaign!r} (instance "
            f"{self._pinned or self.instance}): its rows are gone or were created again "
            "(deleted, the table emptied or dropped). Nothing more is sent from it, so "
            "nobody gets the campaign twice; the recipients it had recorded are unknown "
            "now (see the reports of its runs)."
        )

    def pinned_url(self) -> str:
        """This journal's URL naming its campaign's instance (``&instance=ID``): a worker
        opening it finds this very campaign or stops with a `JournalError`, where a
        campaign whose rows were deleted would otherwise look new.

        Examples:
            >>> PostgresJournal("postgresql://app@db/app?campaign=spring").pinned_url()
            'postgresql://app@db/app?campaign=spring&instance=4f1c...'
        """
        url = without_query(self._given_url, "instance")
        return f"{url}&instance={self.instance}"

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
        with self._lock, self._using():
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
            "instance": self.instance,
        }
        at = self._held.now()
        with self._lock, self._using():
            rows = self._db.execute(_CLAIM, params).fetchall()
            # a key not claimed whose row this statement could not see: another
            # worker's claim, committed while this statement ran
            if rows and not rows[0][2]:
                raise self._lost()
            kept = {
                str(key): "sending" if status is None else str(status) for key, status, _ in rows
            }
            claimed = {key for key in first if key not in kept}
            again = sorted(
                key
                for key, status in kept.items()
                if status == REFUSED or (resend_maybe_sent and status == MAYBE_SENT)
            )
            if again:
                params["keys"] = again
                params["phones"] = [first[key] for key in again]
                taken = {str(row[0]) for row in self._db.execute(_CLAIM_AGAIN, params)}
                for key in again:
                    if key not in taken:  # its row changed meanwhile: as it is now
                        one = {**params, "key": key, "phone": first[key]}
                        taken.update(str(row[0]) for row in self._db.execute(_CLAIM_AGAIN_ONE, one))
                claimed.update(taken)
        self._held.claimed(claimed, at)
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
        try:  # with the records of other sends that ended meanwhile: one statement for them all
            self._records.write_many(rows)
        finally:  # written or not, this worker is done with them
            self._held.done(key for key, _, _ in rows)

    def _write(self, records: Sequence[tuple[str, str, Optional[str]]]) -> None:
        by_key: dict[str, tuple[str, Optional[str]]] = {}
        for key, status, detail in records:
            by_key.setdefault(key, (status, detail))  # once recorded, a key is no longer ours
        keys = sorted(by_key)  # rows locked in key order
        params = {
            "campaign": self.campaign,
            "owner": self.owner,
            "now": self._given_now(),
            "keys": keys,
            "statuses": [by_key[key][0] for key in keys],
            "details": [by_key[key][1] for key in keys],
        }
        with self._writer_lock, self._writing():
            written = {str(row[0]) for row in self._writer.execute(_RECORD_MANY, params)}
            for key in keys:
                if key not in written:  # not ours any more, or its row changed meanwhile
                    status, detail = by_key[key]
                    one = {**params, "key": key, "status": status, "detail": detail}
                    self._writer.execute(_RECORD_ONE, one)

    def renew(self) -> None:
        """Move the deadlines of this worker's open claims to ``lease`` seconds from now.

        Examples:
            >>> journal.renew()
        """
        held = sorted(self._held.keys())  # rows locked in key order, as every batch does
        if not held:
            return
        at = self._held.now()
        with self._writer_lock, self._writing():
            renewed = self._writer.execute(_RENEW, self._renewing(keys=held)).fetchall()
        self._held.confirmed((str(row[0]) for row in renewed), at)

    def _renewing(self, **keys: object) -> dict[str, object]:
        """The parameters of a statement that renews this worker's claims (``keys``)."""
        return {
            "now": self._given_now(),
            "lease": self.lease,
            "campaign": self.campaign,
            "owner": self.owner,
            **keys,
        }

    def claim_stale(self, key: str) -> bool:
        """Whether this worker's claim was last confirmed by the server more than half a
        lease ago (this machine's clock; no round trip): then `confirm_claim` before
        sending.

        Examples:
            >>> journal.claim_stale(key)
            False
        """
        return self._held.stale(key)

    def confirm_claim(self, key: str) -> bool:
        """Renew the claim if it is still this worker's (True), in one statement; False if
        another worker took it since its lease ran out, or its outcome is recorded.

        Examples:
            >>> journal.confirm_claim(key)
            True
        """
        at = self._held.now()
        with self._writer_lock, self._writing():
            found = self._writer.execute(_CONFIRM, self._renewing(key=key)).fetchall()
        if not found:
            self._held.done([key])  # not ours any more: the heartbeat leaves it
            return False
        self._held.confirmed([key], at)
        return True

    def counts(self) -> dict[str, int]:
        """Recipients by status; claims whose lease expired count as ``maybe_sent``.

        Examples:
            >>> journal.counts()
            {'maybe_sent': 2, 'sent': 9998}
        """
        with self._lock, self._using():
            rows = self._db.execute(
                f"SELECT {_VIEW} AS s, COUNT(*) FROM textflow_journal "  # noqa: S608
                "WHERE campaign = %(campaign)s AND key <> '#campaign' GROUP BY s ORDER BY s",
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
        with self._lock, self._using():
            row = self._db.execute(f"SELECT {_NOW}", {"now": self._given_now()}).fetchone()
        assert row is not None  # a SELECT without FROM returns one row
        return float(row[0])

    def recorded_since(self, when: float) -> int:
        """Recipients whose outcome was recorded at ``when`` (seconds since the epoch) or later.

        Examples:
            >>> journal.recorded_since(time.time() - 60)
            1200
        """
        with self._lock, self._using():
            row = self._db.execute(
                "SELECT COUNT(*) FROM textflow_journal WHERE campaign = %s "
                "AND status <> 'sending' AND key <> '#campaign' AND updated_at >= %s",
                (self.campaign, when),
            ).fetchone()
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        """Stop the heartbeat and close the connections (claims left open expire).

        Examples:
            >>> journal.close()
        """
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.stop()
        with self._writer_lock, self._failing_as_journal_error():
            self._writer.close()
        with self._lock, self._failing_as_journal_error():
            self._db.close()
        self._watchdog.stop()

    def __enter__(self) -> PostgresJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresJournal({self.url!r})"
