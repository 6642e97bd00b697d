"""``textflow send-many``: one SMS to each number of a file, paced, journalled, resumable.

The file is read twice, never held whole: once to count and check (numbers,
template fields, segments), once to send through `TextFlowClient.send_many`.
A journal next to the file (``FILE.journal.db``) makes a rerun after Ctrl-C,
a crash or a stop send only to whom it has not sent yet.

The file is read by `textflow._cli.recipient_file`; the progress meter and the
``--report`` CSV are in `textflow._cli.send_many_progress`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any, Optional

from textflow._cli.api_commands import make_client
from textflow._cli.command_arguments import CONFIRM_ABOVE
from textflow._cli.exit_status import EXIT_INTERRUPTED, EXIT_NO_ANSWER, EXIT_OK, EXIT_REFUSED
from textflow._cli.output import printable
from textflow._cli.parser import UsageError
from textflow._cli.recipient_file import Source, Survey, describe, source, survey
from textflow._cli.send_many_progress import Meter, ReportWriter
from textflow._many._outcomes import (
    Progress,
    SendReport,
)
from textflow.errors import SendManyInterrupted, SendManyStopped


def run(args: argparse.Namespace) -> int:
    """``textflow send-many --file FILE (--text TEXT | --template T) ...``.

    Args:
        args: The parsed command line.

    Returns:
        0 when everyone was sent (or skipped as already sent); 1 when some were
        refused or the run stopped; 3 when some may or may not have been sent;
        130 after Ctrl-C.
    """
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be 1 or more.")
    src = source(args)
    phone_field = src.column or "phone_number"
    found = survey(src, phone_field)
    if found.recipients == 0:
        raise UsageError(f"no recipients in {src.path}.")
    journal = None if args.no_journal else (args.journal or f"{src.path}.journal.db")
    if args.dry_run:
        print("Dry run: nothing is sent.")
        describe(found, sys.stdout)
        for number, text in found.first:
            print(f"  {number}: {printable(text)}")
        return EXIT_OK
    describe(found, sys.stderr)
    if found.recipients > CONFIRM_ABOVE and not args.yes:
        _confirm(found)
    with make_client(args) as client:
        if not _can_pay(client):
            print(
                "textflow: error: the account has no credits and no prepaid packages: nothing "
                "would be sent. Top up first ('textflow balance' shows what is left).",
                file=sys.stderr,
            )
            return EXIT_REFUSED
        lines: dict[int, int] = {}
        recipients = _numbered(src, lines)
        meter = Meter(found.recipients, sys.stderr)
        writer = ReportWriter(args.report, lines)

        def on_progress(progress: Progress) -> None:
            meter(progress)
            writer.write(progress.outcome)
            lines.pop(progress.outcome.index, None)

        options: dict[str, Any] = {"concurrency": args.concurrency} if args.concurrency else {}
        try:
            report = client.send_many(
                recipients,
                src.template,
                phone_field=phone_field,
                max_per_second=args.rate,
                on_progress=on_progress,
                journal=journal,
                resend_maybe_sent=args.resend_maybe_sent,
                keep_outcomes=False,
                **options,
            )
        except SendManyInterrupted as stopped:
            meter.end()
            _summary(args, stopped.report, journal)
            print(
                "textflow: interrupted; sends in flight were finished or recorded as maybe "
                "sent. "
                + (
                    f"Run the same command again to resume (journal: {journal})."
                    if journal
                    else "Without a journal, a rerun sends to everyone again."
                ),
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        except SendManyStopped as stopped:
            meter.end()
            _summary(args, stopped.report, journal)
            print(f"textflow: error: stopped: {printable(str(stopped.__cause__))}", file=sys.stderr)
            return EXIT_NO_ANSWER if stopped.report.maybe_sent else EXIT_REFUSED
        finally:
            writer.close()
    meter.end()
    _summary(args, report, journal)
    if report.maybe_sent:
        return EXIT_NO_ANSWER
    return EXIT_REFUSED if report.refused else EXIT_OK


def _numbered(src: Source, lines: dict[int, int]) -> Iterator[Any]:
    """The recipients, remembering each one's line until it is reported."""
    for index, (line_number, item) in enumerate(src.rows()):
        lines[index] = line_number
        yield item


def _confirm(found: Survey) -> None:
    question = f"Send {found.recipients} SMS ({found.segments} segments) now? [y/N] "
    if not sys.stdin.isatty():
        raise UsageError(
            f"{found.recipients} recipients: confirm with --yes (stdin is not a terminal to ask)."
        )
    print(question, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError("not sent: not confirmed.")


def _can_pay(client: Any) -> bool:
    """False when the account clearly cannot pay: no credits and no packages.

    The price of a segment is not in the API, so anything more is a guess: a
    run that runs out midway stops at the first "insufficient credits" answer.
    """
    balance = client.get_balance()
    return bool(balance.credits > 0 or any(balance.packages.values()))


def _summary(args: argparse.Namespace, report: SendReport, journal: Optional[str]) -> None:
    if args.json:
        totals = {
            "sent": report.sent,
            "refused": report.refused,
            "maybe_sent": report.maybe_sent,
            "skipped": report.skipped,
            "journal": journal,
        }
        print(json.dumps(totals), flush=True)
        return
    print(
        f"Sent {report.sent}, refused {report.refused}, maybe sent {report.maybe_sent}, "
        f"skipped {report.skipped} (already in the journal).",
        flush=True,
    )
    if report.maybe_sent:
        print(
            f"{report.maybe_sent} got no clear answer: they may have been sent. A rerun "
            "does not send to them again unless --resend-maybe-sent."
            + (" See --report for which." if args.report else ""),
            flush=True,
        )
    if journal and report.skipped:
        print(f"Skipped ones were sent (or maybe sent) by an earlier run: {journal}", flush=True)
