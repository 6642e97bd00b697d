"""One ``send_many`` run's bookkeeping, shared by the sync and async runners.

The runners only iterate, wait and send; everything they decide with (what a
recipient is, whether the journal has it, what an error means, when to stop,
what to count) is here, once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sized
from dataclasses import dataclass
from typing import Callable, Optional, Union

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
from textflow._many._rate import RateLimiter
from textflow._many._recipients import Prepared, prepare, shown_number
from textflow.errors import (
    ClientStateError,
    InputValidationError,
    SendManyInterrupted,
    SendManyStopped,
    TextFlowError,
)
from textflow.models import SendMessageOk

ProgressCallback = Callable[[Progress], None]
JournalArg = Union[str, "os.PathLike[str]", Journal, None]


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
    keep_outcomes: bool


def settings(
    *,
    text: Optional[str],
    phone_field: str,
    concurrency: int,
    max_per_second: Optional[float],
    on_progress: Optional[ProgressCallback],
    stop_on: Optional[StopOn],
    resend_maybe_sent: bool,
    keep_outcomes: bool,
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
        bool(keep_outcomes),
    )


def open_journal(journal: JournalArg) -> tuple[Optional[Journal], bool]:
    """(the journal, whether this run opened it and so closes it)."""
    if journal is None:
        return None, False
    if isinstance(journal, (str, os.PathLike)):
        return SQLiteJournal(journal), True
    if all(hasattr(journal, name) for name in ("state", "claim", "record")):
        return journal, False
    raise InputValidationError(
        "journal must be a file name or a Journal (state, claim, record).", argument="journal"
    )


def length(recipients: object) -> Optional[int]:
    """How many recipients, when the input knows (a list); None for a generator."""
    return len(recipients) if isinstance(recipients, Sized) else None


class Run:
    """Counts, outcomes, journal and stop decision of one run; safe to use from threads."""

    def __init__(
        self,
        options: Settings,
        journal: Optional[Journal],
        total: Optional[int],
        clock: Callable[[], float],
    ) -> None:
        self.options = options
        self.journal = journal
        self.total = total
        self.clock = clock
        self.started = clock()
        self.report = SendReport()
        self.limiter = (
            None if options.max_per_second is None else RateLimiter(options.max_per_second)
        )
        self.stop_error: Optional[BaseException] = None  # matched stop_on
        self.fatal: Optional[BaseException] = None  # a programming error: raised as is
        self.interrupted: Optional[BaseException] = None  # Ctrl-C
        self._lock = threading.Lock()

    def stopped(self) -> bool:
        return self.stop_error is not None or self.fatal is not None

    def admit(self, index: int, item: object) -> Optional[Prepared]:
        """The recipient to send, or None once its outcome (refused, skipped) is recorded."""
        try:
            job = prepare(index, item, self.options.text, self.options.phone_field)
        except InputValidationError as exc:
            shown = shown_number(item, self.options.phone_field)
            self._finish(Outcome(index, shown, REFUSED, error=exc))
            return None
        if self.journal is not None:
            state = self.journal.state(job.key)
            if state in DONE and not (state == MAYBE_SENT and self.options.resend_maybe_sent):
                self._finish(Outcome(index, job.phone_number, SKIPPED, job.text, previous=state))
                return None
        return job

    def delay(self) -> float:
        """Seconds to wait before the next send starts (0 without a rate limit)."""
        if self.limiter is None:
            return 0.0
        now = self.clock()
        return max(0.0, self.limiter.reserve(now) - now)

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

    def sent(self, job: Prepared, result: SendMessageOk) -> None:
        if self.journal is not None:
            self.journal.record(job.key, SENT, result.message)
        self._finish(Outcome(job.index, job.phone_number, SENT, job.text, result=result))

    def failed(self, job: Prepared, exc: BaseException) -> None:
        """Record a send that raised; decide whether the run stops."""
        status = classify(exc)
        if self.journal is not None:
            self.journal.record(job.key, status, f"{type(exc).__name__}: {exc}")
        if isinstance(exc, ClientStateError) or (
            isinstance(exc, Exception) and not isinstance(exc, TextFlowError)
        ):
            self.fail(exc)  # not the API's doing: a bug to see, after in-flight sends end
        elif isinstance(exc, Exception) and self.options.stop_on(exc):
            with self._lock:
                if self.stop_error is None:
                    self.stop_error = exc
        self._finish(Outcome(job.index, job.phone_number, status, job.text, error=exc))

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
            if self.options.keep_outcomes:
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
            try:
                callback(progress)  # under the lock: callbacks never overlap
            except Exception as exc:
                self.fatal = exc

    def result(self) -> SendReport:
        """The report; or the exception that ended the run, carrying it."""
        report = self.report
        if self.fatal is not None:
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
