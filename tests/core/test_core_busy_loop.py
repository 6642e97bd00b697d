"""Sends in a loop that never yields to anything else keep no memory per send.

Over ``httpx.MockTransport`` a send never waits, so the event loop never turns
between sends: whatever a call leaves for the loop to clean up when it next turns
(a cancelled timer in its heap, ~200 bytes) piles up for as long as the loop runs.
"""

from __future__ import annotations

import gc
import json
import tracemalloc

import anyio
import httpx
import pytest

import textflow

from tests.core.core_support import KEY, ok_sms

WARM_UP = 300
SENDS = 2000
LIMIT = 32 * 1024  # bytes the sends may leave traced (a timer per send was ~400 KiB)


def _answer(request: httpx.Request) -> httpx.Response:
    sent = json.loads(request.content)
    body = ok_sms(to=sent["phone_number"])
    body["data"]["content"] = sent["text"]
    return httpx.Response(200, json=body)


def _grown(before: int) -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0] - before


async def _async_sends() -> int:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_answer)) as http:
        client = textflow.AsyncTextFlowClient(KEY, http_client=http)
        for _ in range(WARM_UP):
            await client.send_sms("+11234567890", "busy loop")
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(SENDS):
                await client.send_sms("+11234567890", "busy loop")
            return _grown(before)
        finally:
            tracemalloc.stop()


# A run of its own, not the anyio plugin's: under the plugin's trio runner the growth
# did not show (its loop turns between sends), and a trio run that never turns did.
@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_async_sends_that_never_yield_keep_nothing(library: str) -> None:
    grown = anyio.run(_async_sends, backend=library)
    assert grown < LIMIT, f"{grown} bytes kept by {SENDS} sends"


def test_sync_sends_keep_nothing() -> None:
    with httpx.Client(transport=httpx.MockTransport(_answer)) as http:
        client = textflow.TextFlowClient(KEY, http_client=http)
        for _ in range(WARM_UP):
            client.send_sms("+11234567890", "busy loop")
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(SENDS):
                client.send_sms("+11234567890", "busy loop")
            grown = _grown(before)
        finally:
            tracemalloc.stop()
    assert grown < LIMIT, f"{grown} bytes kept by {SENDS} sends"
