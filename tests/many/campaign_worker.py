"""One worker process of a shared campaign, for the tests: ``python -m tests.many.campaign_worker``.

Arguments: JOURNAL_URL BASE_URL COUNT [MAX_PER_SECOND]. Sends "Hi" to the
first COUNT test numbers through the shared journal and prints the report's
totals as JSON (or the error that stopped it).
"""

from __future__ import annotations

import json
import sys

from textflow import JournalError, TextFlowClient
from textflow.testing import DEFAULT_API_KEY

from tests.many.many_support import numbers


def main(argv: list[str]) -> int:
    journal, base_url, count = argv[0], argv[1], int(argv[2])
    rate = float(argv[3]) if len(argv) > 3 else None
    with TextFlowClient(DEFAULT_API_KEY, base_url=base_url, max_retries=0) as client:
        try:
            report = client.send_many(
                numbers(count), "Hi", journal=journal, concurrency=8, max_per_second=rate
            )
        except JournalError as exc:
            totals = exc.report
            print(json.dumps({"error": type(exc).__name__, "sent": totals.sent if totals else 0}))
            return 2
    print(
        json.dumps(
            {
                "sent": report.sent,
                "skipped": report.skipped,
                "maybe_sent": report.maybe_sent,
                "refused": report.refused,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
