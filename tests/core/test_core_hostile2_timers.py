"""Hostile pass on the async deadline timer per event loop (issue 20).

A call whose deadline has already passed as its scope starts is cut at once and
schedules nothing; when it is the first timed call of its loop, no timer exists yet,
and its end must still be the SDK's timeout error, not the timer's bookkeeping
failing (a ``LookupError`` from the loop's run variable).
"""

from __future__ import annotations

import asyncio

import anyio
import pytest

import textflow

from tests.core.core_support import KEY

GUARD = 20.0  # seconds before a call that is never cut fails the test instead of hanging


def test_a_call_already_past_its_deadline_first_in_its_loop_is_a_timeout(
    anyio_backend: str,
) -> None:
    async def first_call_of_a_new_loop() -> textflow.APITimeoutError:
        # Nothing listens on port 9 of loopback: nothing is sent before the cut either way.
        async with textflow.AsyncTextFlowClient(
            KEY, base_url="http://127.0.0.1:9/api", max_retries=0, timeout=1e-9
        ) as client:
            with pytest.raises(textflow.APITimeoutError) as cut:
                await client.send_sms("+11234567890", "late before it starts")
            return cut.value

    error = anyio.run(first_call_of_a_new_loop, backend=anyio_backend)  # a fresh loop
    assert error.may_have_been_sent is False


class Stalls:
    """An async request hook that never returns: only the call's deadline can end the call
    (no read or connect timeout of the transport runs while it waits)."""

    async def __call__(self, event: textflow.RequestEvent) -> None:
        await anyio.sleep_forever()


def test_the_timer_cuts_a_call_under_plain_asyncio_run() -> None:
    """``asyncio.run`` sets up nothing of anyio's: the timer fires in a bare loop callback,
    with no task running (anyio's pytest runner hid that the callback failed there)."""

    async def stalled_call() -> None:
        async with textflow.AsyncTextFlowClient(
            KEY, base_url="http://127.0.0.1:9/api", max_retries=0, timeout=0.2, on_request=Stalls()
        ) as client:
            with pytest.raises(textflow.APITimeoutError):  # not asyncio's TimeoutError
                await asyncio.wait_for(client.send_sms("+11234567890", "stalls"), GUARD)

    asyncio.run(stalled_call())
