"""A real Ctrl-C (SIGINT) to a sync ``client.send_many(...)`` in a subprocess.

The fake holds the sends after the first ``free`` until the test lets them go, so the
signal comes with sends in flight and the dispatcher waiting for a slot. The first
Ctrl-C gives `SendManyInterrupted` with the report (those in flight finished and
counted); a rerun on the same journal sends the rest, nobody twice. A second Ctrl-C
while the run waits for the sends in flight stops the wait at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from textflow.testing import FakeTextFlow

from tests.many.many_support import CREDITS, numbers
from tests.many.test_send_many_sigint import HANG, Gate

ROOT = Path(__file__).resolve().parent.parent.parent
RECIPIENTS = 20
CONCURRENCY = 3

SCRIPT = """
import json, sys

from textflow import SendManyInterrupted, TextFlowClient

FOLDER, COUNT, CONCURRENCY = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
NUMBERS = [f"+1202555{index:04d}" for index in range(COUNT)]

with TextFlowClient() as client:
    try:
        report = client.send_many(
            NUMBERS, "Hi", journal=f"{FOLDER}/campaign.db", concurrency=CONCURRENCY
        )
    except SendManyInterrupted as exc:
        report = exc.report
        print(json.dumps({"interrupted": [report.sent, report.maybe_sent, report.skipped]}))
        sys.exit(130)
print(json.dumps({"finished": [report.sent, report.maybe_sent, report.skipped]}))
"""


def _child(tmp_path: Path, base_url: str, api_key: str) -> subprocess.Popen[str]:
    script = tmp_path / "campaign.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTFLOW_")}
    env.update(PYTHONPATH=str(ROOT), TEXTFLOW_API_KEY=api_key, TEXTFLOW_BASE_URL=base_url)
    args = [sys.executable, str(script), str(tmp_path), str(RECIPIENTS), str(CONCURRENCY)]
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("free", [0, 5])
def test_a_real_sigint_ends_in_send_many_interrupted_and_a_rerun_sends_the_rest(
    tmp_path: Path, free: int
) -> None:
    """Ctrl-C with the first sends in flight, or after ``free`` were answered."""
    gate = Gate(free=free)
    fake = FakeTextFlow(credits=CREDITS, on_message=gate)
    with fake.serve() as base_url:
        child = _child(tmp_path, base_url, fake.api_key)
        try:
            gate.wait_for(free + CONCURRENCY)  # the held sends received
            child.send_signal(signal.SIGINT)
            gate.opened.set()  # the sends in flight get their answers after the signal
            out, err = child.communicate(timeout=HANG)
        finally:
            gate.opened.set()
            child.kill()
            child.wait()
        assert child.returncode == 130, err
        first = free + CONCURRENCY
        assert json.loads(out) == {"interrupted": [first, 0, 0]}  # in flight: sent
        assert len(fake.messages) == first  # nothing started after the signal

        again = _child(tmp_path, base_url, fake.api_key)
        out, err = again.communicate(timeout=HANG)
        assert again.returncode == 0, err
        assert json.loads(out) == {"finished": [RECIPIENTS - first, 0, first]}
    delivered = sorted(m.phone_number for m in fake.messages)
    assert delivered == numbers(RECIPIENTS)  # everyone once, nobody twice


def test_a_second_sigint_stops_the_wait_for_the_sends_in_flight(tmp_path: Path) -> None:
    gate = Gate(free=0)
    fake = FakeTextFlow(credits=CREDITS, on_message=gate)
    with fake.serve() as base_url:
        child = _child(tmp_path, base_url, fake.api_key)
        try:
            gate.wait_for(CONCURRENCY)
            child.send_signal(signal.SIGINT)
            # again until it ends (the first may still be on its way in), the sends
            # still held: the run stops waiting for them
            give_up = time.monotonic() + HANG
            while child.poll() is None and time.monotonic() < give_up:
                child.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(0.1)
            ended_while_held = not gate.opened.is_set()
            _, err = child.communicate(timeout=HANG)
        finally:
            gate.opened.set()
            child.kill()
            child.wait()
    assert ended_while_held
    assert child.returncode != 0
    assert err.rstrip().endswith("KeyboardInterrupt"), err  # stopped at once, no report
    assert len(fake.messages) == CONCURRENCY
