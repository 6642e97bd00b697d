"""``textflow sandbox``: in process (stopped by a fake Ctrl-C) and as a real subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
from collections.abc import Iterator
from typing import Callable

import httpx
import pytest

import textflow
from textflow import TextFlowClient
from textflow._cli import sandbox
from textflow.testing import DEFAULT_API_KEY, FakeEvent, FakeMessage, FakeTextFlow

from tests.cli.cli_support import PHONE, Result, Running

Cli = Callable[..., Result]
Run = Callable[..., Result]
Spawn = Callable[..., Running]

BANNER = r"^TextFlow sandbox listening on (http://127\.0\.0\.1:\d+/api)$"
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


@pytest.fixture
def ctrl_c_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox's idle wait raises KeyboardInterrupt at once: it prints its banner and stops."""

    def interrupt() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sandbox, "wait_forever", interrupt)


# --- in process ---------------------------------------------------------------------------


def test_banner_says_how_to_point_the_sdk_at_it(cli: Cli, ctrl_c_when_idle: None) -> None:
    result = cli("sandbox", "--port", "0")
    assert result.status == 0
    lines = result.out.splitlines()
    url = lines[0].rsplit(" ", 1)[1]
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/api")
    assert f"  export TEXTFLOW_BASE_URL={url}" in lines
    assert f"  export TEXTFLOW_API_KEY={DEFAULT_API_KEY}" in lines
    assert lines[-1] == "Sandbox stopped (0 messages received)."
    assert result.err == ""


def test_api_key_option_sets_the_key_it_accepts(cli: Cli, ctrl_c_when_idle: None) -> None:
    result = cli("sandbox", "--port", "0", "--api-key", "my_sandbox_key")
    assert "  export TEXTFLOW_API_KEY=my_sandbox_key" in result.out.splitlines()


def test_the_environment_key_is_neither_used_nor_shown(
    cli: Cli, ctrl_c_when_idle: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTFLOW_API_KEY", "tf_live_real_secret")
    result = cli("sandbox", "--port", "0")
    assert "tf_live_real_secret" not in result.out + result.err
    assert f"TEXTFLOW_API_KEY={DEFAULT_API_KEY}" in result.out


def test_blank_api_key_exits_2(cli: Cli) -> None:
    result = cli("sandbox", "--port", "0", "--api-key", " ")
    assert result.status == 2
    assert result.err.startswith("textflow: error: --api-key: ")


def test_port_in_use_exits_2(cli: Cli) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("sandbox", "--port", str(port))
    assert result.status == 2
    assert result.err.startswith(f"textflow: error: cannot listen on 127.0.0.1 port {port}: ")
    assert "--port 0" in result.err


def test_json_banner(cli: Cli, ctrl_c_when_idle: None) -> None:
    result = cli("sandbox", "--port", "0", "--json")
    lines = result.out.splitlines()
    assert len(lines) == 1
    banner = json.loads(lines[0])
    assert banner["event"] == "listening"
    assert banner["api_key"] == DEFAULT_API_KEY
    assert banner["base_url"].startswith("http://127.0.0.1:")


def test_non_loopback_host_given_explicitly_is_served_with_a_warning(
    cli: Cli, ctrl_c_when_idle: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound: list[str] = []

    @contextlib.contextmanager
    def serve(self: FakeTextFlow, host: str, port: int, log_requests: bool) -> Iterator[str]:
        bound.append(host)  # do not really bind a public address in a test
        yield f"http://{host}:{port}/api"

    monkeypatch.setattr(FakeTextFlow, "serve", serve)
    result = cli("sandbox", "--host", "0.0.0.0", "--port", "8765")
    assert result.status == 0
    assert bound == ["0.0.0.0"]
    assert result.err.startswith("textflow: warning: listening on 0.0.0.0, not loopback")


def test_loopback_host_given_explicitly_has_no_warning(cli: Cli, ctrl_c_when_idle: None) -> None:
    result = cli("sandbox", "--host", "localhost", "--port", "0")
    assert result.status == 0
    assert result.err == ""


def test_in_process_inbox_and_request_log(
    cli: Cli, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def use_it() -> None:  # runs where the sandbox would wait for Ctrl-C
        url = re.search(BANNER, capsys.readouterr().out, re.MULTILINE)
        assert url is not None
        with TextFlowClient(DEFAULT_API_KEY, base_url=url.group(1)) as client:
            client.send_sms(PHONE, "line one\n\x1b[2Jline two")
        raise KeyboardInterrupt

    monkeypatch.setattr(sandbox, "wait_forever", use_it)
    result = cli("sandbox", "--port", "0", "-v")
    assert result.status == 0
    inbox, stopped = result.out.splitlines()
    assert inbox.endswith("line one\\n\\x1b[2Jline two")  # no control characters printed
    assert stopped == "Sandbox stopped (1 message received)."
    assert '"POST /api/send-sms HTTP/1.1" 200' in result.err  # -v logs requests


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert sandbox.is_loopback(host) is loopback


def test_inbox_prints_one_flushed_line_per_message(capsys: pytest.CaptureFixture[str]) -> None:
    inbox = sandbox.Inbox(as_json=False)
    inbox(FakeMessage(PHONE, "two\nlines", "sms", 1_700_000_000_000))
    inbox(FakeMessage(PHONE, "Your verification code is:\n123456", "code", 1_700_000_000_000))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        rf"\d\d:\d\d:\d\d  SMS   \{PHONE}\s+\[1 seg GSM-7 0.15\]  two\\nlines", lines[0]
    )
    assert re.fullmatch(
        rf".*  code  \{PHONE}\s+\[.*\]  Your verification code is:\\n123456", lines[1]
    )
    assert inbox.received == 2


def test_inbox_json(capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.Inbox(as_json=True)(FakeMessage(PHONE, "hi", "bulk", 5))
    assert json.loads(capsys.readouterr().out) == {
        "event": "message",
        "phone_number": PHONE,
        "kind": "bulk",
        "text": "hi",
        "timestamp": 5,
        "encoding": "GSM-7",
        "segments": 1,
        "price": 0.15,
    }


def test_inbox_prints_replies_and_injected_failures(capsys: pytest.CaptureFixture[str]) -> None:
    inbox = sandbox.Inbox(as_json=False)
    inbox.event(FakeEvent("reply", PHONE, "HTTP 200", 1_700_000_000_000, "YES"))
    inbox.event(FakeEvent("failure", PHONE, "connection dropped", 1_700_000_000_000))
    reply, failure = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf".*  reply \{PHONE}\s+YES  -> HTTP 200", reply)
    assert re.fullmatch(rf".*  FAIL  \{PHONE}\s+injected: connection dropped", failure)
    assert inbox.received == 0  # messages only


def test_the_console_shows_a_reply_and_a_failure_from_a_real_fake(
    capsys: pytest.CaptureFixture[str],
) -> None:
    inbox = sandbox.Inbox(as_json=True)
    fake = FakeTextFlow(
        on_message=inbox, on_event=inbox.event, fail_rate=1.0, webhook_url=lambda body: 204
    )
    with fake.client(max_retries=0) as client, pytest.raises(textflow.APIError):
        client.send_sms(PHONE, "x" * 200)
    fake.reply(PHONE, "STOP")
    failure, reply = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert failure["event"] == "failure"
    assert failure["phone_number"] == PHONE
    assert failure["detail"] in ("HTTP 500", "connection dropped")
    assert (reply["event"], reply["text"], reply["detail"]) == ("reply", "STOP", "HTTP 204")


# --- as a subprocess ----------------------------------------------------------------------


def start(spawn: Spawn, *extra: str) -> tuple[Running, str]:
    running = spawn("sandbox", "--port", "0", *extra)
    return running, running.expect(BANNER).group(1)


@posix_only
def test_sandbox_prints_what_textflow_send_sends_then_stops_on_ctrl_c(
    spawn: Spawn, run: Run, cli: Cli
) -> None:
    sandbox_process, url = start(spawn)
    env = {"TEXTFLOW_BASE_URL": url, "TEXTFLOW_API_KEY": DEFAULT_API_KEY}

    sent = run("send", PHONE, "Hello sandbox", env=env)  # a second real process
    assert sent.status == 0, sent.err
    assert sent.out == f"Sent to {PHONE} (United States), price 0.15\n"
    sandbox_process.expect(rf"SMS   \{PHONE}\s+\[1 seg GSM-7 0.15\]  Hello sandbox$")

    options = ("--base-url", url, "--api-key", DEFAULT_API_KEY)
    assert cli("send-code", PHONE, "--service-name", "Acme", *options).status == 0
    code = sandbox_process.expect(r"code  .*Your verification code for Acme is:\\n(\d+)$").group(1)
    assert cli("verify-code", PHONE, code, *options).status == 0

    refused = cli("send", PHONE, "hi", "--base-url", url, "--api-key", "wrong")
    assert refused.status == 1
    assert "Invalid API key" in refused.err

    sandbox_process.process.send_signal(signal.SIGINT)
    status, rest, err = sandbox_process.wait(timeout=5)
    assert status == 0
    assert rest == ["Sandbox stopped (2 messages received)."]
    assert err == ""


@posix_only
def test_sandbox_stops_cleanly_on_sigterm(spawn: Spawn) -> None:
    sandbox_process, _ = start(spawn)
    sandbox_process.process.send_signal(signal.SIGTERM)
    status, rest, err = sandbox_process.wait(timeout=5)
    assert (status, rest[-1:], err) == (0, ["Sandbox stopped (0 messages received)."], "")


@posix_only
def test_sandbox_json_lines(spawn: Spawn, run: Run) -> None:
    running = spawn("sandbox", "--port", "0", "--json", "--api-key", "k_json")
    banner = json.loads(running.expect(r"^\{").string)
    assert banner["api_key"] == "k_json"
    env = {"TEXTFLOW_BASE_URL": banner["base_url"], "TEXTFLOW_API_KEY": "k_json"}
    assert run("bulk", "Sale", PHONE, "+381611231234", env=env).status == 0
    first = json.loads(running.expect(r"^\{").string)
    second = json.loads(running.expect(r"^\{").string)
    assert [first["phone_number"], second["phone_number"]] == [PHONE, "+381611231234"]
    assert first["kind"] == "bulk"
    running.process.send_signal(signal.SIGINT)
    status, rest, _ = running.wait(timeout=5)
    assert (status, rest) == (0, [])


def test_inbox_json_prints_a_lone_surrogate_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.Inbox(as_json=True)(FakeMessage(PHONE, "a\ud800b é", "sms", 5))
    line = capsys.readouterr().out
    assert "\\ud800" in line
    assert json.loads(line)["text"] == "a\ud800b é"


@posix_only
def test_sandbox_json_prints_a_message_with_a_lone_surrogate(spawn: Spawn) -> None:
    running = spawn("sandbox", "--port", "0", "--json")
    base_url = json.loads(running.expect(r"^\{").string)["base_url"]
    body = b'{"phone_number": "+11234567890", "text": "bad \\udc80 half"}'
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "Content-Type": "application/json"}
    assert httpx.post(f"{base_url}/send-sms", content=body, headers=headers).status_code == 200
    printed = json.loads(running.expect(r"^\{").string)
    assert printed["text"] == "bad \udc80 half"
    running.process.send_signal(signal.SIGINT)
    status, _, err = running.wait(timeout=5)
    assert (status, err) == (0, "")
