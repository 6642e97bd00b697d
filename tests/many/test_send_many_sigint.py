"""A real Ctrl-C (SIGINT) to ``asyncio.run(client.send_many(...))`` in a subprocess.

Python 3.11+ ``asyncio.run`` cancels the main task on SIGINT (3.9 and 3.10 raise
KeyboardInterrupt wherever the loop is): either way the user got a bare
cancellation or KeyboardInterrupt, not `SendManyInterrupted` with the report. The
fake holds the third and later sends until the test lets them go, so the signal
comes while two sends are in flight; a rerun on the same journal sends the rest.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from textflow.testing import FakeMessage, FakeTextFlow

from tests.many.many_support import CREDITS, numbers

ROOT = Path(__file__).resolve().parent.parent.parent
HANG = 60.0  # a guard against a hang: 20x what the run takes on a slow machine
RECIPIENTS = 20

SCRIPT = """
import asyncio, json, sys

from textflow import AsyncTextFlowClient, SendManyInterrupted

FOLDER, COUNT, CAMPAIGNS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
NUMBERS = [f"+1202555{index:04d}" for index in range(COUNT)]


def totals(report):
    return [report.sent, report.maybe_sent, report.skipped]


async def one(client, index):
    numbers = NUMBERS[index::CAMPAIGNS]
    journal = f"{FOLDER}/campaign-{index}.db"
    return await client.send_many(numbers, "Hi", journal=journal, concurrency=2)


async def caught(client, index):
    # a task must not let a KeyboardInterrupt (SendManyInterrupted is one) out:
    # asyncio stops the whole loop for it
    try:
        return {"finished": totals(await one(client, index))}
    except SendManyInterrupted as exc:
        return {"interrupted": totals(exc.report)}


async def main():
    async with AsyncTextFlowClient() as client:
        if CAMPAIGNS == 1:  # what asyncio.run(...) itself raises
            return [{"finished": totals(await one(client, 0))}]
        return await asyncio.gather(*(caught(client, i) for i in range(CAMPAIGNS)))


try:
    found = asyncio.run(main())
except SendManyInterrupted as exc:
    print(json.dumps([{"interrupted": totals(exc.report)}]))
    sys.exit(130)
print(json.dumps(found))
sys.exit(130 if any("interrupted" in one for one in found) else 0)
"""


class Gate:
    """Counts the sends the fake received; holds those after the first ``free``."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.received = 0
        self.opened = threading.Event()
        self.changed = threading.Condition()

    def __call__(self, message: FakeMessage) -> None:
        with self.changed:
            self.received += 1
            held = self.received > self.free
            self.changed.notify_all()
        if held:
            self.opened.wait(HANG)

    def wait_for(self, count: int) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.received >= count, timeout=HANG):
                pytest.fail(f"the fake received {self.received} sends, not {count}")


def _child(tmp_path: Path, base_url: str, api_key: str, campaigns: int) -> subprocess.Popen[str]:
    script = tmp_path / "campaign.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTFLOW_")}
    env.update(PYTHONPATH=str(ROOT), TEXTFLOW_API_KEY=api_key, TEXTFLOW_BASE_URL=base_url)
    args = [sys.executable, str(script), str(tmp_path), str(RECIPIENTS), str(campaigns)]
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("campaigns", [1, 2])
def test_a_real_sigint_ends_in_send_many_interrupted_and_a_rerun_sends_the_rest(
    tmp_path: Path, campaigns: int
) -> None:
    """One campaign (``asyncio.run`` raises it), or two at once in one loop (each does)."""
    gate = Gate(free=0)
    in_flight = 2 * campaigns  # concurrency 2 each
    fake = FakeTextFlow(credits=CREDITS, on_message=gate)
    with fake.serve() as base_url:
        child = _child(tmp_path, base_url, fake.api_key, campaigns)
        try:
            gate.wait_for(in_flight)  # every campaign's sends received and held
            child.send_signal(signal.SIGINT)
            gate.opened.set()  # the sends in flight get their answers after the signal
            out, err = child.communicate(timeout=HANG)
        finally:
            gate.opened.set()
            child.kill()
            child.wait()
        assert child.returncode == 130, err
        assert json.loads(out) == [{"interrupted": [2, 0, 0]}] * campaigns  # in flight: sent
        assert len(fake.messages) == in_flight  # nothing started after the signal

        again = _child(tmp_path, base_url, fake.api_key, campaigns)
        out, err = again.communicate(timeout=HANG)
        assert again.returncode == 0, err
        share = RECIPIENTS // campaigns
        assert json.loads(out) == [{"finished": [share - 2, 0, 2]}] * campaigns
    delivered = sorted(m.phone_number for m in fake.messages)
    assert delivered == numbers(RECIPIENTS)  # everyone once, nobody twice
