"""The command line grammar: global options anywhere, usage errors, --version, -v."""

from __future__ import annotations

import logging
from typing import Callable

import httpx
import pytest

import textflow

from tests.cli.cli_support import KEY, PHONE, Result, Server

Cli = Callable[..., Result]


def one_error_line(result: Result) -> str:
    """The single ``textflow: error: ...`` line on stderr (and no traceback)."""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("textflow: error: "), lines[0]
    assert "Traceback" not in result.err
    return lines[0]


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.status == 0
    assert result.out.strip() == f"textflow {textflow.__version__}"


def test_help_lists_every_command_and_the_exit_statuses(cli: Cli) -> None:
    result = cli("--help")
    assert result.status == 0
    for command in ("send", "send-code", "verify-code", "bulk", "balance", "sandbox", "demo"):
        assert command in result.out
    assert "exit status" in result.out


def test_subcommand_help_shows_the_global_options(cli: Cli) -> None:
    result = cli("send", "--help")
    assert result.status == 0
    assert "--api-key" in result.out
    assert "--json" in result.out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("bogus",), "invalid choice"),
        (("send",), "PHONE, TEXT"),
        (("send", PHONE), "TEXT"),
        (("verify-code", PHONE), "CODE"),
        (("send", PHONE, "hi", "extra"), "unrecognized arguments"),
        (("--timeout", "0", "balance"), "positive"),
        (("balance", "--timeout", "soon"), "not a number"),
        (("send-code", PHONE, "--seconds", "ten"), "invalid int"),
        (("sandbox", "--port", "70000"), "65535"),
    ],
)
def test_usage_errors_exit_2_with_one_line(cli: Cli, argv: tuple[str, ...], expected: str) -> None:
    result = cli(*argv)
    assert result.status == 2
    assert expected in one_error_line(result)
    assert "--help" in result.err
    assert result.out == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "--api-key", KEY, "--base-url", "{url}", "send", PHONE, "hi"],
        ["send", PHONE, "hi", "--json", "--api-key", KEY, "--base-url", "{url}"],
        ["--api-key", KEY, "send", "--json", PHONE, "hi", "--base-url", "{url}"],
        ["--timeout", "5", "send", PHONE, "--base-url", "{url}", "hi", "--api-key", KEY, "--json"],
    ],
)
def test_global_options_before_or_after_the_command(
    cli: Cli, server: Server, argv: list[str]
) -> None:
    result = cli(*(arg.replace("{url}", server.base_url) for arg in argv))
    assert result.status == 0, result.err
    body = result.json()
    assert isinstance(body, dict)
    assert body["ok"] is True
    assert body["data"]["to"] == PHONE


def test_an_option_given_twice_keeps_the_value_after_the_command(cli: Cli, server: Server) -> None:
    result = cli("--api-key", "wrong", "balance", *server.options)
    assert result.status == 0, result.err


def test_timeout_is_handed_to_the_client(
    cli: Cli, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[httpx.Timeout] = []
    original = textflow.TextFlowClient.get_balance

    def spy(self: textflow.TextFlowClient) -> textflow.BalanceResult:
        seen.append(self.timeout)
        return original(self)

    monkeypatch.setattr(textflow.TextFlowClient, "get_balance", spy)
    assert cli("balance", "--timeout", "2.5", *server.options).status == 0
    assert seen == [httpx.Timeout(2.5)]


@pytest.mark.parametrize(("flag", "level"), [("-v", logging.INFO), ("-vv", logging.DEBUG)])
def test_verbose_logs_to_stderr_and_is_undone_afterwards(
    cli: Cli, server: Server, flag: str, level: int
) -> None:
    logger = logging.getLogger("textflow")
    handlers_before = list(logger.handlers)
    result = cli("send", PHONE, "hi", flag, *server.options)
    assert result.status == 0
    assert "textflow: INFO: send_sms" in result.err
    assert ("DEBUG" in result.err) is (level == logging.DEBUG)
    assert KEY not in result.err
    assert PHONE not in result.err  # the SDK masks numbers in its logs
    assert logger.handlers == handlers_before


def test_quiet_by_default(cli: Cli, server: Server) -> None:
    result = cli("send", PHONE, "hi", *server.options)
    assert result.err == ""
    assert result.out.strip() == f"Sent to {PHONE} (United States), price 0.15"


# --- options a command does not use are not offered --------------------------------------------


@pytest.mark.parametrize(
    ("command", "absent", "present"),
    [
        ("demo", ("--json", "--api-key", "--base-url", "--timeout"), ("--verbose",)),
        ("sandbox", ("--base-url", "--timeout"), ("--api-key", "--json", "--verbose")),
        ("send", (), ("--api-key", "--base-url", "--timeout", "--json", "--verbose")),
    ],
)
def test_help_lists_only_the_options_a_command_uses(
    cli: Cli, command: str, absent: tuple[str, ...], present: tuple[str, ...]
) -> None:
    help_text = cli(command, "--help").out
    for option in absent:
        assert option not in help_text
    for option in present:
        assert option in help_text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("demo", "--json"), "unrecognized arguments: --json"),
        (("--json", "demo"), "'demo' does not take --json"),
        (("--timeout", "3", "demo"), "'demo' does not take --timeout"),
        (("sandbox", "--base-url", "http://127.0.0.1:1/api"), "unrecognized arguments"),
        (("--base-url", "http://127.0.0.1:1/api", "sandbox"), "'sandbox' does not take --base-url"),
        (("sandbox", "--port", "0", "--timeout", "5"), "unrecognized arguments: --timeout 5"),
    ],
)
def test_an_option_the_command_does_not_use_is_refused(
    cli: Cli, argv: tuple[str, ...], expected: str
) -> None:
    result = cli(*argv)
    assert result.status == 2
    assert expected in one_error_line(result)
    if "--json" not in argv:  # with it, the failure is on stdout as JSON too (test_cli_json)
        assert result.out == ""


def test_no_command_prints_the_help_and_exits_0(cli: Cli) -> None:
    result = cli()
    assert (result.status, result.err) == (0, "")
    assert result.out == cli("--help").out
