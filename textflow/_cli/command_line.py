"""The ``textflow`` command: send SMS and codes from a shell, run a sandbox, see a demo.

Exit status:

====  ==========================================================================
0     success
1     the API said no (``APIStatusError`` that says nothing was sent), or ``verify-code``
      found the code invalid
2     bad usage or bad input, found before anything was sent (a bad phone number,
      no API key, an unusable ``--base-url``, an unreadable ``--file``)
3     no usable answer from the server (``APIConnectionError``, ``APITimeoutError``,
      ``MalformedResponseError``), or any failure whose ``may_have_been_sent`` is true
      (a 5xx answer to a send): whether a send went out is unknown
70    a bug in textflow (the message says so; ``-vv`` shows the traceback)
130   interrupted (Ctrl-C)
====  ==========================================================================

Errors are one line on stderr, ``textflow: error: ...``; with ``--json`` also one
JSON object on stdout (`textflow._cli.failure`). The API key is never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import Optional

from textflow._cli import failure
from textflow._cli.exit_status import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from textflow._cli.output import printable, stdout_to_devnull
from textflow._cli.parser import Command, UsageError, build_parser, parse
from textflow._operations import OPERATIONS
from textflow.errors import ConfigurationError, InputValidationError, TextFlowError

__all__ = ["COMMANDS", "main"]


def _command(module: str, name: str) -> Command:
    """``textflow._cli.<module>.<name>``, imported when the command runs: ``--help`` and
    usage errors do not load the client stack (httpx, pydantic) or the fake."""

    def run(args: argparse.Namespace) -> int:
        command: Command = getattr(importlib.import_module(f"textflow._cli.{module}"), name)
        return command(args)

    return run


#: What each command runs: an API command is the function of `textflow._cli.api_commands`
#: named after its operation (the operation table says which have a command, and its name).
COMMANDS: dict[str, Command] = {
    **{
        op.command: _command("api_commands", op.name)
        for op in OPERATIONS.values()
        if op.command is not None
    },
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
    words = sys.argv[1:] if argv is None else list(argv)
    try:
        try:
            try:
                args = parse(build_parser(COMMANDS), words)
                args.argv = words  # what was typed: send-many shows it as the resume command
            except SystemExit as exc:  # --help, --version, no command
                return exc.code if isinstance(exc.code, int) else EXIT_USAGE
            except UsageError as exc:  # the command line itself is wrong
                return _report(failure.bad_input(str(exc)), as_json=_wants_json(words))
            with _verbose_logging(args.verbose):
                status = _run(args)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
            return status
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader left (`textflow demo | head -1`): not an error; exit quietly.
        stdout_to_devnull()
        return EXIT_OK


def _wants_json(words: list[str]) -> bool:
    """``--json`` among the options (before any ``--``), for a command line that did not parse."""
    options = words[: words.index("--")] if "--" in words else words
    return "--json" in options


def _run(args: argparse.Namespace) -> int:
    try:
        status: int = args.run(args)
    except ConfigurationError as exc:
        if exc.missing == "api_key":
            message = "no API key, or a blank one: pass --api-key KEY or set TEXTFLOW_API_KEY"
            return _report(failure.bad_input(message, exc), args.json)
        return _report(failure.bad_input(str(exc), exc), args.json)
    except (UsageError, InputValidationError) as exc:
        return _report(failure.bad_input(str(exc), exc), args.json)
    except TextFlowError as exc:  # on the wire, or a kind added later: the API's side
        return _report(failure.of_error(exc), args.json)
    except BrokenPipeError:
        raise  # main's to handle, for every command
    except Exception as exc:
        if args.verbose >= 2:
            logger.exception("textflow crashed")
        return _report(failure.internal(exc), args.json)
    return status


def _report(failed: failure.Failure, as_json: bool) -> int:
    """Print the failure (one line on stderr; with ``--json`` also its JSON on stdout)."""
    if as_json:
        try:
            print(failed.as_json(), flush=True)
        except BrokenPipeError:  # the reader left; the failure still decides the status
            stdout_to_devnull()
    print(f"textflow: error: {printable(failed.message)}", file=sys.stderr, flush=True)
    return failed.exit_status


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
