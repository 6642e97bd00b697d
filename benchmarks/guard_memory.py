"""Memory the guard's `MemoryStore` holds per phone number, measured with tracemalloc.

``python -m benchmarks.guard_memory`` (``--numbers N``, default 20,000) sends
one code to each of N numbers through a `VerificationGuard` over `FakeTextFlow`
on a fake clock, with every rule that keeps state per number on (the growing
cooldown, the daily cap per number, the per-caller cap, the code's record) and
the group rules off, so every send passes and stores what it can (the worst
case: refused sends store nothing per number). Then one wrong check per
number (the attempts count). It prints the store's traced size per number
after each step, and after the longest window (a day) has passed.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from decimal import Decimal
from typing import Optional

from textflow.guard import GuardPolicy, MemoryStore, Velocity, VerificationGuard
from textflow.testing import FakeTextFlow

START = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _store_size(store: MemoryStore) -> int:
    """Bytes traced in the store's dict (its keys, values and the dict itself)."""
    gc.collect()
    snapshot = tracemalloc.take_snapshot()
    return sum(
        stat.size
        for stat in snapshot.filter_traces(
            [tracemalloc.Filter(True, "*textflow/guard/*")]
        ).statistics("filename")
    )


def measure(numbers: int) -> dict[str, float]:
    """Bytes per number held by the store after sends, after checks, a day later."""
    clock = Clock()
    fake = FakeTextFlow(credits=Decimal("1e12"), clock=clock)
    store = MemoryStore()
    policy = GuardPolicy(
        velocity=Velocity(prefix_per_hour=None, prefix_per_day=None),
        prefix_conversion=None,
        country_conversion=None,
        codes_per_caller_per_hour=None,
        checks_per_caller_per_hour=None,
    )
    with fake.client() as client:
        guard = VerificationGuard(client, store=store, policy=policy, clock=clock)
        phones = [f"+1212{n:07d}" for n in range(numbers)]
        tracemalloc.start()
        base = _store_size(store)
        for phone in phones:
            guard.send_code(phone, service_name="Acme", client_key=phone[-6:])
            clock.now += 0.01
        after_send = _store_size(store)
        for phone in phones:
            guard.check_code(phone, "000000" if fake.last_code(phone) != "000000" else "111111")
            clock.now += 0.01
        after_check = _store_size(store)
        clock.now += 86_400 + 1
        for n in range(1024):  # decisions enough to run one sweep
            guard.send_code(f"+1646{n:07d}", service_name="Acme")
        after_day = _store_size(store) - 0
        tracemalloc.stop()
    return {
        "keys": float(len(store._state)),
        "after_send": (after_send - base) / numbers,
        "after_check": (after_check - base) / numbers,
        "a_day_later_total_kb": (after_day - base) / 1024,
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=20_000)
    args = parser.parse_args(argv)
    figures = measure(args.numbers)
    print(f"numbers: {args.numbers:,}")
    print(f"bytes per number after one code:            {figures['after_send']:,.0f}")
    print(f"bytes per number after one code and a check: {figures['after_check']:,.0f}")
    print(
        f"a day later, after a sweep: {figures['a_day_later_total_kb']:,.0f} KB in all "
        f"({figures['keys']:,.0f} keys: the 1,024 new numbers' only)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
