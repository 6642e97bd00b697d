"""The command line grammar: global options, the subcommands and their arguments.

Global options work before or after the subcommand (``textflow --json send ...``
and ``textflow send ... --json``). They are added to the main parser and to
every subparser with ``default=argparse.SUPPRESS``, so a subparser never
overwrites a value given before the subcommand; ``finish`` fills in the
defaults afterwards.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, NoReturn, Optional

from textflow._cli import argument_types as types
from textflow._cli.api_arguments import API_GRAMMAR
from textflow._cli.campaign_arguments import campaign_arguments
from textflow._cli.command_arguments import sandbox_arguments, send_many_arguments
from textflow._operations import OPERATIONS
from textflow._version import __version__

Command = Callable[[argparse.Namespace], int]

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
        """Raise `UsageError` ``MESSAGE (see 'PROG --help')``; ``main`` reports it.

        Args:
            message: What was wrong with the command line.
        """
        raise UsageError(f"{message} (see '{self.prog} --help')")


#: The global options each kind of command takes (by their ``args`` names). The API
#: commands take them all; ``sandbox`` has no server to reach (``--api-key`` is the key it
#: accepts); ``demo`` runs its own fake and prints a walk-through, not a result.
API_OPTIONS = ("api_key", "base_url", "timeout", "json", "verbose")
SANDBOX_OPTIONS = ("api_key", "json", "verbose")
DEMO_OPTIONS = ("verbose",)
CAMPAIGN_OPTIONS = ("json", "verbose")
COMMAND_OPTIONS = {
    "sandbox": SANDBOX_OPTIONS,
    "demo": DEMO_OPTIONS,
    "campaign": CAMPAIGN_OPTIONS,
}


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
            type=types.positive_float,
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

    for op in OPERATIONS.values():  # the API commands, in the table's order
        if op.command is not None:
            grammar = API_GRAMMAR[op.name]
            grammar.arguments(add(op.command, grammar.help, grammar.description))

    send_many_arguments(
        add(
            "send-many",
            "send an SMS to each number in a file: paced, with progress, resumable",
            "Send an SMS to each number in a file (a CSV with a header row, or one number "
            "a line), with a progress bar, a rate limit and a journal (FILE.journal.db) "
            "that makes a rerun send only to whom it has not sent yet. Check first with "
            "--dry-run. The journal keeps the phone numbers, never the API key.",
        )
    )

    sandbox_arguments(
        add(
            "sandbox",
            "serve a fake TextFlow API locally and print every SMS it receives",
            "Serve a fake TextFlow API over HTTP on this machine and print every SMS and "
            "code it receives, until Ctrl-C. Nothing is really sent. It accepts the key given "
            "with --api-key, else tf_test_key ($TEXTFLOW_API_KEY is not used).",
        )
    )
    campaign_arguments(
        add(
            "campaign",
            "where a send-many campaign stands, from its journal (file or URL)",
        )
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
