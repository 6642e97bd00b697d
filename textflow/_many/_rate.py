"""The client-side rate limit of ``send_many``: token buckets, as pure arithmetic.

``reserve(now)`` says when the next send may start and books that moment. A
bucket holds one token and refills at ``count / window``: starts are at least
``window / count`` apart, so no burst follows a pause. The last ``count``
starts are also remembered, so that whatever rounding does to the spacing, no
window ``[t, t + window)`` ever holds more than ``count`` starts. `Pacer`
keeps several at once (per second and per minute).

`textflow._many._shared_rate` is the same rule kept in Redis for many workers.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

WINDOW = 1.0


def check_rate(value: object, name: str) -> float:
    """A rate > 0, or the TypeError/ValueError that names the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}.")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a number > 0, not {value!r}.")
    return float(value)


class RateLimiter:
    """At most ``per_second`` starts in any ``window`` (default one second), evenly spaced."""

    def __init__(
        self, per_second: float, *, window: float = WINDOW, name: str = "max_per_second"
    ) -> None:
        rate = check_rate(per_second, name)
        self._window = window
        self._interval = window / rate
        self._next = -math.inf
        # a fraction like 2.5/s allows 2 starts in a window; less than 1/s allows 1
        self._recent: deque[float] = deque(maxlen=max(1, math.floor(rate)))

    def earliest(self, now: float) -> float:
        """When the next start could be, without booking it."""
        start = max(now, self._next)
        if len(self._recent) == self._recent.maxlen:
            start = max(start, self._recent[0] + self._window)
        return start

    def book(self, start: float) -> None:
        self._recent.append(start)
        self._next = start + self._interval

    def reserve(self, now: float) -> float:
        """Book the next start; returns when it is (``now`` or later)."""
        start = self.earliest(now)
        self.book(start)
        return start


class Pacer:
    """Several `RateLimiter` at once: a start is booked when all of them allow it."""

    def __init__(self, limiters: Sequence[RateLimiter]) -> None:
        self._limiters = list(limiters)

    def reserve(self, now: float) -> float:
        start = now
        while True:  # each bound only moves the start later: a few rounds at most
            later = max((limiter.earliest(start) for limiter in self._limiters), default=start)
            if later == start:
                break
            start = later
        for limiter in self._limiters:
            limiter.book(start)
        return start
