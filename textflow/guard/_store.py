"""The store protocol: one atomic "check every limit, then count once in each" call.

A limit is a sliding window: at most ``limit`` events under ``key`` in any
``window`` seconds. ``acquire`` either records one event under every key (all
limits had room) or records nothing and says which limit is full and for how
long. Keys arrive already hashed (no phone number or caller in them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Optional, Protocol


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` events under ``key`` in any ``window`` seconds."""

    key: str
    limit: int
    window: float


@dataclass(frozen=True)
class Denial:
    """Why ``acquire`` recorded nothing: ``limits[index]`` is full for ``retry_after`` s."""

    index: int
    retry_after: float


class GuardStore(Protocol):
    """Where a `VerificationGuard` counts; every call is atomic across all its users."""

    def acquire(self, now: float, limits: Sequence[Limit]) -> Optional[Denial]:
        """Record one event at ``now`` under every limit's key, or nothing if one is full."""

    def clear(self, keys: Sequence[str]) -> None:
        """Forget every event under ``keys``."""


class AsyncGuardStore(Protocol):
    """The same, for stores with an async client (`AsyncRedisStore`)."""

    async def acquire(self, now: float, limits: Sequence[Limit]) -> Optional[Denial]:
        """As `GuardStore.acquire`."""

    async def clear(self, keys: Sequence[str]) -> None:
        """As `GuardStore.clear`."""


def blocking_event(times: Sequence[float], limit: int) -> float:
    """Of a key's live events (oldest first, at least ``limit``), the one that must expire."""
    return times[len(times) - limit]


def worst(
    now: float, limits: Sequence[Limit], blocked: Iterable[tuple[int, float]]
) -> Optional[Denial]:
    """The denial that lasts longest, from ``(index, blocking event time)`` pairs; or None."""
    denial: Optional[Denial] = None
    for index, at in blocked:
        wait = at + limits[index].window - now
        if denial is None or wait > denial.retry_after:
            denial = Denial(index, wait)
    return denial
