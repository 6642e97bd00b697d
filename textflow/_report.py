"""What happened to each recipient of ``send_many``, and to the run: plain data.

No I/O and no imports of the SDK at run time: `textflow.errors` carries a
`SendReport` in `SendManyStopped` and `SendManyInterrupted`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from textflow.models import SendMessageOk

SENT = "sent"
REFUSED = "refused"
MAYBE_SENT = "maybe_sent"
SKIPPED = "skipped"
STATUSES = (SENT, REFUSED, MAYBE_SENT, SKIPPED)


@dataclass(frozen=True)
class Outcome:
    """What happened to one recipient.

    Attributes:
        index: The recipient's position in the input, from 0.
        phone_number: The number (normalised when it was valid, else as given).
        status: ``"sent"``, ``"refused"`` (not sent: see ``error``),
            ``"maybe_sent"`` (no clear answer: check before sending again) or
            ``"skipped"`` (the journal says it was already sent or may have been).
        text: The text sent or meant, ``None`` when it could not be made.
        result: The API's answer, for ``"sent"``.
        error: Why, for ``"refused"`` and ``"maybe_sent"``.
        previous: For ``"skipped"``, what the journal had: ``"sent"``,
            ``"maybe_sent"`` (check these by hand) or ``"sending"`` (the same
            number and text earlier in this run).

    Examples:
        >>> report = client.send_many(["+11234567890"], text="Hi")
        >>> report.outcomes[0].status
        'sent'
    """

    index: int
    phone_number: str
    status: str
    text: Optional[str] = None
    result: Optional[SendMessageOk] = None
    error: Optional[BaseException] = None
    previous: Optional[str] = None


@dataclass(frozen=True)
class Progress:
    """Counts so far, given to ``on_progress`` after each recipient.

    Attributes:
        done: Recipients finished (any status).
        sent: Sent.
        refused: Refused (not sent).
        maybe_sent: Without a clear answer.
        skipped: Skipped by the journal.
        remaining: Recipients left, when the input has a length; else ``None``.
        elapsed: Seconds since the run started.
        outcome: The recipient just finished.

    Examples:
        >>> def show(progress):
        ...     print(f"{progress.done} done, {progress.sent} sent")
        >>> report = client.send_many(["+11234567890"], text="Hi", on_progress=show)
        1 done, 1 sent
    """

    done: int
    sent: int
    refused: int
    maybe_sent: int
    skipped: int
    remaining: Optional[int]
    elapsed: float
    outcome: Outcome


@dataclass
class SendReport:
    """The end of a ``send_many`` run: one outcome per recipient, and totals.

    Attributes:
        outcomes: One per recipient finished, in the order they finished (empty
            with ``keep_outcomes=False``; the totals are kept all the same).
        sent: Recipients sent.
        refused: Recipients refused (not sent).
        maybe_sent: Recipients without a clear answer.
        skipped: Recipients the journal already had as sent or maybe sent.
        stopped_by: The error that stopped the run early, or ``None``.

    Examples:
        >>> report = client.send_many(["+11234567890", "+15555550100"], text="Hi")
        >>> report.sent, report.refused, report.total
        (1, 1, 2)
    """

    outcomes: list[Outcome] = field(default_factory=list)
    sent: int = 0
    refused: int = 0
    maybe_sent: int = 0
    skipped: int = 0
    stopped_by: Optional[BaseException] = None

    @property
    def total(self) -> int:
        """Recipients finished, whatever their status."""
        return self.sent + self.refused + self.maybe_sent + self.skipped

    def with_status(self, status: str) -> list[Outcome]:
        """The outcomes with this status, e.g. ``report.with_status("maybe_sent")``.

        Examples:
            >>> [o.phone_number for o in report.with_status("refused")]
            ['+15555550100']
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}.")
        return [outcome for outcome in self.outcomes if outcome.status == status]

    def __repr__(self) -> str:
        return (
            f"SendReport(sent={self.sent}, refused={self.refused}, "
            f"maybe_sent={self.maybe_sent}, skipped={self.skipped}, "
            f"stopped_by={type(self.stopped_by).__name__ if self.stopped_by else None})"
        )
