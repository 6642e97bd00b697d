"""The grammar of the commands that call the API: one per operation that has a command.

Which operations have a command, and its name, is in the operation table
(``Operation.command`` in `textflow._operations`); here is what the command
line says about each: its help and its arguments, by the operation's name. The
command itself is the function of that name in `textflow._cli.api_commands`.
A test holds the three to the table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable, Optional

from textflow._operations import BALANCE, BULK_SMS, SEND_CODE, SEND_SMS, VERIFY_CODE


@dataclass(frozen=True)
class Grammar:
    """One API command's help, and the function that adds its arguments to its parser."""

    help: str
    description: Optional[str] = None  # the help if None
    arguments: Callable[[argparse.ArgumentParser], None] = lambda command: None


def _send_sms(command: argparse.ArgumentParser) -> None:
    command.add_argument("phone", metavar="PHONE", help="recipient, e.g. +11234567890")
    command.add_argument("text", metavar="TEXT", help="the message; '-' reads it from stdin")


def _send_code(command: argparse.ArgumentParser) -> None:
    command.add_argument("phone", metavar="PHONE", help="the number to verify")
    command.add_argument(
        "--service-name",
        metavar="NAME",
        default="",
        help='shown in the SMS: "Your verification code for NAME is: ..."',
    )
    command.add_argument(
        "--seconds",
        metavar="N",
        type=int,
        default=600,
        help="how long the code stays valid, 1 to 86400 (default: 600)",
    )


def _verify_code(command: argparse.ArgumentParser) -> None:
    command.add_argument("phone", metavar="PHONE", help="the number the code was sent to")
    command.add_argument("code", metavar="CODE", help="the code the user typed")


def _send_bulk(command: argparse.ArgumentParser) -> None:
    command.add_argument("text", metavar="TEXT", help="the message")
    command.add_argument("phones", metavar="PHONE", nargs="*", help="recipients")
    command.add_argument(
        "--file",
        metavar="FILE",
        help="read the recipients from FILE, one a line ('-' for stdin)",
    )
    command.add_argument(
        "--column",
        metavar="NAME",
        help="FILE is a CSV file with a header row: the numbers are in column NAME",
    )


#: Each API command's grammar, by the name of its operation.
API_GRAMMAR: dict[str, Grammar] = {
    SEND_SMS.name: Grammar("send one SMS", arguments=_send_sms),
    SEND_CODE.name: Grammar(
        "send a verification code by SMS",
        "Send a verification code by SMS. The code is not printed: it is for the phone's owner.",
        _send_code,
    ),
    VERIFY_CODE.name: Grammar(
        "check a verification code (exit status 1 if it is invalid)", arguments=_verify_code
    ),
    BULK_SMS.name: Grammar(
        "send the same SMS to many numbers",
        "Send the same SMS to many numbers, given as arguments or read from a file: "
        "one number a line (blank lines and # comments are ignored), or with --column "
        "a CSV file with a header row.",
        _send_bulk,
    ),
    BALANCE.name: Grammar("show the account's credits"),
}
