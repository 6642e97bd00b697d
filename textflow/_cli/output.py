"""Printing what servers send us: one line, no terminal control characters."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import TYPE_CHECKING

from textflow._redact import printable as printable  # here before; the SDK's errors use it too

if TYPE_CHECKING:
    from textflow.models import Result


def printable_json(line: str) -> str:
    """A line of compact JSON safe to print: what `printable` escapes, ``\\u``-escaped.

    ``str(result)`` keeps non-ASCII text as is (``ensure_ascii=False``), so C1 controls
    (U+009B), bidi overrides (U+202E) and lone surrogates from a server would reach the
    terminal raw, or fail to encode. Each becomes its JSON escape, which a JSON reader
    decodes back to the same string.

    Args:
        line: Compact JSON, e.g. ``str(result)``.

    Returns:
        The same JSON value, every non-printable character written as ``\\uXXXX``.

    Examples:
        >>> printable_json('{"message":"\\u202eevil"}')
        '{"message":"\\\\u202eevil"}'
    """
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in line)


def result_json(result: Result) -> str:
    """The API's answer in full, as one printable line of compact JSON (``--json``).

    Unlike ``str(result)``, nothing is masked: ``send-code --json`` shows the
    ``verification_code``, as the API sent it. The output is the caller's own,
    asked for by name; human-readable lines keep the code out.

    Args:
        result: The answer, with any fields the server added.

    Returns:
        The JSON, escaped as `printable_json` does.
    """
    answer = result.model_dump(mode="json", exclude_unset=True)
    return printable_json(json.dumps(answer, separators=(",", ":"), ensure_ascii=False))


def stdout_to_devnull() -> None:
    """Point stdout at the null device, after its reader left (a ``BrokenPipeError``).

    Python's recipe (the `signal` docs, "Note on SIGPIPE"): later writes, and the
    flush at exit, then succeed quietly instead of failing again.
    """
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
