"""Counting is atomic: concurrent calls cannot slip past a limit together, on any store."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import anyio
import pytest

from textflow.guard import AsyncVerificationGuard, VerificationGuard, VerificationRefused

from tests.guard.guard_support import NUMBER, Guarded

pytestmark = pytest.mark.anyio


async def run_parallel(
    guarded: Guarded, calls: int, call: str, *args: Any, **kwargs: Any
) -> list[object]:
    """``guarded.guard.<call>(...)`` ``calls`` times at once: threads (sync) or tasks (async).

    Returns each outcome: the result, or the `VerificationRefused` raised.
    """
    outcomes: list[object] = []
    guard = guarded.guard
    if isinstance(guard, VerificationGuard):
        method = getattr(guard, call)

        def one() -> object:
            try:
                return method(*args, **kwargs)
            except VerificationRefused as exc:
                return exc

        with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
            futures = [pool.submit(one) for _ in range(calls)]
            return [future.result(timeout=120) for future in futures]
    assert isinstance(guard, AsyncVerificationGuard)
    limiter = anyio.Semaphore(64)  # a bounded number of Redis connections at once

    async def one_async() -> None:
        async with limiter:
            try:
                outcomes.append(await getattr(guard, call)(*args, **kwargs))
            except VerificationRefused as exc:
                outcomes.append(exc)

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tasks:
            for _ in range(calls):
                tasks.start_soon(one_async)
    return outcomes


async def test_a_hundred_concurrent_sends_send_one_sms(guarded: Guarded) -> None:
    outcomes = await run_parallel(guarded, 100, "send_code", NUMBER, service_name="Acme")
    refusals = [o for o in outcomes if isinstance(o, VerificationRefused)]
    assert len(outcomes) == 100
    assert len(refusals) == 99
    assert {r.reason for r in refusals} == {"cooldown"}
    assert guarded.codes_sent() == 1
    assert guarded.requests.counts["send-code"] == 1


async def test_a_thousand_parallel_guesses_never_reach_textflow(guarded: Guarded) -> None:
    """Five wrong guesses are answered locally (the hash does not match), the rest refused."""
    await guarded.send()
    right = guarded.code()
    wrong = "000000" if right != "000000" else "111111"
    outcomes = await run_parallel(guarded, 1000, "check_code", NUMBER, wrong)
    answered = [o for o in outcomes if not isinstance(o, VerificationRefused)]
    assert len(answered) == 5
    assert not any(getattr(o, "valid", True) for o in answered)
    assert guarded.requests.counts["verify-code"] == 0
    assert {o.reason for o in outcomes if isinstance(o, VerificationRefused)} == {"attempts"}
    assert guarded.fake.last_code(NUMBER) == right  # unguessed, and now burned
