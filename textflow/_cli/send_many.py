"""``textflow send-many``: one SMS to each number of a file, paced, journalled, resumable.

The file is read twice, never held whole: once to count and check (numbers,
template fields, segments), once to send through `TextFlowClient.send_many`.
A journal next to the file (``FILE.journal.db``) makes a rerun after Ctrl-C,
a crash or a stop send only to whom it has not sent yet.
"""

from __future__ import annotations

import argparse
import csv
import json
import string
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional, TextIO

from textflow import _validation as check
from textflow._cli import EXIT_INTERRUPTED, EXIT_NO_ANSWER, EXIT_OK, EXIT_REFUSED
from textflow._cli.api_commands import make_client
from textflow._cli.output import printable
from textflow._cli.parser import CONFIRM_ABOVE, PHONE_COLUMNS, UsageError
from textflow._many._outcomes import (
    SENT,
    SKIPPED,
    Outcome,
    Progress,
    SendReport,
)
from textflow._segments import segments
from textflow.errors import InputValidationError, SendManyInterrupted, SendManyStopped

#: Seconds between progress lines when stderr is not a terminal.
PLAIN_PROGRESS_EVERY = 10.0
#: Seconds between redraws of the progress bar on a terminal.
BAR_REDRAW_EVERY = 0.1
SHOWN_MESSAGES = 3
SHOWN_PROBLEMS = 5


# --- reading the file -------------------------------------------------------------------


@dataclass
class Source:
    """The input file and how to read it."""

    path: Path
    column: Optional[str]  # None: one number a line
    template: Optional[str]
    text: Optional[str]

    def rows(self) -> Iterator[tuple[int, Any]]:
        """(line number, recipient for send_many), lazily."""
        with _open(self.path) as handle:
            if self.column is None:
                for line_number, raw in enumerate(handle, start=1):
                    number = raw.split("#", 1)[0].strip()
                    if number:
                        yield line_number, (number, self.text)
                return
            reader = csv.DictReader(handle)
            for row in reader:
                line_number = reader.line_num
                if not any((value or "").strip() for value in row.values()):
                    continue
                if self.template is None:
                    yield line_number, (row.get(self.column) or "", self.text)
                else:
                    yield line_number, {k: v for k, v in row.items() if k is not None}


def _open(path: Path) -> IO[str]:
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def source(args: argparse.Namespace) -> Source:
    """Read the file's first line to tell a CSV from a list of numbers; check the template."""
    path = Path(args.file)
    with _open(path) as handle:
        try:
            first = handle.readline()
        except UnicodeDecodeError as exc:
            raise UsageError(f"cannot read {path}: not UTF-8 ({exc.reason})") from None
    header = next(csv.reader([first]), [])
    header = [name.strip() for name in header]
    looks_like_number = len(header) == 1 and _is_number(header[0])
    if args.column is None and (looks_like_number or not first.strip()):
        if args.template is not None:
            raise UsageError("--template needs a CSV file with a header row naming its columns.")
        return Source(path, None, None, check.text(args.text, "--text"))
    column = args.column or next((name for name in PHONE_COLUMNS if name in header), None)
    if column is None or column not in header:
        wanted = f"no column {args.column!r}" if args.column else "no phone column"
        raise UsageError(
            f"{path}: {wanted} in the header ({', '.join(header) or 'empty'}); "
            "name it with --column"
        )
    if args.template is not None:
        check.text(args.template, "--template")
        missing = [name for name in _fields(args.template) if name not in header]
        if missing:
            raise UsageError(
                f"--template uses {', '.join('{' + m + '}' for m in missing)}, which "
                f"{path} has no column for (columns: {', '.join(header)})"
            )
        return Source(path, column, args.template, None)
    return Source(path, column, None, check.text(args.text, "--text"))


def _fields(template: str) -> list[str]:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise UsageError(f"--template is not a valid template: {exc}") from None
    if any(not name or not name.isidentifier() for name in names):
        raise UsageError("--template placeholders must be column names, like {name}.")
    return names


def _is_number(value: str) -> bool:
    try:
        check.phone_number(value)
    except InputValidationError:
        return False
    return True


# --- the check before sending -----------------------------------------------------------


@dataclass
class Survey:
    """What the first pass found."""

    recipients: int = 0
    segments: int = 0
    ucs2: int = 0
    culprits: dict[str, Optional[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    invalid: int = 0
    first: list[tuple[str, str]] = field(default_factory=list)


def survey(src: Source, phone_field: str) -> Survey:
    """Count recipients and segments, render the first messages, list bad rows."""
    found = Survey()
    for line_number, item in src.rows():
        found.recipients += 1
        try:
            if isinstance(item, tuple):
                number, text = check.phone_number(item[0], echo=True), str(item[1])
            else:
                number = check.phone_number(item.get(phone_field) or "", echo=True)
                text = check.text(src.template.format_map(item) if src.template else "", "text")
        except InputValidationError as exc:
            found.invalid += 1
            if len(found.problems) < SHOWN_PROBLEMS:
                found.problems.append(f"line {line_number}: {exc}")
            continue
        count = segments(text)
        found.segments += count.segments
        if not count.is_gsm7:
            found.ucs2 += 1
            for char in count.unicode_characters:
                found.culprits.setdefault(char, count.replacements.get(char))
        if len(found.first) < SHOWN_MESSAGES:
            found.first.append((number, text))
    return found


def _describe(found: Survey, out: TextIO) -> None:
    print(
        f"Recipients: {found.recipients} ({found.invalid} with a problem); "
        f"segments: {found.segments} in all",
        file=out,
    )
    for problem in found.problems:
        print(f"  problem: {printable(problem)}", file=out)
    if found.ucs2:
        shown = ", ".join(
            repr(char) + (f" -> {replacement!r}" if replacement is not None else "")
            for char, replacement in list(found.culprits.items())[:10]
        )
        print(
            f"Warning: {found.ucs2} message(s) go out as UCS-2 (70 characters a segment, "
            f"not 160) because of: {printable(shown)}",
            file=out,
        )


# --- sending ------------------------------------------------------------------------------


class Meter:
    """Progress on stderr: a redrawn bar on a terminal, a plain line now and then otherwise."""

    def __init__(self, total: int, stream: TextIO, clock: Any = time.monotonic) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.clock = clock
        self.last = -float("inf")
        self.drawn = False

    def __call__(self, progress: Progress) -> None:
        now = self.clock()
        finished = progress.done >= self.total
        every = BAR_REDRAW_EVERY if self.tty else PLAIN_PROGRESS_EVERY
        if not finished and now - self.last < every:
            return
        self.last = now
        line = self.line(progress)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self.drawn = True
        else:
            self.stream.write(f"progress: {line}\n")
        self.stream.flush()

    def line(self, progress: Progress) -> str:
        total = max(self.total, progress.done)
        width = 20
        filled = width * progress.done // total if total else width
        rate = progress.done / progress.elapsed if progress.elapsed > 0 else 0.0
        left = total - progress.done
        eta = f"{left / rate:.0f}s" if rate > 0 else "?"
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {progress.done}/{total} "
            f"{rate:.1f}/s ETA {eta}  sent {progress.sent} refused {progress.refused} "
            f"maybe {progress.maybe_sent} skipped {progress.skipped}"
        )

    def end(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


class ReportWriter:
    """``--report``: one CSV row per recipient, written as each finishes."""

    def __init__(self, path: Optional[str], lines: dict[int, int]) -> None:
        self.lines = lines
        self.handle: Optional[IO[str]] = None
        if path is not None:
            try:
                self.handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            except OSError as exc:
                raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
            self.writer = csv.writer(self.handle)
            self.writer.writerow(["line", "phone_number", "status", "detail"])

    def write(self, outcome: Outcome) -> None:
        if self.handle is None:
            return
        if outcome.status == SENT and outcome.result is not None:
            detail = outcome.result.message
        elif outcome.status == SKIPPED:
            detail = f"journal says {outcome.previous}"
        else:
            detail = str(outcome.error)
        line = self.lines.get(outcome.index, "")
        self.writer.writerow([line, outcome.phone_number, outcome.status, detail])

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


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
        _describe(found, sys.stdout)
        for number, text in found.first:
            print(f"  {number}: {printable(text)}")
        return EXIT_OK
    _describe(found, sys.stderr)
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
