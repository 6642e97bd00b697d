"""What the guard decided, as a typed value: for ``on_decision`` hooks and `stats()`.

A `Decision` never holds a phone number in full, a code or a caller: its
``key`` names the rule's group in redacted form (``"number:+1123*****90"``,
``"prefix:+4479460"``, ``"country:+44"``, ``"caller"``, ``"app"``).
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Literal, Optional

from textflow.errors import Reason

Operation = Literal["send_code", "check_code"]


@dataclass(frozen=True)
class Decision:
    """One decision of a guard.

    Attributes:
        operation: ``"send_code"`` or ``"check_code"``.
        allowed: Whether the call went on (to TextFlow, or to a local answer).
        reason: The rule that refused, or in monitor mode would have refused
            (``allowed`` is then True); None when every rule passed.
        retry_after: Seconds until that rule would let the call pass, if waiting helps.
        key: The rule's group, redacted: ``"number:+1123*****90"``,
            ``"prefix:+4479460"`` (the form `VerificationGuard.lift` takes),
            ``"country:+44"``, ``"caller"`` or ``"app"``.
        monitored: True when monitor mode let a refusal through.
        store_failed: True when the store failed and ``fail_open`` let the call through.

    Examples:
        >>> def on_decision(decision: Decision) -> None:
        ...     if decision.reason is not None:
        ...         print(decision.operation, decision.reason, decision.key)
    """

    operation: Operation
    allowed: bool
    reason: Optional[Reason] = None
    retry_after: Optional[float] = None
    key: Optional[str] = None
    monitored: bool = False
    store_failed: bool = False


class Stats:
    """Counts of decisions, by operation and outcome; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()

    def count(self, decision: Decision) -> None:
        if decision.store_failed:
            outcome = "store_failed"
        elif decision.reason is None:
            outcome = "allowed"
        elif decision.monitored:
            outcome = f"monitored.{decision.reason}"
        else:
            outcome = f"refused.{decision.reason}"
        with self._lock:
            self._counts[f"{decision.operation}.{outcome}"] += 1

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
