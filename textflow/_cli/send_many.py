"""``textflow send-many``: one SMS to each number of a file, paced, journalled, resumable.

The file is read twice, never held whole: once to count and check (numbers,
template fields, segments), once to send through `TextFlowClient.send_many`.
A journal next to the file (``FILE.journal.db``) makes a rerun after Ctrl-C,
a crash or a stop send only to whom it has not sent yet.

The file is read by `textflow._cli.recipient_file` (which drops duplicate
rows); the progress meter and the ``--report`` CSV are in
`textflow._cli.send_many_progress`; the cost estimate in
`textflow._cli.send_many_cost`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Optional

from textflow._cli import send_many_cost as cost
from textflow._cli.api_commands import make_client
from textflow._cli.command_arguments import CONFIRM_ABOVE
from textflow._cli.exit_status import EXIT_INTERRUPTED, EXIT_NO_ANSWER, EXIT_OK, EXIT_REFUSED
from textflow._cli.output import printable
from textflow._cli.parser import UsageError
from textflow._cli.recipient_file import (
    Source,
    Survey,
    describe,
    duplicate_rows,
    source,
    survey,
)
from textflow._cli.send_many_progress import Meter, ReportWriter
from textflow._many._lease import shown_url
from textflow._many._outcomes import Progress, SendReport, out_of_credits
from textflow._many._run import pinned_journal
from textflow.errors import JournalError, SendManyInterrupted, SendManyStopped


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
    estimate = cost.estimate(found.segments, args.price, journal)
    if args.dry_run:
        print("Dry run: nothing is sent.")
        describe(found, sys.stdout)
        for line in cost.describe(estimate, None):
            print(line)
        for number, text in found.first:
            print(f"  {number}: {printable(text)}")
        return EXIT_OK
    describe(found, sys.stderr)
    refused = _above_max_cost(args.max_cost, estimate)
    if refused:
        print(f"textflow: error: {refused}", file=sys.stderr)
        return EXIT_REFUSED
    if found.recipients > CONFIRM_ABOVE and not args.yes:
        _confirm(found)
    with make_client(args) as client:
        balance = client.get_balance()
        for line in cost.describe(estimate, balance.credits):
            print(line, file=sys.stderr)
        if not (balance.credits > 0 or any(balance.packages.values())):
            print(
                "textflow: error: the account has no credits and no prepaid packages: nothing "
                "would be sent. Top up first ('textflow balance' shows what is left).",
                file=sys.stderr,
            )
            return EXIT_REFUSED
        lines: dict[int, int] = {}
        recipients = _numbered(src, phone_field, lines)
        meter = Meter(found.recipients, sys.stderr)
        writer = ReportWriter(args.report, lines)
        prices = cost.PriceLog(journal)

        def on_progress(progress: Progress) -> None:
            meter(progress)
            writer.write(progress.outcome)
            lines.pop(progress.outcome.index, None)
            if progress.outcome.result is not None:
                prices.record(progress.outcome.text, progress.outcome.result)

        options: dict[str, Any] = {"concurrency": args.concurrency} if args.concurrency else {}
        try:
            if journal is not None:  # a Redis campaign's instance, for the resume command
                journal = args.pinned_journal = pinned_journal(journal)
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
            _summary(args, stopped.report, journal, found)
            print(
                "textflow: interrupted; sends in flight were finished or recorded as maybe "
                "sent. "
                + (
                    f"Resume with: {resume_command(args)}"
                    if journal
                    else "Without a journal, a rerun sends to everyone again."
                ),
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        except JournalError as failed:
            if failed.report is None:  # before the first send: the usual one-line error
                raise
            meter.end()
            _summary(args, failed.report, journal, found)
            _journal_failed(args, failed)
            return EXIT_NO_ANSWER if failed.report.maybe_sent else EXIT_REFUSED
        except SendManyStopped as stopped:
            meter.end()
            _summary(args, stopped.report, journal, found)
            print(f"textflow: error: stopped: {printable(str(stopped.__cause__))}", file=sys.stderr)
            _stopped_summary(args, stopped, journal, found)
            return EXIT_NO_ANSWER if stopped.report.maybe_sent else EXIT_REFUSED
        finally:
            writer.close()
    meter.end()
    _summary(args, report, journal, found)
    if report.maybe_sent:
        return EXIT_NO_ANSWER
    return EXIT_REFUSED if report.refused else EXIT_OK


def _numbered(src: Source, phone_field: str, lines: dict[int, int]) -> Iterator[Any]:
    """The recipients (duplicate rows dropped), remembering each one's line until reported."""
    for index, (line_number, item) in enumerate(src.rows(phone_field)):
        lines[index] = line_number
        yield item


def _above_max_cost(max_cost: Optional[Decimal], estimate: cost.Estimate) -> Optional[str]:
    """Why ``--max-cost`` refuses to start, or None."""
    if max_cost is None:
        return None
    if estimate.cost is None:
        return (
            "--max-cost: the price of a segment is unknown (no earlier sends in this "
            "journal): give --price."
        )
    if estimate.cost > max_cost:
        return (
            f"not started: the estimated cost, {estimate.cost.normalize():f} credits, is "
            f"above --max-cost {max_cost.normalize():f}."
        )
    return None


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


def _summary(
    args: argparse.Namespace, report: SendReport, journal: Optional[str], found: Survey
) -> None:
    duplicates = len(found.duplicates)
    if args.json:
        totals = {
            "sent": report.sent,
            "refused": report.refused,
            "maybe_sent": report.maybe_sent,
            "skipped": report.skipped,
            "duplicates": duplicates,
            "not_tried": found.recipients - report.total,
            "journal": shown_url(journal) if journal else None,
        }
        print(json.dumps(totals), flush=True)
        return
    print(
        f"Sent {report.sent}, refused {report.refused}, maybe sent {report.maybe_sent}, "
        f"skipped {report.skipped} (already in the journal).",
        flush=True,
    )
    if duplicates:
        print(
            f"{duplicate_rows(duplicates)} skipped: the same number and text as an earlier "
            "row of the file (one message each).",
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
        print(
            f"Skipped ones were sent (or maybe sent) by an earlier run: {shown_url(journal)}",
            flush=True,
        )


def _stopped_summary(
    args: argparse.Namespace, stopped: SendManyStopped, journal: Optional[str], found: Survey
) -> None:
    """After a stop (out of credits, a refused key): who was never tried, and how to resume."""
    report = stopped.report
    not_tried = found.recipients - report.total
    cause = stopped.__cause__
    why = "credits ran out (402)" if cause is not None and out_of_credits(cause) else "stopped"
    out = sys.stderr
    print(f"{why}: {not_tried} of {found.recipients} recipients were never tried.", file=out)
    if journal is not None:
        print(
            "Nobody got two messages: the journal holds everyone sent"
            + (
                f", and the {report.maybe_sent} without a clear answer are not sent again "
                "unless --resend-maybe-sent."
                if report.maybe_sent
                else "."
            ),
            file=out,
        )
        first = "Top up, then resume" if "402" in why else "Resume"
        print(f"{first} with: {resume_command(args)}", file=out, flush=True)
    else:
        print(
            "No journal was kept (--no-journal): a rerun would send to everyone again.",
            file=out,
            flush=True,
        )


def _journal_failed(args: argparse.Namespace, failed: JournalError) -> None:
    """After the journal failed mid-run (its store went away): why, and how to resume."""
    report = failed.report
    out = sys.stderr
    print(f"textflow: error: {printable(str(failed))}", file=out)
    in_flight = (
        f"; the {report.maybe_sent} in flight are maybe sent and not sent again unless "
        "--resend-maybe-sent"
        if report is not None and report.maybe_sent
        else ""
    )
    print(
        "The run stopped: what could not be written in the journal was not sent. Nobody "
        f"got two messages{in_flight}.",
        file=out,
    )
    print(
        f"Once the journal works again, resume with: {resume_command(args)}", file=out, flush=True
    )


#: Shown in the resume command in place of a key typed on the command line.
KEY_PLACEHOLDER = "$TEXTFLOW_API_KEY"


def resume_command(args: argparse.Namespace) -> str:
    """The command line that resumes this run: the same words (the journal skips who was sent).

    A key given with ``--api-key`` is never printed: ``$TEXTFLOW_API_KEY`` stands
    in for it, left unquoted so that a shell expands it. A Redis journal's URL names
    its campaign's instance (``&instance=ID``, ``args.pinned_journal``), so that the
    command stops rather than start the campaign again on a Redis that lost it.
    """
    words: list[str] = list(getattr(args, "argv", None) or sys.argv[1:])
    given, pinned = getattr(args, "journal", None), getattr(args, "pinned_journal", None)
    if given and pinned and pinned != given:  # a Redis journal: pin its campaign's instance
        words = [_replaced(word, given, pinned) for word in words]
    shown: list[str] = ["textflow"]
    hide_next = False
    hidden_password = False
    for word in words:
        if hide_next:
            shown.append(KEY_PLACEHOLDER)
            hide_next = False
        elif word == "--api-key":
            shown.append(shlex.quote(word))
            hide_next = True
        elif word.startswith("--api-key="):
            shown.append(f"--api-key={KEY_PLACEHOLDER}")
        else:
            masked = _masked_url(word)
            hidden_password = hidden_password or masked != word
            shown.append(shlex.quote(masked))
    command = " ".join(shown)
    if hidden_password:  # a journal URL's password is never printed either
        command += "   # put the journal's password back in place of ***"
    return command


def _replaced(word: str, given: str, pinned: str) -> str:
    """The word with the journal's URL as given replaced by its pinned URL."""
    if word == given:
        return pinned
    flag, equals, value = word.partition("=")
    return f"{flag}={pinned}" if flag.startswith("--") and equals and value == given else word


def _masked_url(word: str) -> str:
    """A word with the password of a URL in it (``--journal=URL`` too) masked."""
    flag, equals, value = word.partition("=") if word.startswith("--") else ("", "", word)
    if "://" not in value:
        return word
    return f"{flag}{equals}{shown_url(value)}"
