"""``--json``: answers in full, and every failure as one JSON object of one shape on stdout."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from textflow.testing import INVALID_NUMBER, UNAVAILABLE_NUMBER

from tests.cli.cli_support import KEY, PHONE, Result, Server

Cli = Callable[..., Result]

ERROR_KEYS = {"type", "message", "status_code", "may_have_been_sent", "exception", "exit_status"}


def failure(result: Result) -> dict[str, Any]:
    """The JSON failure on stdout, checked for the one shape every failure has."""
    body = result.json()
    assert isinstance(body, dict)
    assert set(body) == {"ok", "error", "answer"}
    assert body["ok"] is False
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["exit_status"] == result.status
    # stderr says the same thing in its one line
    assert result.err == f"textflow: error: {body['error']['message']}\n"
    return body


def test_balance_json_is_the_answer(cli: Cli, server: Server) -> None:
    assert cli("balance", "--json", *server.options).json() == {
        "ok": True,
        "credits": "100",
        "packages": {},
    }


def test_fields_the_server_adds_are_printed_too(cli: Cli, server: Server) -> None:
    answer = {"ok": True, "credits": 5, "packages": {}, "currency": "EUR"}
    server.fake.fail_next("get_balance", status=200, body=answer)
    body = cli("balance", "--json", *server.options).json()
    assert isinstance(body, dict)
    assert body["currency"] == "EUR"


def test_human_output_keeps_the_code_out(cli: Cli, server: Server) -> None:
    result = cli("send-code", PHONE, *server.options)
    code = server.fake.last_code(PHONE)
    assert code is not None
    assert code not in result.out + result.err


def test_refusal(cli: Cli, server: Server) -> None:
    result = cli("send", INVALID_NUMBER, "hi", "--json", *server.options)
    body = failure(result)
    assert result.status == 1
    assert body["error"]["type"] == "refused"
    assert body["error"]["status_code"] == 400
    assert body["answer"]["message"] == "Phone number is invalid"


def test_connection_failure(cli: Cli, closed_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("textflow._client.time.sleep", lambda seconds: None)  # no backoff
    result = cli("send", PHONE, "hi", "--json", "--api-key", KEY, "--base-url", closed_url)
    body = failure(result)
    assert result.status == 3
    assert body["error"] == {
        "type": "connection",
        "message": body["error"]["message"],
        "status_code": None,
        "may_have_been_sent": False,  # the connection was refused: nothing was written
        "exception": "APIConnectionError",
        "exit_status": 3,
    }
    assert body["answer"] is None


def test_dropped_connection_after_a_send_may_have_been_sent(cli: Cli, server: Server) -> None:
    server.fake.fail_next("send_sms", disconnect=True)
    result = cli("send", PHONE, "hi", "--json", *server.options)
    body = failure(result)
    assert result.status == 3
    assert body["error"]["may_have_been_sent"] is True


def test_timeout(cli: Cli, server: Server) -> None:
    server.fake.fail_next("send_sms", delay=2.0)
    result = cli("send", PHONE, "hi", "--json", "--timeout", "0.2", *server.options)
    body = failure(result)
    assert (result.status, body["error"]["type"]) == (3, "timeout")
    assert body["error"]["may_have_been_sent"] is True


def test_malformed_answer(cli: Cli, server: Server) -> None:
    server.fake.fail_next("send_sms", status=200, body="<html>captive portal</html>")
    result = cli("send", PHONE, "hi", "--json", *server.options)
    body = failure(result)
    assert (result.status, body["error"]["type"]) == (3, "malformed_answer")
    assert body["error"]["status_code"] == 200


def test_a_5xx_to_a_send(cli: Cli, server: Server) -> None:
    result = cli("send", UNAVAILABLE_NUMBER, "hi", "--json", *server.options)
    body = failure(result)
    assert result.status == 3
    assert body["error"]["type"] == "server_error"
    assert body["error"]["status_code"] == 503
    assert body["error"]["may_have_been_sent"] is True
    assert body["answer"]["status"] == 503


@pytest.mark.parametrize(
    ("argv", "exception"),
    [
        (("send", "12345", "hi"), "InputValidationError"),  # bad input
        (("send", PHONE, "hi", "--api-key", " "), "ConfigurationError"),  # no usable key
        (("send", PHONE), None),  # the command line itself
        (("--json", "demo"), None),  # an option the command does not take
    ],
)
def test_bad_input(cli: Cli, argv: tuple[str, ...], exception: str) -> None:
    result = cli(*argv, "--json") if "--json" not in argv else cli(*argv)
    body = failure(result)
    assert result.status == 2
    assert body["error"]["type"] == "bad_input"
    assert body["error"]["exception"] == exception
    assert body["error"]["may_have_been_sent"] is False


def test_without_json_stdout_stays_empty(cli: Cli, server: Server) -> None:
    result = cli("send", INVALID_NUMBER, "hi", *server.options)
    assert (result.status, result.out) == (1, "")


def test_a_bug(cli: Cli, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from textflow._cli import command_line as textflow_cli

    def crash(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setitem(textflow_cli.COMMANDS, "balance", crash)
    result = cli("balance", "--json", *server.options)
    body = failure(result)
    assert (result.status, body["error"]["type"]) == (70, "internal")


def test_other_sdk_errors_have_the_same_shape(
    cli: Cli, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textflow._cli import command_line as textflow_cli
    from textflow.errors import APIError, ClientStateError

    def closed(args: object) -> int:
        raise ClientStateError("This client is closed")

    def on_the_wire(args: object) -> int:
        raise APIError("a kind of failure added later", may_have_been_sent=True)

    monkeypatch.setitem(textflow_cli.COMMANDS, "balance", closed)
    result = cli("balance", "--json", *server.options)
    body = failure(result)
    assert (result.status, body["error"]["type"]) == (1, "error")
    assert body["error"]["exception"] == "ClientStateError"

    monkeypatch.setitem(textflow_cli.COMMANDS, "balance", on_the_wire)
    result = cli("balance", "--json", *server.options)
    body = failure(result)
    assert (result.status, body["error"]["type"]) == (3, "error")
    assert body["error"]["may_have_been_sent"] is True
