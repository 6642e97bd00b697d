"""The client-side rate limit of ``send_many``: a token bucket, as pure arithmetic.

``reserve(now)`` says when the next send may start and books that moment. The
bucket holds one token and refills at ``per_second``: starts are at least
``1 / per_second`` apart, so no burst follows a pause. The last ``per_second``
starts are also remembered, so that whatever rounding does to the spacing, no
one-second window ``[t, t + 1)`` ever holds more than ``per_second`` starts.
"""

from __future__ import annotations

import math
from collections import deque

WINDOW = 1.0


class RateLimiter:
    """At most ``per_second`` starts in any one-second window, evenly spaced."""

    def __init__(self, per_second: float) -> None:
        if isinstance(per_second, bool) or not isinstance(per_second, (int, float)):
            raise TypeError(f"max_per_second must be a number, not {type(per_second).__name__}.")
        if not (per_second > 0 and math.isfinite(per_second)):
            raise ValueError(f"max_per_second must be a number > 0, not {per_second!r}.")
        self._interval = WINDOW / per_second
        self._next = -math.inf
        # a fraction like 2.5/s allows 2 starts in a window; less than 1/s allows 1
        self._recent: deque[float] = deque(maxlen=max(1, math.floor(per_second)))

    def reserve(self, now: float) -> float:
        """Book the next start; returns when it is (``now`` or later)."""
        start = max(now, self._next)
        if len(self._recent) == self._recent.maxlen:
            start = max(start, self._recent[0] + WINDOW)
        self._recent.append(start)
        self._next = start + self._interval
        return start
