"""What the user gives the API commands: numbers, a text from stdin, lists of numbers.

A bad number is shown masked, exactly as the SDK's `InputValidationError` shows
it (`textflow._validation.shown_phone`): a terminal's output travels to CI logs
too, and one function keeps the two the same.
"""

from __future__ import annotations

import csv
import io
import sys
from typing import Optional, TextIO

from textflow import _validation as check
from textflow._cli.parser import UsageError
from textflow.errors import InputValidationError

#: The TEXT that means "read the message from stdin".
STDIN = "-"


def phone(value: str, argument: str) -> str:
    """``value`` checked as a phone number; a bad one is shown masked, as the SDK shows it.

    Raises:
        InputValidationError: Not an E.164 number (full-width digits named as such).
    """
    return check.phone_number(value, argument)


def message(value: str, argument: str, stdin: Optional[TextIO] = None) -> str:
    """The message: ``value``, or for ``-`` all of stdin without its final line break.

    Raises:
        UsageError: Stdin cannot be read, or holds no text.
        InputValidationError: An empty text, or one that cannot be sent.
    """
    if value != STDIN:
        return check.text(value, argument)
    stream = sys.stdin if stdin is None else stdin
    if stream.isatty():
        print("textflow: reading the message from stdin (end it with Ctrl-D)", file=sys.stderr)
    try:
        text = stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {argument} from stdin: {exc}") from None
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    if not text.strip():
        raise UsageError(
            f"{argument} is '-', so the message is read from stdin, and stdin held no text."
        )
    return check.text(text, argument)


def numbers(path: str, column: Optional[str], stdin: TextIO) -> list[str]:
    """The numbers in ``path`` ('-': stdin), checked, naming the line of a bad one.

    Without ``column``: one number a line, blank lines and ``#`` comments ignored.
    With ``column``: a CSV file whose first row names the columns; the numbers
    are in that column, rows with every cell blank are skipped.

    Raises:
        UsageError: The file cannot be read, has no such column, or holds no number.
        InputValidationError: A bad number, named with its line.
    """
    name = "stdin" if path == STDIN else path
    try:
        if path == STDIN:
            content = stdin.read()
        else:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                content = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot read {name}: {reason}") from None
    found = _csv_numbers(content, column, name) if column else _listed(content, name)
    if not found:
        raise UsageError(f"no phone numbers in {name}.")
    return found


def _listed(content: str, name: str) -> list[str]:
    found: list[str] = []
    for number, raw in enumerate(content.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            found.append(phone(line, f"{name} line {number}"))
        except InputValidationError as exc:
            if found or not ("," in line or any(c.isalpha() for c in line)):
                raise
            columns = ", ".join(repr(cell.strip()) for cell in next(csv.reader([line])))
            raise UsageError(
                f"{exc} If {name} is a CSV file with a header row ({columns}), name the "
                "phone column with --column."
            ) from None
    return found


def _csv_numbers(content: str, column: str, name: str) -> list[str]:
    reader = csv.reader(io.StringIO(content))
    header = [cell.strip() for cell in next(reader, [])]
    if column not in header:
        raise UsageError(
            f"{name}: no column {column!r} in the header; the columns are: "
            f"{', '.join(repr(c) for c in header) or 'none (the file is empty)'}."
        )
    index = header.index(column)
    found: list[str] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        cell = row[index] if index < len(row) else ""
        found.append(phone(cell.strip(), f"{name} line {reader.line_num}"))
    return found
