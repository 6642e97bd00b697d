"""Memory stays flat without options on a shared journal too (issue 22, point 6): a
generator of 10,000 recipients through a Redis journal takes no more memory than one of
1,000, on both drivers. Per-recipient outcomes live in the journal; the worker keeps
totals and its open claims only.
"""

from __future__ import annotations

import tracemalloc
from typing import Any, Callable

import anyio
import pytest

import textflow
from textflow._many import _async, _sync
from textflow.testing import FakeTextFlow

from tests.many.stores_support import RedisServer, campaign

#: Keeping each outcome takes ~2 KB a recipient: 9,000 more would be ~20 MB. The peak
#: of one run wanders by a few hundred KB whatever its length (garbage awaiting the
#: collector, the client's buffers): 300 KB for 1,000 and 580 KB for 10,000 here, then
#: 250 KB for 20,000.
SLACK = 1024 * 1024


class Instant:
    """A client answering every send at once, without the fake's own record of it."""

    def __init__(self, result: textflow.SendMessageResult) -> None:
        self.result = result

    def send_sms(self, phone_number: str, text: str) -> textflow.SendMessageResult:
        return self.result


class AsyncInstant(Instant):
    async def send_sms(  # type: ignore[override]
        self, phone_number: str, text: str
    ) -> textflow.SendMessageResult:
        return self.result


def _peak(run: Callable[[], textflow.SendReport], count: int) -> int:
    tracemalloc.start()
    try:
        report = run()
        used = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.sent == count
    assert report.outcomes == []  # totals only, without asking
    return used


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_ten_thousand_recipients_on_a_redis_journal_in_flat_memory(
    journal_redis: RedisServer, driver: str
) -> None:
    with FakeTextFlow().client() as client:
        result = client.send_sms("+12025550001", "Hi")

    def run(count: int) -> Callable[[], textflow.SendReport]:
        recipients = (f"+1202{index:07d}" for index in range(count))
        url = f"{journal_redis.url}?campaign={campaign()}"
        if driver == "sync":
            return lambda: _sync.send_many(Instant(result), recipients, "Hi", journal=url)  # type: ignore[arg-type]

        async def main() -> Any:
            return await _async.send_many(AsyncInstant(result), recipients, "Hi", journal=url)  # type: ignore[arg-type]

        return lambda: anyio.run(main)

    run(10)()  # first use: imports, scripts loaded into Redis, the client's pool
    small, large = _peak(run(1_000), 1_000), _peak(run(10_000), 10_000)
    assert large < small + SLACK, (small, large)
