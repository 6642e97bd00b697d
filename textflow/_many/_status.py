"""Where a campaign stands, from its journal: totals by status, the pace, the time left.

For a dashboard or ``textflow campaign status``: it reads the journal only
(``counts()`` and, where the journal has them, ``recorded_since()`` and ``now()``), so any
process can ask while the workers run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

#: The pace is the outcomes recorded in this many seconds before now.
PACE_WINDOW = 60.0


@dataclass(frozen=True)
class CampaignStatus:
    """A campaign's totals and pace.

    Attributes:
        counts: Recipients by journal status (``sent``, ``maybe_sent``, ``refused``,
            ``sending``).
        done: Recipients with an outcome (all but ``sending``).
        total: Recipients the campaign has, when given; else ``None``.
        per_second: Outcomes a second over the last minute, when the journal keeps times.
        eta_seconds: Seconds left at that pace, when ``total`` and a pace are known.

    Examples:
        >>> campaign_status(journal, total=10_000).done
        9998
    """

    counts: dict[str, int]
    done: int
    total: Optional[int]
    per_second: Optional[float]
    eta_seconds: Optional[float]

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return {
            "counts": dict(self.counts),
            "done": self.done,
            "total": self.total,
            "per_second": self.per_second,
            "eta_seconds": self.eta_seconds,
        }


def campaign_status(
    journal: Any, *, total: Optional[int] = None, clock: Optional[Callable[[], float]] = None
) -> CampaignStatus:
    """The totals and pace of the campaign in ``journal`` (a journal with ``counts()``).

    Args:
        journal: A `SQLiteJournal`, `RedisJournal`, `PostgresJournal`, or your own with
            ``counts()`` (and ``recorded_since(when)`` for the pace, ``now()`` for its clock).
        total: How many recipients the campaign has, for the time left.
        clock: Seconds since the epoch; by default the journal's own clock (its ``now()``:
            Redis's ``TIME``, the Postgres server's), the one its outcomes are stamped
            with, else this machine's. A dashboard whose clock is off by a minute would
            otherwise see no pace at all, or twice the real one.

    Examples:
        >>> status = campaign_status(journal, total=10_000)
        >>> status.counts
        {'sent': 9998, 'maybe_sent': 2}
    """
    counts = dict(journal.counts())
    done = sum(count for status, count in counts.items() if status != "sending")
    per_second: Optional[float] = None
    recorded_since = getattr(journal, "recorded_since", None)
    if recorded_since is not None:
        if clock is None:
            clock = getattr(journal, "now", None) or time.time
        per_second = recorded_since(clock() - PACE_WINDOW) / PACE_WINDOW
    eta: Optional[float] = None
    if total is not None and per_second:
        eta = max(0, total - done) / per_second
    return CampaignStatus(counts, done, total, per_second, eta)
