"""What a store checks and writes, and how each kind of state moves: pure functions.

A decision is a list of checks, each on one store key holding a small JSON
value (lists and numbers, never a number or a code): the store loads the keys,
asks `evaluate` which checks are full, and, when none is (or in monitor mode,
always), saves what `commit` returns, in one atomic step. The memory and SQLite
stores run these functions; the Redis store runs the same rules as one Lua
script (``_redis_script.py``); a test holds the three to the same answers.

Every value is bounded: a count keeps at most ``limit`` times, a conversion
24 buckets, a backoff two numbers, a spend one entry per code in its window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

#: A key's stored value and when it may be forgotten (seconds since the epoch).
Stored = tuple[Any, float]

CONVERSION_BUCKETS = 24


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` events under ``key`` in any ``window`` seconds.

    One of the checks a store's ``decide`` receives. Importable from
    ``textflow.guard`` for compatibility, but deprecated there: the store
    protocol has more kinds of check, kept private (see docs/guard.md,
    "Writing a store"); the public name goes in the next major version.
    """

    key: str
    limit: int
    window: float


@dataclass(frozen=True)
class Backoff:
    """A cooldown that grows: ``base`` s after the first code, times ``factor`` after each
    next one, at most ``cap`` s; forgotten ``window`` s after the last code."""

    key: str
    base: float
    factor: float
    cap: float
    window: float


@dataclass(frozen=True)
class Spend:
    """At most ``cap`` (in micro-units) spent under ``key`` in any ``window`` s; this
    event reserves ``amount`` under ``member`` (settled later with the real price)."""

    key: str
    cap: int
    window: float
    amount: int
    member: str


@dataclass(frozen=True)
class Conversion:
    """Codes sent and verified under ``key`` over ``window`` s: with ``min_sends`` or
    more and verified/sent under ``min_ratio``, new codes are suspended ``period`` s."""

    key: str
    min_sends: int
    min_ratio: float
    window: float
    period: float


Check = Union[Limit, Backoff, Spend, Conversion]


@dataclass(frozen=True)
class Put:
    """Store ``value`` (a dict of str) under ``key`` for ``ttl`` s (a code's record)."""

    key: str
    value: Mapping[str, str]
    ttl: float


@dataclass(frozen=True)
class Delete:
    """Forget ``key``."""

    key: str


@dataclass(frozen=True)
class Settle:
    """Replace the amount reserved under ``member`` of a `Spend` key by ``amount``."""

    key: str
    member: str
    amount: int


@dataclass(frozen=True)
class Verified:
    """Count one verified code under a `Conversion` key (``window`` as its check's)."""

    key: str
    window: float


@dataclass(frozen=True)
class Lift:
    """End a `Conversion` key's suspension now (its counts start over)."""

    key: str


Write = Union[Put, Delete, Settle, Verified, Lift]


def denial(now: float, check: Check, value: Any) -> Optional[float]:
    """Seconds until ``check`` has room, given its key's stored ``value``; None if it has."""
    if isinstance(check, Limit):
        times = sorted(t for t in (value or []) if t > now - check.window)  # a clock may step back
        if len(times) < check.limit:
            return None
        return float(times[len(times) - check.limit] + check.window - now)
    if isinstance(check, Backoff):
        if not value:
            return None
        count, last = value
        wait = min(check.base * check.factor ** (count - 1), check.cap)
        return last + wait - now if last + wait > now else None
    if isinstance(check, Spend):
        entries = [e for e in (value or []) if e[0] > now - check.window]
        spent = sum(e[1] for e in entries)
        if spent + check.amount <= check.cap:
            return None
        for at, amount, _ in sorted(entries, key=lambda e: e[0]):
            spent -= amount
            if spent + check.amount <= check.cap:
                return float(at + check.window - now)
        return check.window  # this one code costs more than the cap
    state = value or {}
    until = state.get("u", 0)
    if until > now:
        return float(until - now)
    sends, verified = _conversion_counts(now, check.window, state.get("b", []))
    if sends >= check.min_sends and verified < check.min_ratio * sends:
        return check.period
    return None


def _conversion_counts(now: float, window: float, buckets: Sequence[Any]) -> tuple[int, int]:
    live = [b for b in buckets if b[0] > now - window]
    return sum(b[1] for b in live), sum(b[2] for b in live)


def _bucket(now: float, window: float) -> float:
    size = window / CONVERSION_BUCKETS
    return math.floor(now / size) * size


def _add_to_bucket(now: float, window: float, buckets: Any, sends: int, verified: int) -> Any:
    start = _bucket(now, window)
    # a bucket is live while its start is inside the window: keep the last 24 + this one
    kept = [b for b in (buckets or []) if b[0] > now - window - window / CONVERSION_BUCKETS]
    if kept and kept[-1][0] == start:
        kept[-1] = [start, kept[-1][1] + sends, kept[-1][2] + verified]
    else:
        kept.append([start, sends, verified])
    return kept


def commit(now: float, check: Check, value: Any, denied: bool) -> Stored:
    """The key's new value and expiry once this event is counted.

    ``denied`` is true in monitor mode when a check would have refused: a
    conversion check then starts its suspension (what enforcing would do).
    """
    if isinstance(check, Limit):
        times = sorted([*(t for t in (value or []) if t > now - check.window), now])
        return times[-check.limit :], max(now, times[-1]) + check.window
    if isinstance(check, Backoff):
        count = value[0] if value else 0
        return [count + 1, now], now + check.window
    if isinstance(check, Spend):
        entries = [e for e in (value or []) if e[0] > now - check.window]
        entries.append([now, check.amount, check.member])
        return entries, now + check.window
    state = dict(value or {})
    if state.get("u", 0) <= now and denied:
        state["u"] = now + check.period
        state["b"] = _add_to_bucket(now, check.window, state.get("b"), 0, 0)
    elif state.get("u", 0) <= now:
        state["b"] = _add_to_bucket(now, check.window, state.get("b"), 1, 0)
    return state, max(now + check.window, state.get("u", 0))


def suspends(now: float, check: Check, value: Any) -> bool:
    """Whether refusing ``check`` starts a suspension (a conversion not yet suspended)."""
    return isinstance(check, Conversion) and (value or {}).get("u", 0) <= now


def refused_commit(now: float, check: Check, value: Any) -> Optional[Stored]:
    """What an enforced refusal still writes: a conversion check starts its suspension."""
    if not suspends(now, check, value):
        return None
    assert isinstance(check, Conversion)
    state = dict(value or {})
    state["u"] = now + check.period
    return state, max(now + check.window, state["u"])


def write(now: float, op: Write, value: Any, expires: float) -> Optional[Stored]:
    """The key's value after ``op`` (None: forget the key)."""
    if isinstance(op, Put):
        return dict(op.value), now + op.ttl
    if isinstance(op, Delete):
        return None
    if isinstance(op, Settle):
        if not value:
            return None
        # a code that cost nothing (a free or test number) leaves no entry to carry for a day
        entries = [
            [e[0], op.amount if e[2] == op.member else e[1], e[2]]
            for e in value
            if e[2] != op.member or op.amount != 0
        ]
        return entries, expires
    if isinstance(op, Verified):
        state = dict(value or {})
        state["b"] = _add_to_bucket(now, op.window, state.get("b"), 0, 1)
        return state, max(expires, now + op.window)
    if not value:
        return None
    return {"b": [], "u": 0}, expires


def decide_in_python(
    now: float, checks: Sequence[Check], states: Mapping[str, Any], always: bool
) -> tuple[list[tuple[int, float]], dict[str, Stored]]:
    """For the Python stores: the denials (index, retry_after) and the keys to save."""
    denials = []
    for index, check in enumerate(checks):
        wait = denial(now, check, states.get(check.key))
        if wait is not None:
            denials.append((index, wait))
    denied = {index for index, _ in denials}
    saves: dict[str, Stored] = {}
    if not denials or always:
        for index, check in enumerate(checks):
            saves[check.key] = commit(now, check, states.get(check.key), index in denied)
    else:
        for index in denied:
            check = checks[index]
            started = refused_commit(now, check, states.get(check.key))
            if started is not None:
                saves[check.key] = started
    return denials, saves
