"""The async client's one timer per event loop still cuts every call at its own deadline.

A call's deadline is later than the timer's when the call starts after another one
(same timeout), so it schedules nothing: when the timer fires for a call that has
already ended, it must set itself again for the calls still running
(``textflow._http.timers``). A call with a shorter timeout than the one the timer
is set for must move it earlier. The wait here is an async hook that never returns:
no read or connect timeout of the transport can cut it, only the call's deadline.
"""

from __future__ import annotations

import json
import time

import anyio
import httpx
import pytest

import textflow

from tests.core.core_support import KEY

GUARD = 20.0  # seconds before a call that is never cut fails the test instead of hanging


def _answer(request: httpx.Request) -> httpx.Response:
    sent = json.loads(request.content)
    return httpx.Response(
        200, json={"ok": True, "valid": False, "status": 400, "message": "no", **sent}
    )


class Hook:
    """Waits for ever on every call after the first."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, event: textflow.RequestEvent) -> None:
        self.calls += 1
        if self.calls > 1:
            await anyio.sleep_forever()


@pytest.mark.anyio
async def test_a_call_after_one_that_ended_is_still_cut_at_its_deadline() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_answer)) as http:
        client = textflow.AsyncTextFlowClient(
            KEY, http_client=http, max_retries=0, timeout=0.3, on_request=Hook()
        )
        with anyio.fail_after(GUARD):
            assert (await client.verify_code("+11234567890", "1")).valid is False
            await anyio.sleep(0.1)  # the next deadline is well after the timer's
            with pytest.raises(textflow.APITimeoutError):
                await client.verify_code("+11234567890", "1")


@pytest.mark.anyio
async def test_a_shorter_timeout_moves_the_timer_earlier() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_answer)) as http:
        client = textflow.AsyncTextFlowClient(
            KEY, http_client=http, max_retries=0, timeout=GUARD * 10, on_request=Hook()
        )
        with anyio.fail_after(GUARD):
            await client.verify_code("+11234567890", "1")  # sets the timer far ahead
            started = time.monotonic()
            with pytest.raises(textflow.APITimeoutError):
                await client.with_options(timeout=0.3).verify_code("+11234567890", "1")
        assert time.monotonic() - started >= 0.3  # a lower bound only: cut at, not before
