# ruff: noqa: RUF001  (typographic characters are what the UCS-2 warning is about)
"""``textflow send-many``: dry run, real runs against a served fake, resuming, progress, exits."""

from __future__ import annotations

import csv
import io
import os
import pty
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from textflow import SQLiteJournal
from textflow.testing import FakeTextFlow

from tests.cli.cli_support import TIMEOUT, Result, Server, clean_env
from tests.many.stores_support import RedisServer, campaign

Run = Callable[..., Result]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_report(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def contacts(tmp_path: Path, count: int = 3) -> Path:
    rows = [{"phone": f"+1202555{i:04d}", "name": f"N{i}"} for i in range(count)]
    return write_csv(tmp_path / "contacts.csv", rows)


def test_dry_run_shows_counts_segments_warnings_and_sends_nothing(tmp_path: Path, cli: Run) -> None:
    rows = [
        {"phone": "+12025550001", "name": "Ana"},
        {"phone": "+12025550002", "name": "Zoë"},
        {"phone": "12345", "name": "Bad"},
        {"phone": "+12025550004", "name": "Dan"},
        {"phone": "+12025550005", "name": "Eve"},
    ]
    path = write_csv(tmp_path / "c.csv", rows)
    result = cli("send-many", "--file", str(path), "--template", "Hi {name} – bye", "--dry-run")
    assert result.status == 0, result.err
    out = result.out
    assert "Dry run: nothing is sent." in out
    assert "Recipients: 5 (1 with a problem); segments: 4 in all" in out
    assert "line 4:" in out
    assert "UCS-2" in out
    assert "'–' -> '-'" in out
    assert "'ë'" in out  # no replacement offered for a letter
    assert "  +12025550001: Hi Ana – bye" in out
    assert "+12025550005" not in out  # only the first three messages
    assert not (tmp_path / "c.csv.journal.db").exists()  # no key needed, nothing written


def test_one_number_a_line(tmp_path: Path, cli: Run) -> None:
    path = tmp_path / "numbers.txt"
    path.write_text("+12025550001\n\n# a comment\n+12025550002  # the boss\n", encoding="utf-8")
    result = cli("send-many", "--file", str(path), "--text", "Hello", "--dry-run")
    assert result.status == 0, result.err
    assert "Recipients: 2 (0 with a problem); segments: 2 in all" in result.out


def test_a_run_then_a_rerun_resumes_from_the_journal(
    tmp_path: Path, cli: Run, server: Server
) -> None:
    path = contacts(tmp_path, 5)
    server.fake.fail_next("send_sms", status=502)  # the first: no clear answer
    argv = ["send-many", "--file", str(path), "--template", "Hi {name}", *server.options]
    first = cli(*argv, "--concurrency", "1", "--report", str(tmp_path / "r.csv"))
    assert first.status == 3, first.err  # some may or may not have been sent
    assert "Sent 4, refused 0, maybe sent 1, skipped 0" in first.out
    assert "--resend-maybe-sent" in first.out
    rows = read_report(tmp_path / "r.csv")
    assert sorted((r["line"], r["status"]) for r in rows) == [
        ("2", "maybe_sent"),
        ("3", "sent"),
        ("4", "sent"),
        ("5", "sent"),
        ("6", "sent"),
    ]
    assert "progress:" in first.err
    assert "\x1b" not in first.err  # not a terminal: plain lines, no escapes

    second = cli(*argv)
    assert second.status == 0, second.err
    assert "Sent 0, refused 0, maybe sent 0, skipped 5" in second.out
    assert len(server.fake.messages) == 4  # nobody twice

    third = cli(*argv, "--resend-maybe-sent")
    assert "Sent 1, refused 0, maybe sent 0, skipped 4" in third.out
    assert sorted(m.text for m in server.fake.messages) == [f"Hi N{i}" for i in range(5)]
    with SQLiteJournal(tmp_path / "contacts.csv.journal.db") as journal:
        assert journal.counts() == {"sent": 5}


def test_no_journal_and_a_named_journal(tmp_path: Path, cli: Run, server: Server) -> None:
    path = contacts(tmp_path, 2)
    argv = ["send-many", "--file", str(path), "--text", "Hi", *server.options]
    assert cli(*argv, "--no-journal").status == 0
    assert not (tmp_path / "contacts.csv.journal.db").exists()
    assert cli(*argv, "--journal", str(tmp_path / "mine.db"), "--json").json() == {
        "sent": 2,
        "refused": 0,
        "maybe_sent": 0,
        "skipped": 0,
        "duplicates": 0,
        "not_tried": 0,
        "journal": str(tmp_path / "mine.db"),
    }
    assert len(server.fake.messages) == 4  # without a journal, no memory of the first run


def test_refused_numbers_exit_1_and_do_not_stop(tmp_path: Path, cli: Run, server: Server) -> None:
    path = tmp_path / "n.txt"
    path.write_text("+15555550100\n+12025550001\n", encoding="utf-8")
    result = cli("send-many", "--file", str(path), "--text", "Hi", *server.options)
    assert result.status == 1
    assert "Sent 1, refused 1" in result.out


def test_running_out_of_credits_stops_with_a_summary(
    tmp_path: Path, cli: Run, server: Server
) -> None:
    server.fake.balance = "0.45"  # three SMS
    path = contacts(tmp_path, 10)
    result = cli(
        "send-many", "--file", str(path), "--text", "Hi", "--concurrency", "1", *server.options
    )
    assert result.status == 1
    assert "Sent 3, refused 1" in result.out
    assert "stopped: TextFlow API error 402" in result.err


def test_an_empty_account_is_refused_before_sending(
    tmp_path: Path, cli: Run, server: Server
) -> None:
    server.fake.balance = 0
    result = cli("send-many", "--file", str(contacts(tmp_path)), "--text", "Hi", *server.options)
    assert result.status == 1
    assert "no credits" in result.err
    assert server.fake.messages == []


def test_many_recipients_need_yes_when_no_one_can_be_asked(
    tmp_path: Path, run: Run, server: Server
) -> None:
    path = contacts(tmp_path, 25)
    argv = ["send-many", "--file", str(path), "--text", "Hi", *server.options]
    refused = run(*argv)
    assert refused.status == 2
    assert "--yes" in refused.err
    assert server.fake.messages == []
    assert run(*argv, "--yes").status == 0
    assert len(server.fake.messages) == 25


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--template", "Hi {nme}"], "{nme}"),
        (["--template", "Hi {0}"], "column names"),
        (["--template", "Hi {"], "not a valid template"),
        (["--text", "Hi", "--column", "mobile"], "no column 'mobile'"),
        (["--text", "   "], "--text must not be empty"),
        (["--text", "Hi", "--concurrency", "0"], "--concurrency"),
        (["--text", "Hi", "--rate", "fast"], "not a rate"),
        (["--text", "Hi", "--rate", "0/s"], "not a rate"),
        (["--text", "Hi", "--template", "Hi"], "not allowed with"),
        (["--text", "Hi", "--journal", "j.db", "--no-journal"], "not allowed with"),
    ],
)
def test_bad_usage_exits_2_before_sending(
    tmp_path: Path, cli: Run, extra: list[str], message: str
) -> None:
    result = cli("send-many", "--file", str(contacts(tmp_path)), *extra, "--dry-run")
    assert result.status == 2
    assert message in result.err


def test_bad_files(tmp_path: Path, cli: Run) -> None:
    missing = cli("send-many", "--file", str(tmp_path / "nope.csv"), "--text", "Hi")
    assert (missing.status, "cannot read" in missing.err) == (2, True)
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    empty = cli("send-many", "--file", str(tmp_path / "empty.txt"), "--text", "Hi")
    assert (empty.status, "no recipients" in empty.err) == (2, True)
    (tmp_path / "latin1.txt").write_bytes(b"phone\xe9\n")
    binary = cli("send-many", "--file", str(tmp_path / "latin1.txt"), "--text", "Hi")
    assert (binary.status, "not UTF-8" in binary.err) == (2, True)
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("+12025550001\n", encoding="utf-8")
    no_header = cli("send-many", "--file", str(numbers), "--template", "Hi {name}")
    assert (no_header.status, "header row" in no_header.err) == (2, True)
    headers = write_csv(tmp_path / "h.csv", [{"who": "+12025550001"}])
    no_phone = cli("send-many", "--file", str(headers), "--text", "Hi")
    assert (no_phone.status, "no phone column" in no_phone.err) == (2, True)


def test_rates(tmp_path: Path, cli: Run) -> None:
    for rate in ("5", "5/s", "300/min", "7200/h"):
        result = cli(
            "send-many",
            "--file",
            str(contacts(tmp_path)),
            "--text",
            "Hi",
            "--rate",
            rate,
            "--dry-run",
        )
        assert result.status == 0, (rate, result.err)


def test_a_progress_bar_on_a_terminal(tmp_path: Path, server: Server) -> None:
    path = contacts(tmp_path, 30)
    primary, secondary = pty.openpty()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "textflow",
                "send-many",
                "--file",
                str(path),
                "--text",
                "Hi",
                "--yes",
                "--rate",
                "60/s",
                *server.options,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=secondary,
            env=clean_env(),
            timeout=TIMEOUT,
            check=False,
        )
        os.close(secondary)
        secondary = -1
        err = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            err += chunk
    finally:
        if secondary != -1:
            os.close(secondary)
        os.close(primary)
    assert done.returncode == 0, err
    text = err.decode()
    assert "\r\x1b[2K[" in text  # the bar is redrawn in place
    assert "30/30" in text
    assert "sent 30" in text
    assert "Sent 30, refused 0, maybe sent 0, skipped 0" in done.stdout.decode()


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "textflow", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(env),
    )


def _wait_for(fake: FakeTextFlow, count: int, child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while len(fake.messages) < count and time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        time.sleep(0.01)
    assert len(fake.messages) == count


def test_kill_9_mid_run_then_rerun(tmp_path: Path, server: Server) -> None:
    path = contacts(tmp_path, 8)
    for _ in range(3):
        server.fake.fail_next("send_sms", delay=0.001)
    server.fake.fail_next("send_sms", delay=60)  # processed, never answered in time: in flight
    argv = ["send-many", "--file", str(path), "--text", "Hi", "--concurrency", "1"]
    child = _spawn(argv, server.env)
    try:
        _wait_for(server.fake, 4, child)
    finally:
        child.kill()
        child.communicate(timeout=TIMEOUT)
    assert child.returncode == -signal.SIGKILL
    rerun = subprocess.run(
        [sys.executable, "-m", "textflow", *argv, "--report", str(tmp_path / "r.csv")],
        capture_output=True,
        text=True,
        env=clean_env(server.env),
        timeout=TIMEOUT,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "Sent 4, refused 0, maybe sent 0, skipped 4" in rerun.stdout
    rows = read_report(tmp_path / "r.csv")
    assert sorted(r["detail"] for r in rows if r["status"] == "skipped") == [
        "journal says maybe_sent",
        "journal says sent",
        "journal says sent",
        "journal says sent",
    ]
    delivered = [m.phone_number for m in server.fake.messages]
    assert sorted(delivered) == [f"+1202555{i:04d}" for i in range(8)]  # each at most once


def test_ctrl_c_finishes_in_flight_and_says_how_to_resume(tmp_path: Path, server: Server) -> None:
    path = contacts(tmp_path, 8)
    server.fake.fail_next("send_sms", delay=0.001)
    server.fake.fail_next("send_sms", delay=1.0)  # in flight when Ctrl-C comes
    argv = ["send-many", "--file", str(path), "--text", "Hi", "--concurrency", "1"]
    child = _spawn(argv, server.env)
    try:
        _wait_for(server.fake, 2, child)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=TIMEOUT)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "Sent 2, refused 0, maybe sent 0" in out  # the one in flight finished
    with SQLiteJournal(tmp_path / "contacts.csv.journal.db") as journal:
        assert journal.counts() == {"sent": 2}
    match = re.search(r"Resume with: (.+)$", err, re.MULTILINE)
    assert match is not None, err
    words = shlex.split(match.group(1))
    assert words == ["textflow", *argv]
    resumed = subprocess.run(
        [sys.executable, "-m", "textflow", *words[1:]],
        capture_output=True,
        text=True,
        env=clean_env(server.env),
        timeout=TIMEOUT,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "Sent 6, refused 0, maybe sent 0, skipped 2" in resumed.stdout
    delivered = [m.phone_number for m in server.fake.messages]
    assert sorted(delivered) == [f"+1202555{i:04d}" for i in range(8)]  # each once


class Typed(io.StringIO):
    """A terminal's stdin with an answer typed into it."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "sent"), [("y\n", 25), ("n\n", 0), ("\n", 0)])
def test_a_terminal_is_asked_before_sending_to_many(
    tmp_path: Path,
    cli: Run,
    server: Server,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    sent: int,
) -> None:
    monkeypatch.setattr(sys, "stdin", Typed(answer))
    path = contacts(tmp_path, 25)
    result = cli("send-many", "--file", str(path), "--text", "Hi", *server.options)
    assert "Send 25 SMS (25 segments) now? [y/N]" in result.err
    assert len(server.fake.messages) == sent
    assert result.status == (0 if sent else 2)


def test_blank_rows_are_skipped_and_problems_are_capped(tmp_path: Path, cli: Run) -> None:
    lines = ["phone,name", "+12025550001,Ana", ",", *[f"bad{i},X" for i in range(8)]]
    path = tmp_path / "c.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("send-many", "--file", str(path), "--text", "Hi", "--dry-run")
    assert "Recipients: 9 (8 with a problem)" in result.out
    assert result.out.count("problem: line") == 5  # the first five, not a wall of them


def test_an_unwritable_report(tmp_path: Path, cli: Run, server: Server) -> None:
    report = tmp_path / "missing-folder" / "r.csv"
    argv = ["--file", str(contacts(tmp_path)), "--text", "Hi", "--report", str(report)]
    result = cli("send-many", *argv, *server.options)
    assert result.status == 2
    assert "cannot write" in result.err
    assert server.fake.messages == []


def test_a_journal_lost_mid_run_prints_the_summary_and_how_to_resume(
    tmp_path: Path, cli: Run
) -> None:
    """Redis goes away after the third send: the run stops with what it did so far and the
    command that resumes it; once Redis is back, that command sends nobody twice."""
    redis = RedisServer(str(tmp_path), persistent=True)
    redis.start()
    handled = []

    def kill_after_three(_: object) -> None:
        handled.append(1)
        if len(handled) == 3:
            redis.kill()  # before this send's answer: its record fails

    fake = FakeTextFlow(on_message=kill_after_three)
    try:
        with fake.serve("127.0.0.1", 0) as base_url:
            server = Server(fake, base_url)
            journal = f"{redis.url}?campaign={campaign()}"
            argv = ["send-many", "--file", str(contacts(tmp_path, 8)), "--text", "Hi"]
            argv += ["--journal", journal, "--concurrency", "1", *server.options]
            first = cli(*argv)
            assert first.status == 3, first.err  # the third may have gone out
            assert "Sent 2, refused 0, maybe sent 1, skipped 0" in first.out
            assert "textflow: error: The journal" in first.err
            assert "Once the journal works again, resume with: textflow send-many" in first.err
            assert fake.api_key not in first.err
            redis.start()
            second = cli(*argv)
            assert second.status == 0, second.err
            assert "Sent 5, refused 0, maybe sent 0, skipped 3" in second.out
        delivered = [m.phone_number for m in fake.messages]
        assert sorted(delivered) == sorted(set(delivered))  # nobody twice
        assert len(delivered) == 8
    finally:
        redis.stop()
