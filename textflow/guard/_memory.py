"""``MemoryStore``: state in this process's memory (the default; one process)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Optional

from textflow.guard import _checks
from textflow.guard._checks import Check, Stored, Write
from textflow.guard._store import Denial, Verdict

_SWEEP_EVERY = 1024  # decisions between sweeps of keys no rule needs any more


class MemoryStore:
    """State in a dict in this process: right for one process, lost on restart.

    Safe across threads and event loops (one lock; each call takes microseconds,
    so `AsyncVerificationGuard` calls it without a worker thread). Several
    processes or machines need `SQLiteStore` or `RedisStore`.

    Bounded: each key holds a small value (at most ``limit`` times for a count,
    two numbers for the growing cooldown, 25 buckets for a conversion rate) and
    is dropped once no window needs it. A number that asked for one code costs
    about 1.3 KB until its longest window (a day) passes; see docs/guard.md.

    Examples:
        >>> guard = VerificationGuard(client, store=MemoryStore())
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, Stored] = {}
        self._calls = 0

    def __repr__(self) -> str:
        return f"MemoryStore(keys={len(self._state)})"

    def _get(self, now: float, key: str) -> Any:
        stored = self._state.get(key)
        if stored is None or stored[1] <= now:
            return None
        return stored[0]

    def decide(
        self,
        now: float,
        checks: Sequence[Check],
        *,
        always: bool = False,
        read: Optional[str] = None,
    ) -> Verdict:
        """Check every rule; count the event if all have room (or ``always``)."""
        with self._lock:
            self._calls += 1
            if self._calls % _SWEEP_EVERY == 0:
                self._sweep(now)
            states = {check.key: self._get(now, check.key) for check in checks}
            denials, saves = _checks.decide_in_python(now, checks, states, always)
            self._state.update(saves)
            record = self._get(now, read) if read is not None else None
            return Verdict([Denial(i, w) for i, w in denials], record)

    def write(self, now: float, writes: Sequence[Write]) -> None:
        """Apply ``writes`` atomically."""
        with self._lock:
            for op in writes:
                stored = self._state.get(op.key)
                value, expires = stored if stored and stored[1] > now else (None, now)
                result = _checks.write(now, op, value, expires)
                if result is None:
                    self._state.pop(op.key, None)
                else:
                    self._state[op.key] = result

    def _sweep(self, now: float) -> None:
        stale = [key for key, (_, expires) in self._state.items() if expires <= now]
        for key in stale:
            del self._state[key]
