"""Hostile pass on the async deadline timer per event loop (issue 20).

A call whose deadline has already passed as its scope starts is cut at once and
schedules nothing; when it is the first timed call of its loop, no timer exists yet,
and its end must still be the SDK's timeout error, not the timer's bookkeeping
failing (a ``LookupError`` from the loop's run variable).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Callable

import anyio
import httpx
import pytest

import textflow
from textflow._http.transport import AsyncTextFlowTransport

from tests.core.core_support import KEY, ok_sms
from tests.core.hostile_support import Answer, RawServer, json_answer

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


def holds_the_connection(conn: socket.socket, number: int, body: bytes) -> bool:
    """Answers the first request only as the test ends: it holds the one connection."""
    if number == 1:
        conn.recv(1)  # until the server shuts the connection down at the test's end
        return False
    conn.sendall(json_answer(ok_sms()))
    return True


def test_a_send_queued_at_the_gate_is_cut_under_plain_asyncio_run(
    hostile: Callable[[Answer], RawServer],
) -> None:
    """A send waiting at a full gate under a call deadline starts no pool timer of its own:
    the loop's timer is all that ends it (here, with no anyio runner around it)."""
    server = hostile(holds_the_connection)

    class OneConnection(textflow.AsyncTextFlowClient):
        @staticmethod
        def _new_transport() -> httpx.AsyncBaseTransport:
            return AsyncTextFlowTransport(httpx.Limits(max_connections=1))

    async def queued_behind_a_slow_call() -> textflow.APITimeoutError:
        async with OneConnection(KEY, base_url=server.base_url, max_retries=0) as one:
            holder = asyncio.ensure_future(
                one.with_options(timeout=None).send_sms("+11234567890", "holds")
            )
            while not server.requests:
                await asyncio.sleep(0.005)
            try:
                with pytest.raises(textflow.APITimeoutError) as cut:
                    await asyncio.wait_for(
                        one.with_options(timeout=0.3).send_sms("+11234567890", "queued"), GUARD
                    )
            finally:
                holder.cancel()
                await asyncio.gather(holder, return_exceptions=True)
            return cut.value

    assert asyncio.run(queued_behind_a_slow_call()).may_have_been_sent is False
    assert len(server.requests) == 1  # the queued send never went out
