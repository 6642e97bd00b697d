"""Behaviour of the process itself: closed pipes, stdin, no command, TEXTFLOW_LOG."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Callable

import pytest

from tests.cli.cli_support import PHONE, TIMEOUT, Result, Server, clean_env

Run = Callable[..., Result]


# --- a closed pipe ----------------------------------------------------------------------------


@pytest.fixture
def closed_pipe() -> Iterator[int]:
    """The write end of a pipe whose reader has already left: any write gets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    yield write_end
    os.close(write_end)


def run_into(fd: int, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "textflow", *argv],
        stdin=subprocess.DEVNULL,
        stdout=fd,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(env),
        timeout=TIMEOUT,
        check=False,
    )


def test_demo_into_head_exits_0_quietly() -> None:
    """``textflow demo | head -1``, with a real pipe: the reader takes one line and leaves."""
    process = subprocess.Popen(
        [sys.executable, "-m", "textflow", "demo"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    assert process.stdout is not None
    assert process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # as head does after one line
    try:
        status = process.wait(timeout=TIMEOUT)
    finally:
        process.kill()
    err = process.stderr.read()
    process.stderr.close()
    assert first.startswith("textflow demo: ")
    assert (status, err) == (0, "")


@pytest.mark.parametrize(
    "argv",
    [("demo",), ("balance",), ("send", PHONE, "hi", "--json"), ("--help",), ()],
    ids=["demo", "balance", "send-json", "help", "no-command"],
)
def test_a_reader_gone_before_any_output_is_not_an_error(
    closed_pipe: int, server: Server, argv: tuple[str, ...]
) -> None:
    done = run_into(closed_pipe, *argv, env=server.env)
    assert (done.returncode, done.stderr) == (0, "")


def test_a_failure_keeps_its_status_when_the_reader_is_gone(
    closed_pipe: int, server: Server
) -> None:
    done = run_into(closed_pipe, "send", "12345", "hi", "--json", env=server.env)
    assert done.returncode == 2
    assert done.stderr.startswith("textflow: error: PHONE must be")
    assert "Traceback" not in done.stderr


# --- send PHONE - -----------------------------------------------------------------------------


def test_send_reads_the_text_from_stdin(run: Run, server: Server) -> None:
    result = run("send", PHONE, "-", env=server.env, stdin="Line one\nline two\n")
    assert result.status == 0, result.err
    assert [m.text for m in server.fake.messages] == ["Line one\nline two"]  # last \n dropped


@pytest.mark.parametrize("stdin", ["", "\n", "  \r\n"])
def test_send_refuses_an_empty_stdin(run: Run, server: Server, stdin: str) -> None:
    result = run("send", PHONE, "-", env=server.env, stdin=stdin)
    assert result.status == 2
    assert result.err == (
        "textflow: error: TEXT is '-', so the message is read from stdin, and stdin held no text.\n"
    )
    assert server.fake.messages == []


# --- no command -------------------------------------------------------------------------------


def test_plain_textflow_prints_the_help(run: Run) -> None:
    result = run()
    assert (result.status, result.err) == (0, "")
    assert result.out.startswith("usage: textflow ")
    assert "send-code" in result.out
    assert "exit status" in result.out
    assert result.out == run("--help").out


# --- TEXTFLOW_LOG -----------------------------------------------------------------------------


def test_an_unknown_textflow_log_warns_once(run: Run, server: Server) -> None:
    result = run("balance", env={**server.env, "TEXTFLOW_LOG": "verbose"})
    assert result.status == 0, result.err
    warnings = [line for line in result.err.splitlines() if "TEXTFLOW_LOG" in line]
    assert len(warnings) == 1, result.err
    assert "TEXTFLOW_LOG='verbose' is not a level textflow knows" in warnings[0]
    assert "info or debug" in warnings[0]


@pytest.mark.parametrize("value", ["", "info", "DEBUG"])
def test_known_or_empty_textflow_log_does_not_warn(run: Run, server: Server, value: str) -> None:
    result = run("balance", env={**server.env, "TEXTFLOW_LOG": value})
    assert result.status == 0
    assert "Warning" not in result.err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM stops the sandbox on POSIX")
def test_sandbox_serves_on_after_its_reader_left(run: Run) -> None:
    """``textflow sandbox --json | head -1``: the SMS after that still get an answer."""
    process = subprocess.Popen(
        [sys.executable, "-m", "textflow", "sandbox", "--port", "0", "--json", "-v"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        banner = json.loads(process.stdout.readline())
        process.stdout.close()  # the reader leaves after the banner
        env = {"TEXTFLOW_BASE_URL": banner["base_url"], "TEXTFLOW_API_KEY": banner["api_key"]}
        for text in ("first", "second"):  # the first print fails, the second goes nowhere
            sent = run("send", PHONE, text, env=env)
            assert sent.status == 0, sent.err
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=TIMEOUT) == 0
        err = process.stderr.read()
        assert "POST /api/send-sms" in err  # -v logs each request
        assert "Traceback" not in err
        assert "BrokenPipeError" not in err
    finally:
        process.kill()
        process.wait(timeout=TIMEOUT)
        if process.stderr is not None:
            process.stderr.close()
