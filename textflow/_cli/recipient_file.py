"""``send-many``'s input file: how it is read, and what a first pass over it finds.

``source`` says how to read the file (a CSV with a header row, or one number
a line; the same text for all, or a template); ``survey`` reads it once to
count and check (numbers, template fields, segments) without holding it
whole; ``describe`` prints what it found.

The same number and text twice in one file is one message: ``Source.rows``
drops a row whose number (as TextFlow reads it) and text an earlier row
already had, and ``survey`` counts those as duplicates. Only a short digest of
each row is kept, not the rows.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional, TextIO

from textflow import _validation as check
from textflow._cli.command_arguments import PHONE_COLUMNS
from textflow._cli.output import printable
from textflow._cli.parser import UsageError
from textflow._segments import segments
from textflow.errors import InputValidationError

SHOWN_MESSAGES = 3
SHOWN_PROBLEMS = 5

Row = tuple[int, Any]


@dataclass
class Source:
    """The input file and how to read it."""

    path: Path
    column: Optional[str]  # None: one number a line
    template: Optional[str]
    text: Optional[str]

    def rows(self, phone_field: str, duplicates: Optional[list[int]] = None) -> Iterator[Row]:
        """(line number, recipient for send_many), lazily, without duplicate rows.

        Args:
            phone_field: The phone column (for a template's rows).
            duplicates: Appended with the line number of each duplicate row dropped.
        """
        seen: set[bytes] = set()
        for line_number, item in self.all_rows():
            key = self.message_key(item, phone_field)
            if key is not None:
                if key in seen:
                    if duplicates is not None:
                        duplicates.append(line_number)
                    continue
                seen.add(key)
            yield line_number, item

    def message(self, item: Any, phone_field: str) -> tuple[str, str]:
        """(number as sent, text) of a row.

        Raises:
            InputValidationError: A bad number, or a template that makes no text.
        """
        if isinstance(item, tuple):
            return check.phone_number(item[0]), str(item[1])
        number = check.phone_number(item.get(phone_field) or "")
        return number, check.text(self.template.format_map(item) if self.template else "", "text")

    def message_key(self, item: Any, phone_field: str) -> Optional[bytes]:
        """A digest of the row's number and text; None for a row that cannot be sent."""
        try:
            number, text = self.message(item, phone_field)
        except InputValidationError:
            return None
        return hashlib.blake2b(f"{number}\x00{text}".encode(), digest_size=16).digest()

    def all_rows(self) -> Iterator[Row]:
        """Every recipient row of the file, duplicates included."""
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
    duplicates: list[int] = field(default_factory=list)  # their line numbers


def survey(src: Source, phone_field: str) -> Survey:
    """Count recipients and segments, render the first messages, list bad rows.

    ``recipients`` counts the rows to send (duplicate rows not included).
    """
    found = Survey()
    for line_number, item in src.rows(phone_field, found.duplicates):
        found.recipients += 1
        try:
            number, text = src.message(item, phone_field)
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


def describe(found: Survey, out: TextIO) -> None:
    print(
        f"Recipients: {found.recipients} ({found.invalid} with a problem); "
        f"segments: {found.segments} in all",
        file=out,
    )
    for problem in found.problems:
        print(f"  problem: {printable(problem)}", file=out)
    if found.duplicates:
        count = len(found.duplicates)
        lines = ", ".join(str(line) for line in found.duplicates[:SHOWN_PROBLEMS])
        more = ", ..." if count > SHOWN_PROBLEMS else ""
        print(
            f"{duplicate_rows(count)} skipped: the same number and text as an earlier row "
            f"(line {lines}{more}); each gets one message.",
            file=out,
        )
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


def duplicate_rows(count: int) -> str:
    """``1 duplicate row``, ``2 duplicate rows``."""
    return f"{count} duplicate row{'' if count == 1 else 's'}"
