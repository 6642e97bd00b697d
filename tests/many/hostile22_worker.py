"""A worker process that stops itself (SIGSTOP) right after its first claim step, for
tests/many/test_hostile22_sigstop.py: ``python -m tests.many.hostile22_worker``.

Arguments: JOURNAL_URL BASE_URL COUNT KIND (sync or async). Sends "Hi" to the first
COUNT test numbers, one at a time, and prints the report's totals as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any

from textflow import AsyncTextFlowClient, TextFlowClient
from textflow._many._postgres_journal import PostgresJournal
from textflow._many._redis_journal import RedisJournal
from textflow.testing import DEFAULT_API_KEY

from tests.many.many_support import numbers


def _journal(url: str) -> Any:
    base: Any = RedisJournal if url.startswith("redis") else PostgresJournal

    class Stopping(base):  # type: ignore[misc]
        stopped = False

        def claim_many(self, claims: Any, *, resend_maybe_sent: bool) -> Any:
            kept = super().claim_many(claims, resend_maybe_sent=resend_maybe_sent)
            if not self.stopped:
                self.stopped = True
                os.kill(os.getpid(), signal.SIGSTOP)  # paused between the claim and its send
            return kept

    return Stopping(url)


def main(argv: list[str]) -> int:
    url, base_url, count, kind = argv[0], argv[1], int(argv[2]), argv[3]
    with _journal(url) as journal:
        if kind == "sync":
            with TextFlowClient(DEFAULT_API_KEY, base_url=base_url, max_retries=0) as client:
                report = client.send_many(numbers(count), "Hi", journal=journal, concurrency=1)
        else:

            async def run() -> Any:
                async with AsyncTextFlowClient(
                    DEFAULT_API_KEY, base_url=base_url, max_retries=0
                ) as client:
                    return await client.send_many(
                        numbers(count), "Hi", journal=journal, concurrency=1
                    )

            report = asyncio.run(run())
    totals = {name: getattr(report, name) for name in ("sent", "skipped", "maybe_sent", "refused")}
    print(json.dumps(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
