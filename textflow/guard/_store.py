"""The store protocol: one atomic "check every rule, then count" call per decision.

``decide`` loads the keys of a decision's checks (see ``_checks.py``), finds the
checks that are full, and, if none is (or ``always``, in monitor mode), counts
the event under every key; all in one atomic step (a lock, a transaction, a
Lua script). It can also return the code record under ``read`` in the same
step. ``write`` applies what a call learnt afterwards (the code TextFlow sent,
its price, a verified code). Keys arrive already hashed (no phone number,
prefix or caller in them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional, Protocol

from textflow.guard._checks import Check, Limit, Write

__all__ = ["AsyncGuardStore", "Denial", "GuardStore", "Limit", "Verdict", "worst"]


@dataclass(frozen=True)
class Denial:
    """Why a decision refused: ``checks[index]`` is full for ``retry_after`` s.

    Part of a store's `Verdict`. Importable from ``textflow.guard`` for
    compatibility, but deprecated there (as `Limit`): the public name goes in
    the next major version.
    """

    index: int
    retry_after: float


@dataclass(frozen=True)
class Verdict:
    """A store's answer: every check that was full, and the record under ``read``."""

    denials: list[Denial] = field(default_factory=list)
    record: Optional[Mapping[str, str]] = None


class GuardStore(Protocol):
    """Where a `VerificationGuard` counts; every call is atomic across all its users."""

    def decide(
        self,
        now: float,
        checks: Sequence[Check],
        *,
        always: bool = False,
        read: Optional[str] = None,
    ) -> Verdict:
        """Check every rule; count the event if all have room (or ``always``)."""

    def write(self, now: float, writes: Sequence[Write]) -> None:
        """Apply ``writes`` atomically."""


class AsyncGuardStore(Protocol):
    """The same, for stores with an async client (`AsyncRedisStore`)."""

    async def decide(
        self,
        now: float,
        checks: Sequence[Check],
        *,
        always: bool = False,
        read: Optional[str] = None,
    ) -> Verdict:
        """As `GuardStore.decide`."""

    async def write(self, now: float, writes: Sequence[Write]) -> None:
        """As `GuardStore.write`."""


def worst(denials: Iterable[Denial]) -> Optional[Denial]:
    """The denial that lasts longest (the first of equals), or None."""
    result: Optional[Denial] = None
    for denial in denials:
        if result is None or denial.retry_after > result.retry_after:
            result = denial
    return result
