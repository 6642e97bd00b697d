"""The command line grammar: global options, the subcommands and their arguments.

Global options work before or after the subcommand (``textflow --json send ...``
and ``textflow send ... --json``). They are added to the main parser and to
every subparser with ``default=argparse.SUPPRESS``, so a subparser never
overwrites a value given before the subcommand; ``finish`` fills in the
defaults afterwards.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any, Callable, NoReturn, Optional

from textflow._version import __version__

Command = Callable[[argparse.Namespace], int]

DEFAULT_SANDBOX_HOST = "127.0.0.1"
DEFAULT_SANDBOX_PORT = 8765
#: send-many asks before sending to more recipients than this (unless --yes).
CONFIRM_ABOVE = 20
#: send-many's phone column, when --column is not given: the first of these in the header.
PHONE_COLUMNS = ("phone_number", "phone", "number", "mobile", "to")

_GLOBAL_DEFAULTS: dict[str, Any] = {
    "api_key": None,
    "base_url": None,
    "timeout": None,
    "json": False,
    "verbose": 0,
}

_EPILOG = """\
exit status: 0 success, 1 the API said no (or the code is invalid),
2 bad usage or bad input (nothing was sent), 3 no answer from the server.

Try it without an account:  textflow demo
A local fake API to test against:  textflow sandbox"""


class UsageError(Exception):
    """A command line the CLI cannot act on (exit status 2); the message is shown as is."""


class ArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are `UsageError`: one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Raise `UsageError` ``MESSAGE (see 'PROG --help')``; `textflow.cli.main` reports it.

        Args:
            message: What was wrong with the command line.
        """
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {value!r}")
    return number


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535 (0: any free port): {port}")
    return port


def _rate(value: str) -> float:
    """``5``, ``5/s``, ``300/min``, ``1/m``: sends per second.

    Raises:
        argparse.ArgumentTypeError: Anything else.
    """
    number, _, unit = value.strip().partition("/")
    seconds = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}.get(
        unit.strip().lower()
    )
    try:
        count = float(number)
    except ValueError:
        count = float("nan")
    if seconds is None or not (count > 0 and count != float("inf")):
        raise argparse.ArgumentTypeError(f"not a rate like 5/s or 300/min: {value!r}")
    return count / seconds


def _send_many_arguments(command: argparse.ArgumentParser) -> None:
    """The ``send-many`` options."""
    command.add_argument(
        "--file",
        metavar="FILE",
        required=True,
        help="a CSV file with a header row, or one number a line",
    )
    command.add_argument(
        "--column",
        metavar="NAME",
        help="the CSV column holding the numbers "
        f"(default: the first of {', '.join(PHONE_COLUMNS)})",
    )
    what = command.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", metavar="TEXT", help="the same message for everyone")
    what.add_argument(
        "--template",
        metavar="TEMPLATE",
        help="a message with {column} placeholders filled from each CSV row",
    )
    command.add_argument(
        "--concurrency",
        metavar="N",
        type=int,
        default=None,
        help="sends in flight at once (default: 20)",
    )
    command.add_argument(
        "--rate",
        metavar="RATE",
        type=_rate,
        default=None,
        help="at most this many sends a second: 5/s, 300/min (default: no limit)",
    )
    journal = command.add_mutually_exclusive_group()
    journal.add_argument(
        "--journal",
        metavar="DB",
        help="the journal that makes a rerun resume (default: FILE.journal.db)",
    )
    journal.add_argument(
        "--no-journal",
        action="store_true",
        help="keep no journal: a rerun sends to everyone again",
    )
    command.add_argument(
        "--resend-maybe-sent",
        action="store_true",
        help="send again to those the journal has as maybe sent (check them first)",
    )
    command.add_argument(
        "--dry-run",
        action="store_true",
        help="check the file and show counts, segments and the first messages; send nothing",
    )
    command.add_argument(
        "--yes",
        action="store_true",
        help=f"send to more than {CONFIRM_ABOVE} recipients without asking",
    )
    command.add_argument(
        "--report", metavar="CSV", help="write one row per recipient to this CSV file"
    )


def _credits(value: str) -> Decimal:
    try:
        credits = Decimal(value)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"not a number of credits: {value!r}") from None
    if not credits.is_finite() or credits < 0:
        raise argparse.ArgumentTypeError(f"must be a number of credits >= 0: {value!r}")
    return credits


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1 (0.1: one send in ten): {value!r}")
    return share


_DURATION_UNITS = {"ms": 0.001, "s": 1.0}


def duration(value: str) -> float:
    """``"50ms"``, ``"0.2s"`` or ``"0"`` as seconds; a unit is required for anything but 0.

    Args:
        value: The command line's text.

    Returns:
        Seconds, at least 0.

    Raises:
        argparse.ArgumentTypeError: No unit, not a number, or out of range.
    """
    text = value.strip().lower()
    unit = "ms" if text.endswith("ms") else "s" if text.endswith("s") else ""
    try:
        number = float(text[: len(text) - len(unit)]) if unit or text == "0" else None
    except ValueError:
        number = None
    if number is None:
        raise argparse.ArgumentTypeError(f"not a duration such as 50ms or 0.5s: {value!r}")
    seconds = number * _DURATION_UNITS.get(unit, 1.0)
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a duration >= 0: {value!r}")
    return seconds


#: The global options each kind of command takes (by their ``args`` names). The API
#: commands take them all; ``sandbox`` has no server to reach (``--api-key`` is the key it
#: accepts); ``demo`` runs its own fake and prints a walk-through, not a result.
API_OPTIONS = ("api_key", "base_url", "timeout", "json", "verbose")
SANDBOX_OPTIONS = ("api_key", "json", "verbose")
DEMO_OPTIONS = ("verbose",)
COMMAND_OPTIONS = {"sandbox": SANDBOX_OPTIONS, "demo": DEMO_OPTIONS}


def _global_options(names: tuple[str, ...] = API_OPTIONS) -> ArgumentParser:
    """The global options in ``names`` (and ``--version``), all defaulting to "not given"."""
    parent = ArgumentParser(add_help=False)
    group = parent.add_argument_group("global options")
    if "api_key" in names:
        group.add_argument(
            "--api-key",
            metavar="KEY",
            default=argparse.SUPPRESS,
            help="API key (default: $TEXTFLOW_API_KEY; prefer the variable: the command line "
            "is visible to other users). For 'sandbox', the key the sandbox accepts.",
        )
    if "base_url" in names:
        group.add_argument(
            "--base-url",
            metavar="URL",
            default=argparse.SUPPRESS,
            help="API base URL (default: $TEXTFLOW_BASE_URL, else https://textflow.me/api)",
        )
    if "timeout" in names:
        group.add_argument(
            "--timeout",
            metavar="SECONDS",
            type=_positive_float,
            default=argparse.SUPPRESS,
            help="give up waiting for an answer after this long (default: 30, 5 to connect)",
        )
    if "json" in names:
        group.add_argument(
            "--json",
            action="store_true",
            default=argparse.SUPPRESS,
            help="print the answer (or the failure) as one line of JSON on stdout",
        )
    if "verbose" in names:
        group.add_argument(
            "-v",
            "--verbose",
            action="count",
            default=argparse.SUPPRESS,
            help="log to stderr: -v requests, -vv details (keys and codes are never logged)",
        )
    group.add_argument("--version", action="version", version=f"textflow {__version__}")
    return parent


_OPTION_FLAGS = {
    "api_key": "--api-key",
    "base_url": "--base-url",
    "timeout": "--timeout",
    "json": "--json",
    "verbose": "--verbose",
}


def build_parser(commands: dict[str, Command]) -> ArgumentParser:
    """The ``textflow`` parser; each subcommand's namespace gets ``run`` from ``commands``.

    Args:
        commands: The function to run for each subcommand name, returning an exit status.

    Returns:
        The parser. Parse with `parse`, which also fills in the defaults.
    """
    common = _global_options()
    parents = {name: _global_options(names) for name, names in COMMAND_OPTIONS.items()}
    parser = ArgumentParser(
        prog="textflow",
        description="Send SMS and verification codes with the TextFlow API.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")

    def add(name: str, help_text: str, description: Optional[str] = None) -> ArgumentParser:
        command: ArgumentParser = sub.add_parser(
            name,
            help=help_text,
            description=description or help_text,
            parents=[parents.get(name, common)],
        )
        command.set_defaults(run=commands[name], options=COMMAND_OPTIONS.get(name, API_OPTIONS))
        return command

    send = add("send", "send one SMS")
    send.add_argument("phone", metavar="PHONE", help="recipient, e.g. +11234567890")
    send.add_argument("text", metavar="TEXT", help="the message; '-' reads it from stdin")

    send_code = add(
        "send-code",
        "send a verification code by SMS",
        "Send a verification code by SMS. The code is not printed: it is for the phone's owner.",
    )
    send_code.add_argument("phone", metavar="PHONE", help="the number to verify")
    send_code.add_argument(
        "--service-name",
        metavar="NAME",
        default="",
        help='shown in the SMS: "Your verification code for NAME is: ..."',
    )
    send_code.add_argument(
        "--seconds",
        metavar="N",
        type=int,
        default=600,
        help="how long the code stays valid, 1 to 86400 (default: 600)",
    )

    verify = add(
        "verify-code",
        "check a verification code (exit status 1 if it is invalid)",
    )
    verify.add_argument("phone", metavar="PHONE", help="the number the code was sent to")
    verify.add_argument("code", metavar="CODE", help="the code the user typed")

    bulk = add(
        "bulk",
        "send the same SMS to many numbers",
        "Send the same SMS to many numbers, given as arguments or read from a file: "
        "one number a line (blank lines and # comments are ignored), or with --column "
        "a CSV file with a header row.",
    )
    bulk.add_argument("text", metavar="TEXT", help="the message")
    bulk.add_argument("phones", metavar="PHONE", nargs="*", help="recipients")
    bulk.add_argument(
        "--file",
        metavar="FILE",
        help="read the recipients from FILE, one a line ('-' for stdin)",
    )
    bulk.add_argument(
        "--column",
        metavar="NAME",
        help="FILE is a CSV file with a header row: the numbers are in column NAME",
    )

    add("balance", "show the account's credits")

    _send_many_arguments(
        add(
            "send-many",
            "send an SMS to each number in a file: paced, with progress, resumable",
            "Send an SMS to each number in a file (a CSV with a header row, or one number "
            "a line), with a progress bar, a rate limit and a journal (FILE.journal.db) "
            "that makes a rerun send only to whom it has not sent yet. Check first with "
            "--dry-run. The journal keeps the phone numbers, never the API key.",
        )
    )

    sandbox = add(
        "sandbox",
        "serve a fake TextFlow API locally and print every SMS it receives",
        "Serve a fake TextFlow API over HTTP on this machine and print every SMS and "
        "code it receives, until Ctrl-C. Nothing is really sent. It accepts the key given "
        "with --api-key, else tf_test_key ($TEXTFLOW_API_KEY is not used).",
    )
    sandbox.add_argument(
        "--host",
        default=argparse.SUPPRESS,
        help=f"address to listen on (default: {DEFAULT_SANDBOX_HOST}; another address "
        "makes the sandbox and its inbox reachable from other machines)",
    )
    sandbox.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_SANDBOX_PORT,
        help=f"port to listen on, 0 for any free port (default: {DEFAULT_SANDBOX_PORT})",
    )
    sandbox.add_argument(
        "--credits",
        metavar="N",
        type=_credits,
        default=Decimal(100),
        help="the balance it starts with (default: 100; an SMS costs 0.15)",
    )
    sandbox.add_argument(
        "--fail-rate",
        metavar="SHARE",
        type=_share,
        default=0.0,
        help="share of sends answered 500 or dropped, 0 to 1: exactly round(SHARE*1000) of "
        "every 1,000 sends fail (default: 0)",
    )
    sandbox.add_argument(
        "--seed",
        metavar="N",
        type=int,
        default=None,
        help="repeat the same failures: the seed of --fail-rate (default: a random one, shown)",
    )
    sandbox.add_argument(
        "--latency",
        metavar="DURATION",
        type=duration,
        default=0.0,
        help="every answer waits this long, e.g. 50ms or 0.5s (default: 0)",
    )
    sandbox.add_argument(
        "--webhook-url",
        metavar="URL",
        default=None,
        help="your app's webhook URL: the web inbox gets a reply box that POSTs TextFlow's "
        "incoming-SMS webhook body there",
    )
    sandbox.add_argument(
        "--webhook-secret",
        metavar="SECRET",
        default=None,
        help="the secret put in each webhook body (default: tf_test_webhook_secret)",
    )

    add(
        "demo",
        "walk through the whole API against a fake TextFlow (no key, no network)",
    )
    return parser


def parse(parser: argparse.ArgumentParser, argv: Optional[list[str]]) -> argparse.Namespace:
    """Parse ``argv`` (default ``sys.argv[1:]``) and fill in the global options not given.

    Args:
        parser: From `build_parser`.
        argv: The arguments after the program name.

    Returns:
        The namespace, with every global option present.

    No command at all prints the help and exits 0, as ``pip`` does: asking what
    the tool does is not a mistake. A global option given before a command that
    does not take it (``textflow --json demo``) is a usage error, as after it.

    Raises:
        SystemExit: For ``--help``, ``--version``, no command (status 0) and usage
            errors (status 2).
    """
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        parser.exit(0)
    for name, flag in _OPTION_FLAGS.items():
        if hasattr(args, name) and name not in args.options:
            parser.error(f"'{args.command}' does not take {flag}")
    for name, default in _GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    return args
