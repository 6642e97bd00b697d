"""The ``textflow`` command: send SMS and codes from a shell, run a sandbox, see a demo.

Exit status:

====  ==========================================================================
0     success
1     the API said no (``APIStatusError``), or ``verify-code`` found the code invalid
2     bad usage or bad input, found before anything was sent (a bad phone number,
      no API key, an unusable ``--base-url``, an unreadable ``--file``)
3     no usable answer from the server (``APIConnectionError``, ``APITimeoutError``,
      ``MalformedResponseError``): whether a send went out is unknown
70    a bug in textflow (the message says so; ``-vv`` shows the traceback)
130   interrupted (Ctrl-C)
====  ==========================================================================

Errors are one line on stderr, ``textflow: error: ...``; the API key is never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Optional

from textflow._cli import (
    EXIT_BUG,
    EXIT_INTERRUPTED,
    EXIT_NO_ANSWER,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
)
from textflow._cli.output import printable, printable_json
from textflow._cli.parser import Command, UsageError, build_parser, parse
from textflow.errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    InputValidationError,
    MalformedResponseError,
    RateLimitError,
    TextFlowError,
)

__all__ = [
    "EXIT_BUG",
    "EXIT_INTERRUPTED",
    "EXIT_NO_ANSWER",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "main",
]


def _command(module: str, name: str) -> Command:
    """``textflow._cli.<module>.<name>``, imported when the command runs: ``--help`` and
    usage errors do not load the client stack (httpx, pydantic) or the fake."""

    def run(args: argparse.Namespace) -> int:
        command: Command = getattr(importlib.import_module(f"textflow._cli.{module}"), name)
        return command(args)

    return run


COMMANDS: dict[str, Command] = {
    "send": _command("api_commands", "send"),
    "send-code": _command("api_commands", "send_code"),
    "verify-code": _command("api_commands", "verify_code"),
    "bulk": _command("api_commands", "bulk"),
    "balance": _command("api_commands", "balance"),
    "send-many": _command("send_many", "run"),
    "sandbox": _command("sandbox", "run"),
    "demo": _command("demo", "run"),
}

logger = logging.getLogger("textflow")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``textflow`` command.

    Args:
        argv: The arguments after the program name; default ``sys.argv[1:]``.

    Returns:
        The exit status (see the module docstring): 0 success, 1 the API said no,
        2 bad usage or input, 3 no answer from the server, 130 interrupted.

    Examples:
        >>> main(["send", "+11234567890", "Hello", "--json"])
        {"ok":true,"status":200,...}
        0
    """
    try:
        try:
            args = parse(build_parser(COMMANDS), None if argv is None else list(argv))
        except SystemExit as exc:  # --help, --version, usage errors
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        with _verbose_logging(args.verbose):
            return _run(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    try:
        status: int = args.run(args)
    except ConfigurationError as exc:
        if exc.missing == "api_key":
            return _fail(
                EXIT_USAGE, "no API key, or a blank one: pass --api-key KEY or set TEXTFLOW_API_KEY"
            )
        return _fail(EXIT_USAGE, str(exc))
    except (UsageError, InputValidationError) as exc:
        return _fail(EXIT_USAGE, str(exc))
    except APIStatusError as exc:
        if args.json and exc.result is not None:
            print(printable_json(str(exc.result)), flush=True)
        return _fail(EXIT_REFUSED, _refusal(exc))
    except (APIConnectionError, MalformedResponseError) as exc:
        return _fail(EXIT_NO_ANSWER, f"no usable answer from TextFlow: {exc}")
    except TextFlowError as exc:  # a kind added later: the API's side, not the user's
        return _fail(EXIT_REFUSED, str(exc))
    except BrokenPipeError:  # e.g. `textflow balance | head -c0`: the reader left
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_REFUSED
    except Exception as exc:
        if args.verbose >= 2:
            logger.exception("textflow crashed")
        return _fail(
            EXIT_BUG,
            f"internal error ({type(exc).__name__}: {exc}); this is a bug in textflow, "
            "run with -vv for the traceback",
        )
    return status


def _refusal(exc: APIStatusError) -> str:
    said = isinstance(exc.body, dict) and isinstance(exc.body.get("message"), str)
    auth = isinstance(exc, AuthenticationError)
    detail = exc.message if said or not auth else "the API key was not accepted"
    line = f"TextFlow refused (status {exc.status}): {detail}"
    if auth:
        line += " (check --api-key or TEXTFLOW_API_KEY)"
    elif isinstance(exc, RateLimitError) and exc.retry_after is not None:
        line += f" (retry after {exc.retry_after:g} s)"
    return line


def _fail(status: int, message: str) -> int:
    print(f"textflow: error: {printable(message)}", file=sys.stderr, flush=True)
    return status


@contextlib.contextmanager
def _verbose_logging(verbose: int) -> Iterator[None]:
    """``-v``: the ``textflow`` logger at INFO on stderr; ``-vv``: DEBUG. Undone afterwards."""
    if verbose <= 0:
        yield
        return
    previous = logger.level
    handler: Optional[logging.Handler] = None
    if not any(getattr(h, "_textflow_env", False) for h in logger.handlers):  # TEXTFLOW_LOG's
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    try:
        yield
    finally:
        if handler is not None:
            logger.removeHandler(handler)
        logger.setLevel(previous)
