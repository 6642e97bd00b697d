"""``textflow send-many`` tells the truth: duplicates, rate and ETA, cost, and a stop at 402.

The progress meter runs on a fake clock: a resumed campaign's progress lines are
checked line by line, with no wall-clock time involved.
"""

from __future__ import annotations

import argparse
import io
import re
import shlex
from decimal import Decimal
from pathlib import Path
from typing import Callable

import pytest

from textflow._cli.send_many_progress import Meter
from textflow._report import REFUSED, SENT, SKIPPED, Outcome, Progress
from textflow.testing import PRICE_PER_SEGMENT

from tests.cli.cli_support import Result, Server

Run = Callable[..., Result]


def numbers(path: Path, rows: list[str]) -> Path:
    path.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


# --- duplicates ---------------------------------------------------------------------------


def test_the_same_number_and_text_twice_is_one_message_and_said_so(
    tmp_path: Path, cli: Run, server: Server
) -> None:
    path = numbers(tmp_path / "n.txt", ["+12025550001", "+1 202 555 0001", "+12025550002"])
    dry = cli("send-many", "--file", str(path), "--text", "Hi", "--dry-run")
    assert "Recipients: 2 (0 with a problem); segments: 2 in all" in dry.out
    assert "1 duplicate row skipped: the same number and text as an earlier row (line 2)" in dry.out
    assert "journal" not in dry.out

    sent = cli("send-many", "--file", str(path), "--text", "Hi", *server.options)
    assert sent.status == 0, sent.err
    assert "Sent 2, refused 0, maybe sent 0, skipped 0 (already in the journal)." in sent.out
    assert "1 duplicate row skipped" in sent.out
    assert "earlier run" not in sent.out
    assert sorted(m.phone_number for m in server.fake.messages) == ["+12025550001", "+12025550002"]


def test_the_same_number_with_another_text_is_not_a_duplicate(tmp_path: Path, cli: Run) -> None:
    path = tmp_path / "c.csv"
    path.write_text("phone,name\n+12025550001,Ana\n+12025550001,Bo\n", encoding="utf-8")
    dry = cli("send-many", "--file", str(path), "--template", "Hi {name}", "--dry-run")
    assert "Recipients: 2" in dry.out
    assert "duplicate" not in dry.out


# --- progress on a fake clock -------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Campaign:
    """Drives a ``Meter`` as send_many would: one ``Progress`` per finished recipient."""

    def __init__(self, total: int) -> None:
        self.clock = Clock()
        self.out = io.StringIO()
        self.meter = Meter(total, self.out, self.clock)
        self.tally = {SENT: 0, REFUSED: 0, "maybe_sent": 0, SKIPPED: 0}
        self.done = 0

    def finish(self, statuses: list[str], step: float) -> None:
        """One recipient per status, the clock moving ``step`` seconds before each."""
        for status in statuses:
            self.clock.now += step
            self.tally[status] += 1
            self.done += 1
            self.meter(
                Progress(
                    done=self.done,
                    sent=self.tally[SENT],
                    refused=self.tally[REFUSED],
                    maybe_sent=self.tally["maybe_sent"],
                    skipped=self.tally[SKIPPED],
                    remaining=None,
                    elapsed=self.clock.now,
                    outcome=Outcome(self.done - 1, "+12025550001", status),
                )
            )

    def done_shown(self) -> list[int]:
        found = (re.search(r"\] (\d+)/", line) for line in lines(self.out))
        return [int(match.group(1)) for match in found if match]


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_a_resumed_campaign_shows_this_runs_rate_and_an_honest_eta() -> None:
    """6,000 of 6,100 rows were sent by an earlier run; the last 100 go at 4 a second."""
    run = Campaign(6100)
    run.finish([SKIPPED] * 6000, 0.0001)  # the journal skips them in 0.6 s
    run.finish([SENT] * 100, 0.25)
    shown = lines(run.out)
    assert all(line.startswith("progress: ") for line in shown)
    # while only skipped rows have finished there is no rate to show, not 6000/s
    assert "?/s ETA ?  sent 0 refused 0 maybe 0 skipped 5490" in shown[9]
    # 10 s into the sends: 40 sent, 60 left at about 4/s
    assert "6040/6100 3.8/s ETA 16s  sent 40 refused 0 maybe 0 skipped 6000" in shown[10]
    assert "6080/6100 3.9/s ETA 6s  sent 80" in shown[11]
    assert shown[12] == (
        "progress: [####################] 6100/6100 done  sent 100 refused 0 maybe 0 skipped 6000"
    )


def test_the_rate_follows_a_recent_window_not_the_whole_run() -> None:
    run = Campaign(1000)
    run.finish([SENT] * 100, 0.01)  # 100/s for a second
    run.finish([SENT] * 100, 1.0)  # then 1/s for 100 s
    assert " 1.0/s ETA 13m20s " in lines(run.out)[-1]  # 800 left at 1/s


def test_plain_progress_every_ten_seconds_or_every_tenth() -> None:
    fast = Campaign(1000)
    fast.finish([SENT] * 1000, 0.001)  # 1 s in all: the tenths decide
    assert fast.done_shown() == [1, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    slow = Campaign(1000)
    slow.finish([SENT] * 60, 1.0)  # 60 s for 6 %: every 10 s
    assert slow.done_shown() == [1, 11, 21, 31, 41, 51]


# --- cost -----------------------------------------------------------------------------------


def test_a_cost_estimate_from_price_against_the_balance_and_max_cost_refuses(
    tmp_path: Path, cli: Run, server: Server
) -> None:
    path = numbers(tmp_path / "n.txt", [f"+1202555{i:04d}" for i in range(4)])
    text = "x" * 200  # 2 segments each: 8 in all
    argv = ["send-many", "--file", str(path), "--text", text, *server.options]
    dry = cli(*argv, "--price", "0.15", "--dry-run")
    assert "Cost estimate: 8 segments x 0.15 (per segment, from --price) = 1.2 credits." in dry.out

    refused = cli(*argv, "--price", "0.15", "--max-cost", "1")
    assert refused.status == 1
    assert "not started: the estimated cost, 1.2 credits, is above --max-cost 1." in refused.err
    assert server.fake.messages == []

    server.fake.balance = Decimal("1")
    ran = cli(*argv, "--price", "0.15", "--max-cost", "2")
    assert "= 1.2 credits; balance 1." in ran.err
    assert "Warning: the balance pays for about 6 of 8 segments" in ran.err


def test_without_price_the_estimate_is_the_median_of_this_journals_sends(
    tmp_path: Path, cli: Run, server: Server
) -> None:
    first = numbers(tmp_path / "n.txt", ["+12025550001", "+12025550002"])
    argv = ["send-many", "--file", str(first), "--text", "x" * 200, *server.options]
    unknown = cli(*argv, "--dry-run")
    assert "the price of a segment is unknown (give --price" in unknown.out
    assert cli(*argv, "--max-cost", "5").status == 1  # no price known: refuse, say why
    assert cli(*argv).status == 0
    numbers(first, ["+12025550001", "+12025550002", "+12025550003"])
    again = cli(*argv, "--dry-run")
    per_segment = format(PRICE_PER_SEGMENT.normalize(), "f")
    assert (
        f"Cost estimate: 6 segments x {per_segment} (per segment, from the median of "
        "2 earlier sends in this journal) = 0.9 credits." in again.out
    )


# --- stopped by 402 ---------------------------------------------------------------------------


def test_stopped_by_402_says_who_was_never_tried_and_the_command_that_resumes(
    tmp_path: Path, cli: Run, server: Server
) -> None:
    path = numbers(tmp_path / "n.txt", [f"+1202555{i:04d}" for i in range(10)])
    server.fake.balance = 3 * PRICE_PER_SEGMENT  # three one-segment texts, of ten
    argv = ["send-many", "--file", str(path), "--text", "Sale", "--concurrency", "1"]
    stopped = cli(*argv, *server.options)
    assert stopped.status == 1
    assert "Sent 3, refused 1," in stopped.out  # the fourth was refused with 402
    assert "credits ran out (402): 6 of 10 recipients were never tried." in stopped.err
    assert "Nobody got two messages: the journal holds everyone sent." in stopped.err
    match = re.search(r"Top up, then resume with: (.+)$", stopped.err, re.MULTILINE)
    assert match is not None
    assert server.fake.api_key not in stopped.err + stopped.out  # never the key
    words = shlex.split(match.group(1))
    assert words[0] == "textflow"
    assert words[1:] == [*argv, "--base-url", server.base_url, "--api-key", "$TEXTFLOW_API_KEY"]
    words[-1] = server.fake.api_key  # what the shell does with $TEXTFLOW_API_KEY

    server.fake.balance = Decimal(100)
    resumed = cli(*words[1:])
    assert resumed.status == 0, resumed.err
    assert "Sent 7, refused 0, maybe sent 0, skipped 3" in resumed.out
    sent_to = [m.phone_number for m in server.fake.messages]
    assert sorted(sent_to) == sorted(set(sent_to))  # nobody twice
    assert len(sent_to) == 10


@pytest.mark.parametrize(
    "journal_words",
    [
        ["--journal", "postgresql://app:s3cret-pw@db:5432/sms?campaign=spring"],
        ["--journal=redis://:s3cret-pw@cache:6379/0?campaign=spring"],
    ],
)
def test_the_resume_command_never_prints_a_journal_password(journal_words: list[str]) -> None:
    from textflow._cli.send_many import resume_command

    words = ["send-many", "--file", "people.csv", "--text", "Hi", *journal_words]
    shown = resume_command(argparse.Namespace(argv=words))
    assert "s3cret-pw" not in shown
    assert ":***@" in shown
    assert shown.endswith("# put the journal's password back in place of ***")
