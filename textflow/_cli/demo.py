"""``textflow demo``: the whole API, step by step, against a fake TextFlow on loopback.

No key and no network: the fake is served over real HTTP on 127.0.0.1 (a free
port) and a real ``TextFlowClient`` talks to it, so the demo runs the same
code path as production. Every step prints the call and what came back.
"""

from __future__ import annotations

import argparse
from typing import Any

from textflow._cli.api_commands import code_sent_line, sent_line
from textflow._cli.exit_status import EXIT_OK, EXIT_REFUSED
from textflow._cli.output import printable
from textflow._client import TextFlowClient

PHONE = "+11234567890"
SERVICE = "Acme"


class _Steps:
    """Numbered steps: a title, the Python call, and its answer."""

    def __init__(self) -> None:
        self.number = 0

    def __call__(self, title: str, call: str, *answer: Any) -> None:
        self.number += 1
        print(f"\n{self.number}. {title}")
        if call:
            print(f"   >>> {call}")
        for line in answer:
            print(f"   {line}")


def run(args: argparse.Namespace) -> int:
    """``textflow demo``: send an SMS, send a code, read it, verify it, watch the balance.

    Args:
        args: The parsed command line (global options are not used).

    Returns:
        0 if every step answered as expected (the right code valid, a wrong one invalid).
    """
    from textflow.testing import FakeTextFlow  # here: the API commands start faster

    fake = FakeTextFlow()
    step = _Steps()
    with (
        fake.serve() as base_url,
        TextFlowClient(fake.api_key, base_url=base_url, timeout=5.0, max_retries=0) as client,
    ):
        print(
            "textflow demo: the SDK against a fake TextFlow served on "
            f"{base_url}\n(nothing is really sent; no API key or network needed)\n\n"
            f'>>> client = TextFlowClient(api_key=..., base_url="{base_url}")'
        )
        before = client.get_balance().credits
        step("Check the balance", "client.get_balance().credits", repr(before))

        sent = client.send_sms(PHONE, "Hello from textflow!")
        step(
            "Send an SMS",
            f'client.send_sms("{PHONE}", "Hello from textflow!")',
            sent_line(sent, PHONE),
        )

        code_sent = client.send_verification_sms(PHONE, service_name=SERVICE, seconds=600)
        step(
            "Send a verification code",
            f'client.send_verification_sms("{PHONE}", service_name="{SERVICE}", seconds=600)',
            code_sent_line(code_sent, PHONE),
        )

        inbox = fake.messages[-1]
        code = fake.last_code(PHONE)
        step(
            "The phone receives it (read from the fake's inbox)",
            "",
            f'SMS to {inbox.phone_number}: "{printable(inbox.text)}"',  # "is:\n<code>"
        )

        wrong_code = "123456" if code != "123456" else "654321"
        wrong = client.verify_code(PHONE, wrong_code)
        step(
            "The user mistypes it: the code is invalid",
            f'client.verify_code("{PHONE}", "{wrong_code}").valid',
            f"{wrong.valid}  ({wrong.message.strip()})",
        )

        right = client.verify_code(PHONE, code)
        step(
            "The user types it right: the code is valid",
            f'client.verify_code("{PHONE}", "{code}").valid',
            f"{right.valid}  ({right.message.strip()})",
        )

        after = client.get_balance().credits
        step(
            "The balance went down",
            "client.get_balance().credits",
            f"{after!r}  ({before - after} spent on 2 SMS)",
        )
    print(
        "\nDone. Try it with your own code: 'textflow sandbox' serves this fake until Ctrl-C,"
        "\nand prints every SMS your app sends to it."
    )
    return EXIT_OK if right.valid and not wrong.valid else EXIT_REFUSED
