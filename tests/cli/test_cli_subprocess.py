"""``python -m textflow`` as a real process: exit statuses, stdout/stderr, the demo."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from typing import Callable

import textflow

from tests.cli.cli_support import KEY, PHONE, TIMEOUT, Result, Server, clean_env
from tests.tools import require_tool

Run = Callable[..., Result]


def assert_one_error_line(result: Result) -> str:
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("textflow: error: ")
    return lines[0]


def test_version(run: Run) -> None:
    result = run("--version")
    assert (result.status, result.out) == (0, f"textflow {textflow.__version__}\n")


def test_send_with_the_environment(run: Run, server: Server) -> None:
    result = run("send", PHONE, "Hello", env=server.env)
    assert result.status == 0, result.err
    assert result.out == f"Sent to {PHONE} (United States), price 0.15\n"
    assert result.err == ""
    assert [m.text for m in server.fake.messages] == ["Hello"]


def test_json_after_the_command(run: Run, server: Server) -> None:
    result = run("send", PHONE, "Hello", "--json", *server.options)
    assert result.status == 0, result.err
    body = json.loads(result.out)
    assert body["ok"] is True
    assert body["data"]["to"] == PHONE


def test_bad_phone_exits_2_and_sends_nothing(run: Run, server: Server) -> None:
    result = run("send", "0123", "Hello", env=server.env)
    assert result.status == 2
    assert "PHONE must be an international number" in assert_one_error_line(result)
    assert result.out == ""
    assert server.fake.messages == []


def test_no_key_exits_2(run: Run, server: Server) -> None:
    result = run("send", PHONE, "Hello", "--base-url", server.base_url)
    assert result.status == 2
    assert "no API key, or a blank one: pass --api-key" in assert_one_error_line(result)
    assert server.fake.messages == []


def test_usage_error_exits_2(run: Run) -> None:
    result = run("send", PHONE)
    assert result.status == 2
    assert "required: TEXT" in assert_one_error_line(result)


def test_wrong_key_exits_1(run: Run, server: Server) -> None:
    result = run("send", PHONE, "Hello", env={**server.env, "TEXTFLOW_API_KEY": "tf_nope_42"})
    assert result.status == 1
    assert "Invalid API key" in assert_one_error_line(result)
    assert "tf_nope_42" not in result.out + result.err
    assert server.fake.messages == []


def test_unreachable_server_exits_3(run: Run, closed_url: str) -> None:
    result = run("balance", "--api-key", KEY, "--base-url", closed_url)
    assert result.status == 3
    assert "no usable answer from TextFlow" in assert_one_error_line(result)


def test_unreachable_server_is_retried_twice_then_given_up(run: Run, closed_url: str) -> None:
    """Counted in the log, not timed: two quick retries, then it gives up."""
    log = {"TEXTFLOW_LOG": "info"}
    result = run("balance", "--api-key", KEY, "--base-url", closed_url, env=log)
    assert result.status == 3
    retries = [line for line in result.err.splitlines() if ": retry " in line]
    assert len(retries) == 2, result.err
    assert "retry 2 of 2" in retries[-1]


def test_bulk_from_stdin(run: Run, server: Server) -> None:
    numbers = f"# list\n{PHONE}\n\n+381 61 123 1234\n"
    result = run("bulk", "Sale!", "--file", "-", env=server.env, stdin=numbers)
    assert result.status == 0, result.err
    assert result.out == "Bulk SMS to 2 numbers accepted: Bulk SMS job started\n"
    assert [m.phone_number for m in server.fake.messages] == [PHONE, "+381611231234"]


def test_send_code_does_not_print_the_code(run: Run, server: Server) -> None:
    result = run("send-code", PHONE, "--service-name", "Acme", "--seconds", "60", env=server.env)
    assert result.status == 0, result.err
    code = server.fake.last_code(PHONE)
    assert code is not None
    assert result.out.startswith(f"Verification code sent to {PHONE}, valid until ")
    assert code not in result.out + result.err


def test_verify_code_invalid_exits_1(run: Run, server: Server) -> None:
    result = run("verify-code", PHONE, "123456", env=server.env)
    assert result.status == 1
    assert result.out.startswith("Invalid: ")


def test_demo(run: Run) -> None:
    # A broken environment does not matter: the demo uses its own fake, no key.
    env = {"TEXTFLOW_BASE_URL": "http://example.com/api", "TEXTFLOW_API_KEY": " "}
    result = run("demo", env=env)
    assert result.status == 0, result.err
    assert result.err == ""
    out = result.out
    assert re.search(r"on http://127\.0\.0\.1:\d+/api", out)
    assert f"Sent to {PHONE} (United States), price 0.15" in out
    code = re.search(r'"Your verification code for Acme is:\\n(\d{6})"', out)
    assert code is not None
    assert f'client.verify_code("{PHONE}", "{code.group(1)}").valid\n   True' in out
    assert re.search(r"client.verify_code\(.*\)\.valid\n   False  \(The code is invalid\.\)\n", out)
    assert "Decimal('100')" in out
    assert "Decimal('99.70')  (0.30 spent on 2 SMS)" in out
    assert "tf_test_key" not in out  # no key shown, not even the fake's


def test_console_script() -> None:
    # The script installed next to this interpreter (a venv's bin/ need not be on PATH).
    script = shutil.which("textflow", path=os.path.dirname(sys.executable)) or require_tool(
        "textflow", "pip install -e . (installs the textflow console script)"
    )
    done = subprocess.run(
        [script, "--version"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=TIMEOUT,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, f"textflow {textflow.__version__}\n")
