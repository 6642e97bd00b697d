"""``textflow campaign status JOURNAL [--json]``: where a send-many campaign stands.

JOURNAL is what ``send-many --journal`` took: a SQLite file, or a shared
journal's URL (``redis://host:port/db?campaign=NAME``,
``postgresql://...?campaign=NAME``). Only the journal is read; no API key is
needed and nothing is sent.
"""

from __future__ import annotations

import argparse
import json
import os

from textflow._cli.exit_status import EXIT_OK
from textflow._cli.parser import UsageError

#: The order statuses are printed in.
ORDER = ("sent", "maybe_sent", "refused", "sending")


def run(args: argparse.Namespace) -> int:
    """Print the campaign's status; exit 0 (an unreadable journal exits 2 with why)."""
    from textflow._many._run import open_journal
    from textflow._many._status import campaign_status

    journal_arg = args.journal
    if "://" not in journal_arg and not os.path.exists(journal_arg):
        raise UsageError(f"no journal at {journal_arg}.")
    if args.total is not None and args.total < 0:
        raise UsageError("--total must be 0 or more.")
    journal, _ = open_journal(journal_arg)
    assert journal is not None  # a str always opens one
    try:
        status = campaign_status(journal, total=args.total)
    finally:
        journal.close()
    if args.json:
        print(json.dumps(status.as_dict()), flush=True)
        return EXIT_OK
    shown = [s for s in ORDER if s in status.counts] + sorted(set(status.counts) - set(ORDER))
    for name in shown:
        print(f"{name.replace('_', ' '):>11}: {status.counts[name]}")
    total = f" of {status.total}" if status.total is not None else ""
    print(f"{'done':>11}: {status.done}{total}")
    if status.per_second is not None:
        print(f"{'pace':>11}: {round(status.per_second * 60)} a minute (over the last minute)")
    if status.eta_seconds is not None:
        print(f"{'time left':>11}: about {round(status.eta_seconds)} s")
    if status.counts.get("maybe_sent"):
        print(
            "Maybe sent: no clear answer (or a worker died holding them); they are not sent "
            "again unless --resend-maybe-sent. Check them first (docs: sending to many)."
        )
    return EXIT_OK
