"""The commands that call the API: one per operation with a command, named as the operation.

``textflow send`` runs ``send_sms`` here, ``textflow balance`` ``get_balance``:
the operation table (`textflow._operations`) says which operations have a
command and its name; `textflow._cli.api_arguments` holds their arguments.

Each builds a `textflow.TextFlowClient` from the global options, makes
one call and prints the answer: a short sentence (verification codes never
shown), or with ``--json`` the API's answer in full as one line of JSON.
Errors are raised and turned into a line on stderr and an exit status by
`textflow._cli.command_line.main`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from textflow import _validation as check
from textflow._cli import inputs
from textflow._cli.exit_status import EXIT_OK, EXIT_REFUSED
from textflow._cli.output import printable, result_json
from textflow._cli.parser import UsageError
from textflow._client import TextFlowClient
from textflow.models import Result, SendMessageResult, VerifyPhoneResult


def make_client(args: argparse.Namespace) -> TextFlowClient:
    """The client the global options describe (key and URL default to the environment).

    Args:
        args: The parsed command line.

    Returns:
        A client; close it when done.

    Raises:
        ConfigurationError: No API key, or an unusable base URL.
    """
    options: dict[str, Any] = {"api_key": args.api_key, "base_url": args.base_url}
    if args.timeout is not None:
        options["timeout"] = args.timeout
    return TextFlowClient(**options)


def sent_line(result: SendMessageResult, phone: str) -> str:
    """``Sent to +11234567890 (United States), price 0.15``: a ``send_sms`` answer in words.

    Args:
        result: The answer.
        phone: The number it was sent to (used if the answer has no ``data``).

    Returns:
        One line.
    """
    if result.data is None:
        return f"Sent to {phone}: {result.message}"
    data = result.data
    return f"Sent to {data.to} ({data.country_code}), price {data.price}"


def code_sent_line(result: VerifyPhoneResult, phone: str) -> str:
    """``Verification code sent to ..., valid until ... UTC``, without the code.

    Args:
        result: The ``send_verification_sms`` answer.
        phone: The number it was sent to.

    Returns:
        One line.
    """
    line = f"Verification code sent to {phone}"
    if result.data is not None:
        expires_at = result.data.expires_at
        if expires_at is None:  # sent, but with an expiry no clock can show
            line += f" (TextFlow gave an expiry out of range: {result.data.expires})"
        else:
            line += f", valid until {expires_at:%Y-%m-%d %H:%M:%S} UTC"
    return line


def _show(args: argparse.Namespace, result: Result, line: str) -> None:
    print(result_json(result) if args.json else printable(line), flush=True)


def send_sms(args: argparse.Namespace) -> int:
    """``textflow send PHONE TEXT``: send one SMS (``-`` as TEXT: read it from stdin).

    Args:
        args: The parsed command line (``phone``, ``text``).

    Returns:
        0 once the API accepted the SMS.
    """
    phone, text = inputs.phone(args.phone, "PHONE"), inputs.message(args.text, "TEXT")
    with make_client(args) as client:
        result = client.send_sms(phone, text)
    _show(args, result, sent_line(result, phone))
    return EXIT_OK


def send_verification_sms(args: argparse.Namespace) -> int:
    """``textflow send-code PHONE``: send a verification code (which is not printed).

    Args:
        args: The parsed command line (``phone``, ``service_name``, ``seconds``).

    Returns:
        0 once the API sent the code.
    """
    phone = inputs.phone(args.phone, "PHONE")
    service_name, seconds = check.service_name(args.service_name), check.seconds(args.seconds)
    with make_client(args) as client:
        result = client.send_verification_sms(phone, service_name, seconds)
    _show(args, result, code_sent_line(result, phone))
    return EXIT_OK


def verify_code(args: argparse.Namespace) -> int:
    """``textflow verify-code PHONE CODE``: check a code; an invalid code is exit status 1.

    Args:
        args: The parsed command line (``phone``, ``code``).

    Returns:
        0 if the code is valid, 1 if it is wrong or expired.
    """
    phone, code = inputs.phone(args.phone, "PHONE"), check.code(args.code)
    with make_client(args) as client:
        result = client.verify_code(phone, code)
    if result.valid:
        _show(args, result, f"Valid: the code for {phone} is correct.")
        return EXIT_OK
    # TextFlow's verdicts end in a space ("The code is invalid. "): not worth printing.
    _show(args, result, f"Invalid: {result.message.strip() or 'the code is wrong or expired.'}")
    return EXIT_REFUSED


def send_bulk_sms(args: argparse.Namespace) -> int:
    """``textflow bulk TEXT PHONE...`` or ``textflow bulk TEXT --file FILE [--column NAME]``.

    Args:
        args: The parsed command line (``text``, ``phones``, ``file``, ``column``).

    Returns:
        0 once the API accepted the bulk job.

    Raises:
        UsageError: No numbers, both numbers and ``--file``, or an unreadable file.
        InputValidationError: A bad number or text.
    """
    text = check.text(args.text, "TEXT")
    if args.file is not None and args.phones:
        raise UsageError("give the phone numbers as arguments or with --file, not both.")
    if args.column is not None and args.file is None:
        raise UsageError("--column names a column of the --file CSV: give --file too.")
    if args.file is not None:
        numbers = inputs.numbers(args.file, args.column, sys.stdin)
    elif args.phones:
        numbers = [inputs.phone(phone, "PHONE") for phone in args.phones]
    else:
        raise UsageError("give at least one PHONE, or --file FILE ('-' for stdin).")
    numbers = list(dict.fromkeys(numbers))
    with make_client(args) as client:
        result = client.send_bulk_sms(numbers, text)
    count = f"{len(numbers)} number{'s' if len(numbers) != 1 else ''}"
    _show(args, result, f"Bulk SMS to {count} accepted: {result.message}")
    return EXIT_OK


def get_balance(args: argparse.Namespace) -> int:
    """``textflow balance``: print the account's credits and prepaid packages.

    Args:
        args: The parsed command line.

    Returns:
        0.
    """
    with make_client(args) as client:
        result = client.get_balance()
    line = f"Balance: {result.credits} credits"
    if result.packages:
        line += "; packages: " + ", ".join(f"{k} {v}" for k, v in result.packages.items())
    _show(args, result, line)
    return EXIT_OK
