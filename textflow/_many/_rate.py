"""The client-side rate limit of ``send_many``, as pure arithmetic.

The promise is about what the API *receives*: no window ``[t, t + window)``
at the receiver holds more than ``count`` sends, however long each send spends
on the way. Booking starts alone cannot promise that: if send k is slowed
down more than send k + count, both land in one window. So a send holds a
*permit* from its start until its answer (or failure) comes back, and:

    the permit of a send is granted only at a moment g when, of all the
    permits granted before it, at most ``count - 1`` are still held or were
    given back less than ``window`` before g.

Why it holds at the receiver: take ``count + 1`` sends and the last of them to
be granted, at g. One of the others was given back (at its finish f) no later
than ``g - window``; it arrived no later than f, and the last one arrived no
earlier than g. So they are at least ``window`` apart: no window holds all
``count + 1``. (A send that timed out may still arrive after its finish; see
the docs: each such send can add one to a window.)

Starts are also at least ``window / rate`` apart, so no burst follows a pause,
and a fraction like 2.5/s allows 2 sends in a window. The price of the promise
is one latency per window: at most ``count`` sends per ``window + latency``.
`Pacer` keeps several limits at once (per second and per minute).

`textflow._many._shared_rate` is the same rule, in one Redis script, for many
workers on Redis's clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

WINDOW = 1.0


def check_rate(value: object, name: str) -> float:
    """A rate > 0, or the TypeError/ValueError that names the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}.")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a number > 0, not {value!r}.")
    return float(value)


def permits(rate: float) -> int:
    """Sends allowed in one window at ``rate`` per window (2.5 -> 2; under 1 -> 1)."""
    return max(1, math.floor(rate))


@dataclass(frozen=True)
class Turn:
    """The limiter's answer: a permit to send at ``start``, or (``permit`` None) none yet:
    ask again at ``start`` (others' sends hold every permit)."""

    permit: Optional[int]
    start: float


class RateLimiter:
    """At most ``permits(rate)`` sends at the receiver in any ``window``, evenly spaced."""

    def __init__(
        self, per_window: float, *, window: float = WINDOW, name: str = "max_per_second"
    ) -> None:
        rate = check_rate(per_window, name)
        self.window = window
        self.count = permits(rate)
        self._interval = window / rate
        self._next = -math.inf
        # when the permits given back stop counting (finish + window), in finish order:
        # finishes come in clock order, so this stays sorted
        self._released: deque[float] = deque()

    def earliest(self, now: float, held: int) -> Optional[float]:
        """When the next send could start with ``held`` permits out; None if not before one
        of them comes back."""
        if held >= self.count:
            return None
        released = self._released
        while released and released[0] <= now:
            released.popleft()
        start = max(now, self._next)
        need = self.count - held  # at most need - 1 of the given-back ones may still count
        if len(released) >= need:
            start = max(start, released[-need])
        return start

    def book(self, start: float) -> None:
        self._next = start + self._interval

    def give_back(self, now: float) -> None:
        """A send holding a permit finished (answered or failed) at ``now``."""
        self._released.append(now + self.window)


class Pacer:
    """Several `RateLimiter` at once: a permit is granted when all of them allow it."""

    def __init__(self, limiters: Sequence[RateLimiter]) -> None:
        self._limiters = list(limiters)
        self._held: set[int] = set()
        self._issued = 0

    def take(self, now: float) -> Turn:
        """A permit and when its send may start (``now`` or later), or when to ask again."""
        start = now
        for limiter in self._limiters:
            earliest = limiter.earliest(now, len(self._held))
            if earliest is None:
                # its release is at least a window away: asking again then loses nothing
                return Turn(None, now + limiter.window)
            start = max(start, earliest)
        for limiter in self._limiters:
            limiter.book(start)
        self._issued += 1
        self._held.add(self._issued)
        return Turn(self._issued, start)

    def give_back(self, permit: int, now: float) -> None:
        """The send of ``permit`` finished (or never started) at ``now``."""
        if permit in self._held:
            self._held.discard(permit)
            for limiter in self._limiters:
                limiter.give_back(now)
