"""Each API command, in process, against the fake over loopback HTTP: output and exit status."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from textflow import TextFlowClient
from textflow._cli import command_line as textflow_cli
from textflow.testing import INVALID_NUMBER, RATE_LIMITED_NUMBER, UNAVAILABLE_NUMBER

from tests.cli.cli_support import KEY, PHONE, Result, Server

Cli = Callable[..., Result]
SERBIA = "+381611231234"


def error_line(result: Result) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("textflow: error: ")
    return lines[0]


@pytest.fixture
def no_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything is sent."""

    def refuse(*args: Any, **kwargs: Any) -> httpx.Response:
        raise AssertionError("a request was sent")

    monkeypatch.setattr(httpx.Client, "send", refuse)


# --- send ---------------------------------------------------------------------------------


def test_send(cli: Cli, server: Server) -> None:
    result = cli("send", "+1 (123) 456-7890", "Hello there", *server.options)
    assert result.status == 0
    assert result.out == f"Sent to {PHONE} (United States), price 0.15\n"
    assert [(m.phone_number, m.text, m.kind) for m in server.fake.messages] == [
        (PHONE, "Hello there", "sms")
    ]


def test_send_json(cli: Cli, server: Server) -> None:
    body = cli("send", SERBIA, "Zdravo", "--json", *server.options).json()
    assert isinstance(body, dict)
    assert body["ok"] is True
    assert body["data"]["country_code"] == "Serbia"
    assert body["data"]["content"] == "Zdravo"


def test_send_reads_key_and_url_from_the_environment(
    cli: Cli, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    assert cli("send", PHONE, "hi").status == 0
    assert len(server.fake.messages) == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("send", "12345", "hi"), "PHONE must be an international number"),
        (("send", "+0123456789", "hi"), "PHONE must be"),
        (("send", PHONE, "   "), "TEXT must not be empty"),
        (("send-code", "555", "--service-name", "Acme"), "PHONE must be"),
        (("send-code", PHONE, "--seconds", "0"), "seconds must be from 1 to 86400"),
        (("send-code", PHONE, "--seconds", "86401"), "seconds must be from 1 to 86400"),
        (("verify-code", "nope", "123456"), "PHONE must be"),
        (("verify-code", PHONE, "  "), "code must not be empty"),
        (("bulk", "hi", PHONE, "12"), "PHONE must be"),
        (("bulk", "", PHONE), "TEXT must not be empty"),
    ],
)
def test_bad_input_exits_2_before_sending(
    cli: Cli, server: Server, no_requests: None, argv: tuple[str, ...], expected: str
) -> None:
    result = cli(*argv, *server.options)
    assert result.status == 2
    assert expected in error_line(result)
    assert result.out == ""
    assert server.fake.messages == []


def test_bad_phone_is_checked_even_before_the_key(cli: Cli, no_requests: None) -> None:
    result = cli("send", "12345", "hi")
    assert result.status == 2
    assert "PHONE" in error_line(result)


def test_no_key_exits_2(cli: Cli, server: Server, no_requests: None) -> None:
    result = cli("send", PHONE, "hi", "--base-url", server.base_url)
    assert result.status == 2
    assert "no API key, or a blank one: pass --api-key KEY" in error_line(result)
    assert "TEXTFLOW_API_KEY" in result.err
    assert server.fake.messages == []


def test_blank_key_exits_2(cli: Cli, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTFLOW_API_KEY", "  ")
    result = cli("balance", "--base-url", server.base_url)
    assert result.status == 2
    assert "blank" in error_line(result)


def test_plain_http_to_a_remote_host_exits_2(cli: Cli, no_requests: None) -> None:
    result = cli("balance", "--api-key", KEY, "--base-url", "http://example.com/api")
    assert result.status == 2
    assert "Refusing plain http" in error_line(result)


# --- refusals and failures ----------------------------------------------------------------


def test_wrong_key_exits_1_and_never_prints_the_key(cli: Cli, server: Server) -> None:
    secret = "tf_wrong_secret_0123456789"
    result = cli("send", PHONE, "hi", "-vv", "--base-url", server.base_url, "--api-key", secret)
    assert result.status == 1
    assert result.err.splitlines()[-1] == (
        "textflow: error: TextFlow refused (status 400): Invalid API key or user id. "
        "(check --api-key or TEXTFLOW_API_KEY)"
    )
    assert "DEBUG" in result.err
    assert secret not in result.out + result.err
    assert server.fake.messages == []


def test_wrong_key_on_balance_says_the_key_was_refused(cli: Cli, server: Server) -> None:
    result = cli("balance", "--base-url", server.base_url, "--api-key", "wrong")
    assert result.status == 1
    assert "status 401" in error_line(result)
    assert "API key was not accepted" in result.err


def test_refusal_with_json_prints_the_answer_on_stdout(cli: Cli, server: Server) -> None:
    result = cli("send", INVALID_NUMBER, "hi", "--json", *server.options)
    assert result.status == 1
    assert result.json() == {
        "ok": False,
        "error": {
            "type": "refused",
            "message": "TextFlow refused (status 400): Phone number is invalid",
            "status_code": 400,
            "may_have_been_sent": False,
            "exception": "BadRequestError",
            "exit_status": 1,
        },
        "answer": {"ok": False, "status": 400, "message": "Phone number is invalid"},
    }
    assert "Phone number is invalid" in error_line(result)


def test_rate_limit_says_when_to_retry(cli: Cli, server: Server) -> None:
    server.fake.fail_next("get_balance", status=429, headers={"Retry-After": "90"})
    result = cli("balance", *server.options)  # 90 s is past what the SDK waits for
    assert result.status == 1
    assert "(retry after 90 s)" in error_line(result)


def test_rate_limited_magic_number_exits_1(cli: Cli, server: Server) -> None:
    server.fake.fail_next("send_sms", status=429, headers={"Retry-After": "100"})
    result = cli("send", RATE_LIMITED_NUMBER, "hi", *server.options)
    assert result.status == 1
    assert "status 429" in error_line(result)


def test_a_5xx_to_a_send_may_have_been_sent_exit_3(cli: Cli, server: Server) -> None:
    result = cli("send", UNAVAILABLE_NUMBER, "hi", *server.options)
    assert result.status == 3
    line = error_line(result)
    assert "status 503" in line
    assert "It may have been sent" in line
    assert "refused" not in line


def test_a_5xx_to_a_read_is_a_failure_exit_1(
    cli: Cli, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):  # a read is retried twice
        server.fake.fail_next("get_balance", status=503, body={"ok": False, "message": "down"})
    monkeypatch.setattr(TextFlowClient, "_sleep", staticmethod(lambda seconds: None))  # no backoff
    result = cli("balance", "--json", *server.options)
    assert result.status == 1
    body = result.json()
    assert isinstance(body, dict)
    assert body["error"]["type"] == "server_error"
    assert body["error"]["may_have_been_sent"] is False
    assert "may have been sent" not in error_line(result)


def test_unreachable_server_exits_3(
    cli: Cli, closed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TextFlowClient, "_sleep", staticmethod(lambda seconds: None))  # no backoff
    result = cli("send", PHONE, "hi", "--api-key", KEY, "--base-url", closed_url)
    assert result.status == 3
    assert "no usable answer from TextFlow" in error_line(result)
    assert "ConnectError" in result.err


def test_timeout_exits_3(cli: Cli, server: Server) -> None:
    server.fake.fail_next("send_sms", delay=2.0)
    result = cli("send", PHONE, "hi", "--timeout", "0.2", *server.options)
    assert result.status == 3
    assert "timed out" in error_line(result)


def test_malformed_answer_exits_3(cli: Cli, server: Server) -> None:
    server.fake.fail_next("send_sms", status=200, body="<html>captive portal</html>")
    result = cli("send", PHONE, "hi", *server.options)
    assert result.status == 3
    assert "not the JSON object the API promises" in error_line(result)


def test_control_characters_from_the_server_are_escaped(cli: Cli, server: Server) -> None:
    body = {"ok": False, "status": 400, "message": "bad\x1b[2J\nnews"}
    server.fake.fail_next("send_sms", status=400, body=body)
    result = cli("send", PHONE, "hi", *server.options)
    assert result.status == 1
    assert error_line(result).endswith("bad\\x1b[2J\\nnews")


def test_a_bug_exits_70_with_one_line(
    cli: Cli, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setitem(textflow_cli.COMMANDS, "balance", crash)
    result = cli("balance", *server.options)
    assert result.status == 70
    assert "internal error (RuntimeError: boom)" in error_line(result)
    result = cli("balance", "-vv", *server.options)
    assert "Traceback" in result.err  # asked for


def test_ctrl_c_exits_130_quietly(
    cli: Cli, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setitem(textflow_cli.COMMANDS, "balance", interrupted)
    result = cli("balance", *server.options)
    assert (result.status, result.out, result.err) == (130, "", "")


# --- send-code and verify-code -------------------------------------------------------------


def test_send_code_never_prints_the_code(cli: Cli, server: Server) -> None:
    result = cli("send-code", PHONE, "--service-name", "Acme", "--seconds", "300", *server.options)
    assert result.status == 0
    code = server.fake.last_code(PHONE)
    assert code is not None
    assert result.out.startswith(f"Verification code sent to {PHONE}, valid until ")
    assert code not in result.out
    assert server.fake.messages[-1].text == f"Your verification code for Acme is:\n{code}"


def test_send_code_json_prints_the_answer_in_full(cli: Cli, server: Server) -> None:
    body = cli("send-code", PHONE, "--service-name", "Acme", "--json", *server.options).json()
    code = server.fake.last_code(PHONE)
    assert code is not None
    assert isinstance(body, dict)
    assert body["ok"] is True
    assert body["data"]["verification_code"] == code  # asked for by name: not masked
    assert body["data"]["message_text"] == f"Your verification code for Acme is:\n{code}"


def test_verify_code_valid_exits_0(cli: Cli, server: Server) -> None:
    assert cli("send-code", PHONE, *server.options).status == 0
    code = server.fake.last_code(PHONE)
    assert code is not None
    result = cli("verify-code", PHONE, code, *server.options)
    assert result.status == 0
    assert result.out == f"Valid: the code for {PHONE} is correct.\n"
    assert code not in result.out


def test_verify_code_invalid_exits_1(cli: Cli, server: Server) -> None:
    assert cli("send-code", PHONE, *server.options).status == 0
    code = server.fake.last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    result = cli("verify-code", PHONE, wrong, *server.options)
    assert result.status == 1
    assert result.out == "Invalid: The code is invalid.\n"  # TextFlow's trailing space dropped
    assert result.err == ""


def test_verify_code_json(cli: Cli, server: Server) -> None:
    result = cli("verify-code", PHONE, "123456", "--json", *server.options)
    assert result.status == 1
    body = result.json()
    assert isinstance(body, dict)
    assert (body["ok"], body["valid"]) == (True, False)


# --- bulk ---------------------------------------------------------------------------------


def test_bulk_with_arguments(cli: Cli, server: Server) -> None:
    result = cli("bulk", "Sale!", PHONE, SERBIA, "+1 123 456 7890", *server.options)
    assert result.status == 0
    assert result.out == "Bulk SMS to 2 numbers accepted: Bulk SMS job started\n"
    assert [(m.phone_number, m.kind) for m in server.fake.messages] == [
        (PHONE, "bulk"),
        (SERBIA, "bulk"),
    ]


def test_bulk_json(cli: Cli, server: Server) -> None:
    body = cli("bulk", "Sale!", PHONE, "--json", *server.options).json()
    assert isinstance(body, dict)
    assert body["ok"] is True
    assert body["data"]["recipients"] == 1


NUMBERS_FILE = f"""\
# customers
{PHONE}

   {SERBIA}   # trailing comment
#{INVALID_NUMBER} commented out
"""


def test_bulk_from_a_file(cli: Cli, server: Server, tmp_path: Path) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text(NUMBERS_FILE, encoding="utf-8")
    result = cli("bulk", "Sale!", "--file", str(numbers), *server.options)
    assert result.status == 0, result.err
    assert [m.phone_number for m in server.fake.messages] == [PHONE, SERBIA]


def test_bulk_from_stdin(cli: Cli, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(NUMBERS_FILE))
    result = cli("bulk", "Sale!", "--file", "-", *server.options)
    assert result.status == 0, result.err
    assert [m.phone_number for m in server.fake.messages] == [PHONE, SERBIA]


def test_bulk_file_names_the_line_of_a_bad_number(
    cli: Cli, server: Server, tmp_path: Path, no_requests: None
) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text(f"{PHONE}\n\n# x\n+12\n", encoding="utf-8")
    result = cli("bulk", "Sale!", "--file", str(numbers), *server.options)
    assert result.status == 2
    assert f"{numbers} line 4 must be an international number" in error_line(result)


@pytest.mark.parametrize(
    ("content", "extra", "expected"),
    [
        ("# nobody\n\n", (), "no phone numbers in"),
        (None, (), "cannot read"),
        (PHONE, (PHONE,), "not both"),
    ],
)
def test_bulk_file_problems_exit_2(
    cli: Cli,
    server: Server,
    tmp_path: Path,
    no_requests: None,
    content: str | None,
    extra: tuple[str, ...],
    expected: str,
) -> None:
    numbers = tmp_path / "numbers.txt"
    if content is not None:
        numbers.write_text(content, encoding="utf-8")
    result = cli("bulk", "Sale!", *extra, "--file", str(numbers), *server.options)
    assert result.status == 2
    assert expected in error_line(result)


def test_bulk_without_numbers_exits_2(cli: Cli, server: Server, no_requests: None) -> None:
    result = cli("bulk", "Sale!", *server.options)
    assert result.status == 2
    assert "give at least one PHONE, or --file FILE" in error_line(result)


# --- balance ------------------------------------------------------------------------------


def test_balance_goes_down(cli: Cli, server: Server) -> None:
    assert cli("balance", *server.options).out == "Balance: 100 credits\n"
    assert cli("send", PHONE, "hi", *server.options).status == 0
    assert cli("balance", *server.options).out == "Balance: 99.85 credits\n"


def test_balance_json(cli: Cli, server: Server) -> None:
    assert cli("balance", "--json", *server.options).json() == {
        "ok": True,
        "credits": "100",
        "packages": {},
    }


def test_timeout_bounds_the_whole_command_against_a_trickling_server(cli: Cli) -> None:
    """The server never ends its answer on its own: a command that returns was cut by its
    deadline. A byte every 50 ms, so no single read times out; the server gives up after
    ``LIMIT`` bytes (20 s, 20x the deadline) so a broken deadline fails instead of hanging."""
    import socket
    import threading

    import h11

    from tests.core.hostile_support import read_request

    limit = 400
    fed = 0
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def trickle() -> None:
        nonlocal fed
        conn, _ = listener.accept()
        with conn:
            read_request(conn, h11.Connection(h11.SERVER))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ")
            while fed < limit and not stop.wait(0.05):
                conn.sendall(b"x")
                fed += 1

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/api"
    try:
        result = cli("balance", "--timeout", "1", "--base-url", url, "--api-key", KEY)
    finally:
        stop.set()
        thread.join(10)
        listener.close()
    assert fed < limit  # the command returned while the server was still trickling
    assert result.status == 3  # no usable answer
    assert "deadline" in result.err


# --- hostile text from a server, absurd settings ---------------------------------------------

HOSTILE = "a\u009b2Jb\u202ec\u2066d\udce9e\x1b"  # C1 CSI, bidi override/isolate, lone surrogate


def test_c1_bidi_and_surrogates_from_the_server_are_escaped(cli: Cli, server: Server) -> None:
    server.fake.fail_next(
        "send_sms", status=400, body={"ok": False, "status": 400, "message": HOSTILE}
    )
    result = cli("send", PHONE, "hi", *server.options)
    assert result.status == 1
    line = error_line(result)
    assert line.isprintable()
    assert line.endswith("a\\x9b2Jb\\u202ec\\u2066d\\udce9e\\x1b")


def test_json_output_escapes_them_and_does_not_crash(cli: Cli, server: Server) -> None:
    server.fake.fail_next(
        "send_sms", status=400, body={"ok": False, "status": 400, "message": HOSTILE}
    )
    result = cli("send", PHONE, "hi", "--json", *server.options)
    assert result.status == 1
    assert result.out.strip().isprintable()
    assert "\\u009b" in result.out
    assert "\\u202e" in result.out
    assert "\\udce9" in result.out
    body = result.json()
    assert isinstance(body, dict)
    assert body["answer"]["message"] == HOSTILE  # a JSON reader gets the server's text back


def test_a_successful_json_answer_is_escaped_too(cli: Cli, server: Server) -> None:
    answer = {
        "ok": True,
        "status": 200,
        "message": "sent \u202etxt.exe",
        "data": {
            "to": PHONE,
            "content": "\udce9",
            "country_code": "X\u009b",
            "price": 0.1,
            "timestamp": 1,
        },
    }
    server.fake.fail_next("send_sms", status=200, body=answer)
    result = cli("send", PHONE, "hi", "--json", *server.options)
    assert result.status == 0
    assert result.out.strip().isprintable()
    assert result.json() == answer


def test_a_json_refusal_over_a_pipe_with_a_surrogate_exits_1(
    run: Callable[..., Result], server: Server
) -> None:
    server.fake.fail_next(
        "send_sms", status=400, body={"ok": False, "status": 400, "message": HOSTILE}
    )
    result = run("send", PHONE, "hi", "--json", *server.options)
    assert result.status == 1, result.err
    assert "Traceback" not in result.err
    body = result.json()
    assert isinstance(body, dict)
    assert body["answer"] == {"ok": False, "status": 400, "message": HOSTILE}


@pytest.mark.parametrize("timeout", ["1e300", "86401"])
def test_an_absurd_timeout_exits_2_before_sending(
    cli: Cli, server: Server, no_requests: None, timeout: str
) -> None:
    result = cli("balance", "--timeout", timeout, *server.options)
    assert result.status == 2
    assert "timeout must be a number of seconds above 0 and up to 86400" in error_line(result)


def test_send_code_with_an_absurd_expiry_says_so(cli: Cli, server: Server) -> None:
    answer = {
        "ok": True,
        "status": 200,
        "message": "Verification code sent",
        "data": {"verification_code": "4045", "expires": 10**20, "message_text": "code 4045"},
    }
    server.fake.fail_next("send_verification_sms", status=200, body=answer)
    result = cli("send-code", PHONE, *server.options)
    assert result.status == 0
    assert result.out == (
        f"Verification code sent to {PHONE} (TextFlow gave an expiry out of range: {10**20})\n"
    )
    assert "4045" not in result.out
