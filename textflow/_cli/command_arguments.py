"""The grammar of the commands that do more than one API call: ``send-many`` and ``sandbox``.

(The API commands' grammar is in `textflow._cli.api_arguments`; ``demo`` takes
no arguments.) The defaults these commands share with their code live here.
"""

from __future__ import annotations

import argparse
from decimal import Decimal

from textflow._cli import argument_types as types

DEFAULT_SANDBOX_HOST = "127.0.0.1"
DEFAULT_SANDBOX_PORT = 8765
#: send-many asks before sending to more recipients than this (unless --yes).
CONFIRM_ABOVE = 20
#: send-many's phone column, when --column is not given: the first of these in the header.
PHONE_COLUMNS = ("phone_number", "phone", "number", "mobile", "to")


def send_many_arguments(command: argparse.ArgumentParser) -> None:
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
        type=types.rate,
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
    command.add_argument(
        "--price",
        metavar="CREDITS",
        type=types.credits,
        default=None,
        help="what one segment costs, for the cost estimate (default: the median of "
        "this journal's earlier sends)",
    )
    command.add_argument(
        "--max-cost",
        metavar="CREDITS",
        type=types.credits,
        default=None,
        help="refuse to start when the estimated cost is above this",
    )


def sandbox_arguments(command: argparse.ArgumentParser) -> None:
    """The ``sandbox`` options."""
    command.add_argument(
        "--host",
        default=argparse.SUPPRESS,
        help=f"address to listen on (default: {DEFAULT_SANDBOX_HOST}; another address "
        "makes the sandbox and its inbox reachable from other machines)",
    )
    command.add_argument(
        "--port",
        type=types.port,
        default=DEFAULT_SANDBOX_PORT,
        help=f"port to listen on, 0 for any free port (default: {DEFAULT_SANDBOX_PORT})",
    )
    command.add_argument(
        "--credits",
        metavar="N",
        type=types.credits,
        default=Decimal(100),
        help="the balance it starts with (default: 100; an SMS costs 0.15)",
    )
    command.add_argument(
        "--fail-rate",
        metavar="SHARE",
        type=types.share,
        default=0.0,
        help="share of sends answered 500 or dropped, 0 to 1: exactly round(SHARE*1000) of "
        "every 1,000 sends fail (default: 0)",
    )
    command.add_argument(
        "--seed",
        metavar="N",
        type=int,
        default=None,
        help="repeat the same failures: the seed of --fail-rate (default: a random one, shown)",
    )
    command.add_argument(
        "--latency",
        metavar="DURATION",
        type=types.duration,
        default=0.0,
        help="every answer waits this long, e.g. 50ms or 0.5s (default: 0)",
    )
    command.add_argument(
        "--webhook-url",
        metavar="URL",
        default=None,
        help="your app's webhook URL: the web inbox gets a reply box that POSTs TextFlow's "
        "incoming-SMS webhook body there",
    )
    command.add_argument(
        "--webhook-secret",
        metavar="SECRET",
        default=None,
        help="the secret put in each webhook body (default: tf_test_webhook_secret)",
    )
