"""One ``send_many`` run's bookkeeping, shared by the sync and async runners.

The runners only iterate, wait and send; everything they decide with (what a
recipient is, whether the journal has it, what an error means, when to stop,
what to count) is here, once.

Over 300 lines, yet one module: the decisions share one state (claims, counts,
the stop) under one lock, and splitting them would pass that state around.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence, Sized
from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Union

from textflow._many._journal import DONE, Journal, SQLiteJournal
from textflow._many._outcomes import (
    MAYBE_SENT,
    REFUSED,
    SENT,
    SKIPPED,
    Outcome,
    Progress,
    SendReport,
    StopOn,
    classify,
    stop_predicate,
)
from textflow._many._rate import Pacer, RateLimiter
from textflow._many._recipients import Prepared, prepare, shown_number
from textflow.errors import (
    ClientStateError,
    InputValidationError,
    JournalError,
    SendManyInterrupted,
    SendManyStopped,
    TextFlowError,
)
from textflow.models import SendMessageOk

ProgressCallback = Callable[[Progress], None]
#: A send that ended: its recipient, its rate-limit permit, and the answer or the error.
Ended = tuple[Prepared, object, Union[SendMessageOk, BaseException]]
JournalArg = Union[str, "os.PathLike[str]", Journal, None]
#: A list up to this long keeps its outcomes in the report by default; anything else
#: (a generator, a bigger list) keeps totals only, so memory stays flat.
SMALL_LIST = 10_000
#: Most recipients claimed in one step (when the journal has ``claim_many``).
MAX_BATCH = 64
#: The permit of a run without a rate limit.
NO_LIMIT = object()
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Settings:
    """``send_many``'s options, checked before anything is sent."""

    text: Optional[str]
    phone_field: str
    concurrency: int
    max_per_second: Optional[float]
    on_progress: Optional[ProgressCallback]
    stop_on: Callable[[BaseException], bool]
    resend_maybe_sent: bool
    keep_outcomes: Optional[bool]
    max_per_minute: Optional[float] = None
    rate_limit: Optional[str] = None


def settings(
    *,
    text: Optional[str],
    phone_field: str,
    concurrency: int,
    max_per_second: Optional[float],
    on_progress: Optional[ProgressCallback],
    stop_on: Optional[StopOn],
    resend_maybe_sent: bool,
    keep_outcomes: Optional[bool],
    max_per_minute: Optional[float] = None,
    rate_limit: Optional[str] = None,
) -> Settings:
    """The options, or the error a programmer needs to see before a single send."""
    if text is not None and not isinstance(text, str):
        raise InputValidationError(
            f"text must be a str, not {type(text).__name__}.", argument="text"
        )
    if not isinstance(phone_field, str):
        raise InputValidationError("phone_field must be a str.", argument="phone_field")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InputValidationError(
            f"concurrency must be an int >= 1, not {concurrency!r}.", argument="concurrency"
        )
    if max_per_second is not None:
        try:
            RateLimiter(max_per_second)
        except (TypeError, ValueError) as exc:
            raise InputValidationError(str(exc), argument="max_per_second") from None
    if max_per_minute is not None:
        try:
            RateLimiter(max_per_minute, window=60.0, name="max_per_minute")
        except (TypeError, ValueError) as exc:
            raise InputValidationError(str(exc), argument="max_per_minute") from None
    if rate_limit is not None and not (
        isinstance(rate_limit, str) and rate_limit.startswith(_REDIS_SCHEMES)
    ):
        raise InputValidationError(
            "rate_limit must be a Redis URL (redis://host:port/db).", argument="rate_limit"
        )
    if on_progress is not None and not callable(on_progress):
        raise InputValidationError("on_progress must be callable.", argument="on_progress")
    try:
        stop = stop_predicate(stop_on)
    except TypeError as exc:
        raise InputValidationError(str(exc), argument="stop_on") from None
    return Settings(
        text,
        phone_field,
        concurrency,
        max_per_second,
        on_progress,
        stop,
        bool(resend_maybe_sent),
        None if keep_outcomes is None else bool(keep_outcomes),
        max_per_minute,
        rate_limit,
    )


def open_journal(journal: JournalArg) -> tuple[Optional[Journal], bool]:
    """(the journal, whether this run opened it and so closes it)."""
    if journal is None:
        return None, False
    if isinstance(journal, str) and journal.startswith(_REDIS_SCHEMES):
        from textflow._many._redis_journal import RedisJournal

        return RedisJournal(journal), True
    if isinstance(journal, str) and journal.startswith(_POSTGRES_SCHEMES):
        from textflow._many._postgres_journal import PostgresJournal

        return PostgresJournal(journal), True
    if isinstance(journal, str) and "://" in journal:
        raise InputValidationError(
            "journal must be a file name (SQLite), a redis:// or a postgresql:// URL with "
            "?campaign=NAME, or a Journal.",
            argument="journal",
        )
    if isinstance(journal, (str, os.PathLike)):
        return SQLiteJournal(journal), True
    if all(hasattr(journal, name) for name in ("state", "claim", "record")):
        return journal, False
    raise InputValidationError(
        "journal must be a file name or a Journal (state, claim, record).", argument="journal"
    )


def pinned_journal(journal: str) -> str:
    """A Redis or Postgres journal's URL naming its campaign's instance
    (``&instance=ID``, see `RedisJournal.pinned_url`); any other journal as given.

    A run, a chunk or a resume command given the pinned URL stops with a `JournalError`
    when Redis lost the campaign (or Postgres its rows), where the bare URL would start
    it again from nothing.
    """
    if journal.startswith(_POSTGRES_SCHEMES):
        from textflow._many._postgres_journal import PostgresJournal

        with PostgresJournal(journal, heartbeat=False) as postgres:
            return postgres.pinned_url()
    if not journal.startswith(_REDIS_SCHEMES):
        return journal
    from textflow._many._redis_journal import RedisJournal

    with RedisJournal(journal, heartbeat=False) as opened:
        return opened.pinned_url()


class Limiter(Protocol):
    def take(self) -> tuple[Optional[object], float]:
        """A permit and the seconds to wait before sending; or (None, the seconds to wait
        before asking again)."""

    def give_back(self, permit: object) -> None:
        """The permit's send has its answer (or failed, or never started)."""

    def close(self) -> None:
        """Release what it holds."""


class LocalLimiter:
    """This process's own pace (`Pacer`), on the run's clock; safe to use from threads."""

    def __init__(self, options: Settings, clock: Callable[[], float]) -> None:
        limiters = []
        if options.max_per_second is not None:
            limiters.append(RateLimiter(options.max_per_second))
        if options.max_per_minute is not None:
            limiters.append(RateLimiter(options.max_per_minute, window=60.0))
        self._pacer = Pacer(limiters)
        self._clock = clock
        self._lock = threading.Lock()

    def take(self) -> tuple[Optional[object], float]:
        with self._lock:
            now = self._clock()
            turn = self._pacer.take(now)
        return turn.permit, max(0.0, turn.start - now)

    def give_back(self, permit: object) -> None:
        if isinstance(permit, int):
            with self._lock:
                self._pacer.give_back(permit, self._clock())

    def close(self) -> None:
        pass


def open_limiter(
    options: Settings, journal: JournalArg, clock: Callable[[], float]
) -> Optional[Limiter]:
    """The run's rate limit: shared through Redis when ``rate_limit`` is given or the
    journal is on Redis (a URL, or a journal with ``rate_limit_url()``); else this
    process's own; None without a limit."""
    if options.max_per_second is None and options.max_per_minute is None:
        return None
    url = options.rate_limit
    if url is None and isinstance(journal, str) and journal.startswith(_REDIS_SCHEMES):
        url = journal  # the limiter leaves out the journal's own parameters
    shared = getattr(journal, "rate_limit_url", None)  # a RedisJournal given as an object
    if url is None and callable(shared):
        url = str(shared())
    if url is None:
        return LocalLimiter(options, clock)
    from textflow._many._shared_rate import SharedRateLimiter

    return SharedRateLimiter(
        url, max_per_second=options.max_per_second, max_per_minute=options.max_per_minute
    )


def length(recipients: object) -> Optional[int]:
    """How many recipients, when the input knows (a list); None for a generator."""
    return len(recipients) if isinstance(recipients, Sized) else None


#: Confirmations of a stale claim before its send (`Run.still_claimed`), at most.
CONFIRMS = 3
_LATE = "its claim could not be confirmed within half its lease (the store answered too late)"


class Run:
    """Counts, outcomes, journal and stop decision of one run; safe to use from threads."""

    def __init__(
        self,
        options: Settings,
        journal: Optional[Journal],
        total: Optional[int],
        clock: Callable[[], float],
        limiter: Optional[Limiter] = None,
    ) -> None:
        self.options = options
        self.journal = journal
        self.total = total
        self.clock = clock
        self.started = clock()
        self.report = SendReport()
        self.limiter = limiter
        keep = options.keep_outcomes
        self.keep_outcomes = (total is not None and total <= SMALL_LIST) if keep is None else keep
        self.stop_error: Optional[BaseException] = None  # matched stop_on
        self.fatal: Optional[BaseException] = None  # a programming error: raised as is
        self.interrupted: Optional[BaseException] = None  # Ctrl-C
        self.local_limit = limiter is None or isinstance(limiter, LocalLimiter)
        self._claim_many = getattr(journal, "claim_many", None)
        self._record_many = getattr(journal, "record_many", None)
        # a leased claim is confirmed before its send when it may have run out meanwhile
        self._claim_stale = getattr(journal, "claim_stale", None)
        self._confirm_claim = getattr(journal, "confirm_claim", None)
        # recipients claimed in one step, as many as there are free sending slots: one
        # round trip for a batch. One at a time with a rate limit (a claimed recipient
        # would wait its turn: claim each just before its send) or a journal without
        # claim_many.
        self.batch = (
            min(options.concurrency, MAX_BATCH)
            if self._claim_many is not None and limiter is None
            else 1
        )
        # does admit read the journal? Not when claims say what kept a recipient
        self.admit_reads_journal = journal is not None and self._claim_many is None
        # the async driver journals from threads, and calls on_progress on its loop
        self.defer_progress = False
        self._progress: list[Progress] = []
        self._lock = threading.Lock()

    def stopped(self) -> bool:
        return self.stop_error is not None or self.fatal is not None or self.interrupted is not None

    def admit(self, index: int, item: object) -> Optional[Prepared]:
        """The recipient to send, or None once its outcome (refused, skipped) is recorded."""
        try:
            job = prepare(index, item, self.options.text, self.options.phone_field)
        except InputValidationError as exc:
            shown = shown_number(item, self.options.phone_field)
            self._finish(Outcome(index, shown, REFUSED, error=exc))
            return None
        if self.admit_reads_journal:
            assert self.journal is not None
            state = self.journal.state(job.key)
            if state in DONE and not (state == MAYBE_SENT and self.options.resend_maybe_sent):
                self._finish(Outcome(index, job.phone_number, SKIPPED, job.text, previous=state))
                return None
        return job

    def turn(self) -> tuple[Optional[object], float]:
        """(a permit, seconds to wait before sending), or (None, seconds to wait before
        asking again); (None, 0) without a rate limit.

        Asked after the claim: a recipient another worker has already claimed takes no
        turn of a rate limit shared by many workers."""
        if self.limiter is None:
            return NO_LIMIT, 0.0
        return self.limiter.take()

    def answered(self, permit: object) -> None:
        """The send of ``permit`` ended (answered, failed, or never started): the limiter
        counts it from now. A failure to say so stops the run, after the outcome is kept."""
        if self.limiter is None or permit is NO_LIMIT:
            return
        try:
            self.limiter.give_back(permit)
        except Exception as exc:
            self.fail(exc)

    def claim(self, job: Prepared) -> bool:
        """Journal the recipient as being sent; False (and skipped) if it already is."""
        if self.journal is None:
            return True
        if self.journal.claim(
            job.key, job.phone_number, resend_maybe_sent=self.options.resend_maybe_sent
        ):
            return True
        previous = self.journal.state(job.key)
        self._finish(Outcome(job.index, job.phone_number, SKIPPED, job.text, previous=previous))
        return False

    def claim_all(self, jobs: list[Prepared]) -> list[Prepared]:
        """`claim` for several recipients, in one step when the journal has ``claim_many``;
        the ones claimed (those already claimed or done are skipped, and reported so)."""
        if self.journal is None:
            return jobs
        if self._claim_many is None:
            return [job for job in jobs if self.claim(job)]
        kept = self._claim_many(
            [(job.key, job.phone_number) for job in jobs],
            resend_maybe_sent=self.options.resend_maybe_sent,
        )
        claimed = []
        for job, previous in zip(jobs, kept):
            if previous is None:
                claimed.append(job)
            else:
                self._finish(
                    Outcome(job.index, job.phone_number, SKIPPED, job.text, previous=previous)
                )
        return claimed

    def ahead(self, spread: float, tried: int, claimed: int) -> float:
        """How many recipients the next claim step asks for per free slot: the ones
        this step tried per one it claimed (``spread`` doubled when other workers held
        every one), so a worker among several claims about a slot's worth in one round
        trip rather than spending one per slot's worth of others' recipients; 1 when it
        claimed them all. The step asks for ``batch`` at most.

        What a worker claims beyond its free slots waits for a slot, one send's time at
        most; a worker killed meanwhile leaves those ``maybe_sent``, so it stays within
        ``batch`` (the slots' worth)."""
        if tried == 0:
            return spread
        if claimed == 0:
            return min(float(self.batch), 2 * spread)
        return min(float(self.batch), tried / claimed)

    def claim_stale(self, job: Prepared) -> bool:
        """Whether the journal should confirm the claim before its send (`still_claimed`):
        a leased claim its store has not confirmed for half a lease (the worker stalled, a
        paused process or machine). Answered without I/O; False for other journals."""
        if self._claim_stale is None or self._confirm_claim is None:
            return False
        return bool(self._claim_stale(job.key))

    def still_claimed(self, job: Prepared, permit: object) -> bool:
        """Just before a stale claim's send: renew it in the store if it is still this
        worker's (True); if another worker took it once its lease ran out (a run with
        ``resend_maybe_sent``), or the store fails, it is not sent: skipped (or refused,
        with the store's error raised), its permit given back.

        A confirmation counts from the moment it was asked: one whose answer came back
        stale too (the worker paused again on the way, or a lease shorter than the
        store's round trips) is asked again, `CONFIRMS` times at most; then the claim is
        given back, refused: the renewed lease may have run out before the answer came,
        and another worker taken the recipient."""
        assert self.journal is not None
        assert self._confirm_claim is not None
        try:
            for _ in range(CONFIRMS):
                if not self._confirm_claim(job.key):
                    previous = self.journal.state(job.key)
                    break
                if not self.claim_stale(job):
                    return True
            else:
                self.journal.record(job.key, REFUSED, _LATE)
                self.answered(permit)
                error = JournalError(f"Not sent: {_LATE}.")
                self._finish(Outcome(job.index, job.phone_number, REFUSED, job.text, error=error))
                return False
        except BaseException as exc:
            self.answered(permit)
            self._finish(Outcome(job.index, job.phone_number, REFUSED, job.text, error=exc))
            raise
        self.answered(permit)
        self._finish(Outcome(job.index, job.phone_number, SKIPPED, job.text, previous=previous))
        return False

    def release(self, job: Prepared, permit: Optional[object] = None) -> None:
        """Give back a claim the run will not send (it stopped while waiting its turn):
        ``refused`` (not sent) in the journal, so a rerun or another worker sends it."""
        if permit is not None:
            self.answered(permit)
        if self.journal is not None:
            self.journal.record(job.key, REFUSED, "not sent: the run stopped before its turn")

    def sent(self, job: Prepared, result: SendMessageOk) -> None:
        self._record(job, SENT, result.message)
        self._finish(Outcome(job.index, job.phone_number, SENT, job.text, result=result))

    def _record(self, job: Prepared, status: str, detail: Optional[str]) -> None:
        """The outcome in the journal; if that fails, ``maybe_sent`` in the report (as the
        journal will have it: its claim stays open, then expires) and the error raised."""
        if self.journal is None:
            return
        try:
            self.journal.record(job.key, status, detail)
        except BaseException as exc:
            self._finish(Outcome(job.index, job.phone_number, MAYBE_SENT, job.text, error=exc))
            raise

    def failed(self, job: Prepared, exc: BaseException) -> None:
        """Record a send that raised; decide whether the run stops."""
        status = classify(exc)
        self._record(job, status, f"{type(exc).__name__}: {exc}")
        self._failed(job, status, exc)

    def _failed(self, job: Prepared, status: str, exc: BaseException) -> None:
        """Decide whether the run stops, then count the (recorded) failed send."""
        if isinstance(exc, ClientStateError) or (
            isinstance(exc, Exception) and not isinstance(exc, TextFlowError)
        ):
            self.fail(exc)  # not the API's doing: a bug to see, after in-flight sends end
        elif isinstance(exc, Exception) and self.options.stop_on(exc):
            with self._lock:
                if self.stop_error is None:
                    self.stop_error = exc
        self._finish(Outcome(job.index, job.phone_number, status, job.text, error=exc))

    def ended(self, ends: Sequence[Ended]) -> None:
        """`sent` and `failed` for sends that ended together (job, permit, the answer or
        the error): the limiter told, the outcomes journaled in one step when the journal
        has ``record_many``, then counted, in order. A journal that fails leaves its
        recipients ``maybe_sent`` (as `_record` does), and the error is raised after all
        are counted."""
        rows = []
        for job, permit, answer in ends:
            self.answered(permit)
            if isinstance(answer, BaseException):
                rows.append((job.key, classify(answer), f"{type(answer).__name__}: {answer}"))
            else:
                rows.append((job.key, SENT, answer.message))
        errors: list[Optional[BaseException]] = [None] * len(ends)
        if self.journal is not None and self._record_many is not None:
            try:
                self._record_many(rows)
            except BaseException as exc:  # none of them is known to be stored
                errors = [exc] * len(ends)
        elif self.journal is not None:
            for at, row in enumerate(rows):
                try:
                    self.journal.record(*row)
                except BaseException as exc:
                    errors[at] = exc
        for (job, _, answer), (_, status, _), error in zip(ends, rows, errors):
            if error is not None:
                outcome = Outcome(job.index, job.phone_number, MAYBE_SENT, job.text, error=error)
                self._finish(outcome)
            elif isinstance(answer, BaseException):
                self._failed(job, status, answer)
            else:
                self._finish(Outcome(job.index, job.phone_number, SENT, job.text, result=answer))
        for error in errors:
            if error is not None:
                raise error

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.fatal is None:
                self.fatal = exc

    def _finish(self, outcome: Outcome) -> None:
        report = self.report
        with self._lock:
            if outcome.status == SENT:
                report.sent += 1
            elif outcome.status == REFUSED:
                report.refused += 1
            elif outcome.status == MAYBE_SENT:
                report.maybe_sent += 1
            else:
                report.skipped += 1
            if self.keep_outcomes:
                report.outcomes.append(outcome)
            callback = self.options.on_progress
            if callback is None or self.fatal is not None:
                return
            done = report.total
            progress = Progress(
                done=done,
                sent=report.sent,
                refused=report.refused,
                maybe_sent=report.maybe_sent,
                skipped=report.skipped,
                remaining=None if self.total is None else max(0, self.total - done),
                elapsed=self.clock() - self.started,
                outcome=outcome,
            )
            if self.defer_progress:
                self._progress.append(progress)
                return
            try:
                callback(progress)  # under the lock: callbacks never overlap
            except Exception as exc:
                self.fatal = exc

    def flush_progress(self) -> None:
        """Call ``on_progress`` with the progress kept back (``defer_progress``), in order."""
        callback = self.options.on_progress
        if callback is None or not self._progress:
            return
        with self._lock:
            for progress in self._progress:
                if self.fatal is not None:
                    break
                try:
                    callback(progress)
                except Exception as exc:
                    self.fatal = exc
            self._progress.clear()

    def result(self) -> SendReport:
        """The report; or the exception that ended the run, carrying it."""
        report = self.report
        if self.fatal is not None:
            if isinstance(self.fatal, JournalError):
                self.fatal.report = report
            raise self.fatal
        if self.interrupted is not None:
            report.stopped_by = self.interrupted
            raise SendManyInterrupted(
                f"send_many was interrupted after {report.total} recipients "
                f"({report.sent} sent, {report.maybe_sent} maybe sent); sends in flight "
                "were finished or are recorded as maybe sent.",
                report,
            ) from self.interrupted
        if self.stop_error is not None:
            report.stopped_by = self.stop_error
            raise SendManyStopped(
                f"send_many stopped after {report.total} recipients ({report.sent} sent): "
                f"{type(self.stop_error).__name__}: {self.stop_error}",
                report,
            ) from self.stop_error
        return report
