"""``send-many``'s cost estimate: segments x a per-segment price, against the balance.

The API does not publish prices, so the price of a segment comes from
``--price``, or else from this campaign's own history: each send's ``price``
(per message) divided by its segments, kept beside a local journal in
``JOURNAL.prices`` (one amount a line, the last ``KEPT`` read), and the median
of those. A journal given as a URL keeps no such file: ``--price`` then.
Amounts are ``Decimal`` throughout.
"""

from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Optional

from textflow._segments import segments

#: Earlier per-segment prices read for the median (the most recent ones).
KEPT = 1000


@dataclass(frozen=True)
class Estimate:
    """What a run would cost, and where the per-segment price came from."""

    segments: int
    price: Optional[Decimal]  # per segment; None when unknown
    source: str  # "--price", "the median of N earlier sends in this journal", "unknown"

    @property
    def cost(self) -> Optional[Decimal]:
        return None if self.price is None else self.price * self.segments


def price_file(journal: Optional[str]) -> Optional[Path]:
    """Where a local journal's per-segment prices are kept; None for no journal or a URL."""
    if journal is None or "://" in journal:
        return None
    return Path(f"{journal}.prices")


def estimate(total_segments: int, price: Optional[Decimal], journal: Optional[str]) -> Estimate:
    """The estimate for ``total_segments``: ``--price``, else this journal's median."""
    if price is not None:
        return Estimate(total_segments, price, "--price")
    earlier = _read(price_file(journal))
    if not earlier:
        return Estimate(total_segments, None, "unknown")
    median = Decimal(statistics.median(earlier))
    sends = f"{len(earlier)} earlier send{'' if len(earlier) == 1 else 's'}"
    return Estimate(total_segments, median, f"the median of {sends} in this journal")


def describe(found: Estimate, balance: Optional[Decimal]) -> list[str]:
    """The lines that show the estimate (and the balance, when known)."""
    if found.price is None or found.cost is None:
        return [
            f"Cost: {found.segments} segments; the price of a segment is unknown "
            "(give --price to see an estimate)."
        ]
    line = (
        f"Cost estimate: {found.segments} segments x {_amount(found.price)} "
        f"(per segment, from {found.source}) = {_amount(found.cost)} credits"
    )
    if balance is None:
        return [line + "."]
    lines = [line + f"; balance {_amount(balance)}."]
    if found.cost > balance:
        affordable = int(balance / found.price) if found.price > 0 else found.segments
        lines.append(
            f"Warning: the balance pays for about {affordable} of {found.segments} segments; "
            "the run stops when credits run out, and a rerun after a top-up resumes it."
        )
    return lines


def _amount(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _read(path: Optional[Path]) -> list[Decimal]:
    if path is None:
        return []
    try:
        lines = path.read_text(encoding="ascii").splitlines()[-KEPT:]
    except (OSError, UnicodeDecodeError):
        return []
    prices = []
    for line in lines:
        try:
            value = Decimal(line.strip())
        except InvalidOperation:
            continue  # a line cut by a crash mid-write
        if value.is_finite() and value >= 0:
            prices.append(value)
    return prices


class PriceLog:
    """Appends each send's per-segment price beside a local journal; thread-safe.

    Args:
        journal: The journal (a path or a URL); a URL or None keeps nothing.
    """

    def __init__(self, journal: Optional[str]) -> None:
        self.path = price_file(journal)
        self._lock = threading.Lock()

    def record(self, text: Optional[str], result: Any) -> None:
        """Note the per-segment price of one send (``result.data.price`` / segments)."""
        if self.path is None or text is None:
            return
        data = getattr(result, "data", None)
        price = getattr(data, "price", None)
        parts = segments(text).segments
        if price is None or isinstance(price, bool) or parts < 1:
            return
        try:
            per_segment = Decimal(str(price)) / parts
        except InvalidOperation:
            return
        if not per_segment.is_finite() or per_segment < 0:
            return
        with self._lock:
            try:
                with self.path.open("a", encoding="ascii") as handle:
                    handle.write(f"{per_segment}\n")
            except OSError:
                self.path = None  # an estimate helper: never a reason to fail a send
