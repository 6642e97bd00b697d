"""``textflow sandbox --credits/--fail-rate/--seed/--latency``, run in process."""

from __future__ import annotations

import argparse
import json
import re
import time
from decimal import Decimal
from typing import Callable

import httpx
import pytest

from textflow import TextFlowClient
from textflow._cli import sandbox
from textflow._cli.argument_types import duration
from textflow.testing import DEFAULT_API_KEY

from tests.cli.cli_support import PHONE, Result

Cli = Callable[..., Result]
AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


@pytest.fixture
def while_serving(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[[Callable[[str], None]], None]:
    """``while_serving(use)``: the next sandbox run calls ``use(base_url)``, then stops."""

    def install(use: Callable[[str], None]) -> None:
        def serve_then_stop() -> None:
            out = capsys.readouterr().out
            print(out, end="")  # keep the banner in the result
            match = re.search(r"listening on (\S+)|\"base_url\": \"([^\"]+)\"", out)
            assert match is not None, out
            use(match.group(1) or match.group(2))
            raise KeyboardInterrupt

        monkeypatch.setattr(sandbox, "wait_forever", serve_then_stop)

    return install


def test_credits_sets_the_starting_balance(
    cli: Cli, while_serving: Callable[[Callable[[str], None]], None]
) -> None:
    balances = []

    def use(base_url: str) -> None:
        with TextFlowClient(DEFAULT_API_KEY, base_url=base_url) as client:
            balances.append(client.get_balance().credits)
            client.send_bulk_sms([f"+1212555{n:04d}" for n in range(5000)], "Sale")
            balances.append(client.get_balance().credits)

    while_serving(use)
    result = cli("sandbox", "--port", "0", "--credits", "1000", "--json")
    assert result.status == 0, result.err
    assert balances == [Decimal(1000), Decimal(250)]
    assert json.loads(result.out.splitlines()[0])["credits"] == "1000"


def test_fail_rate_with_a_seed_fails_exactly_100_of_1000_sends_over_http(
    cli: Cli, while_serving: Callable[[Callable[[str], None]], None]
) -> None:
    runs: list[list[int]] = []

    def use(base_url: str) -> None:
        statuses = []
        with httpx.Client(base_url=base_url, timeout=10) as client:
            for _ in range(1000):
                try:
                    response = client.post(
                        "/send-sms", json={"phone_number": PHONE, "text": "x"}, headers=AUTH
                    )
                    statuses.append(response.status_code)
                except httpx.RemoteProtocolError:
                    statuses.append(0)
        runs.append(statuses)

    for _ in range(2):
        while_serving(use)
        result = cli(
            "sandbox", "--port", "0", "--credits", "500", "--fail-rate", "0.1", "--seed", "42"
        )
        assert result.status == 0
        assert "Failing 10.0% of sends (500 or dropped; --seed 42 repeats them)." in result.out
    first, second = runs
    assert first.count(200) == 900
    assert {first.count(500), first.count(0)} != {0}
    assert sorted(set(first)) == [0, 200, 500]
    assert first == second  # the same seed, the same failures


def test_a_random_seed_is_shown_so_the_run_can_be_repeated(
    cli: Cli, while_serving: Callable[[Callable[[str], None]], None]
) -> None:
    while_serving(lambda base_url: None)
    result = cli("sandbox", "--port", "0", "--fail-rate", "0.5")
    assert re.search(r"Failing 50\.0% of sends \(500 or dropped; --seed \d+ repeats", result.out)


def test_latency_makes_every_answer_wait(
    cli: Cli, while_serving: Callable[[Callable[[str], None]], None]
) -> None:
    took = []

    def use(base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            started = time.monotonic()
            assert client.get("/balance", headers=AUTH).status_code == 200
            took.append(time.monotonic() - started)

    while_serving(use)
    result = cli("sandbox", "--port", "0", "--latency", "250ms")
    assert "Every answer waits 250 ms." in result.out
    assert took[0] >= 0.25


@pytest.mark.parametrize(
    ("text", "seconds"), [("50ms", 0.05), ("0.5s", 0.5), ("2S", 2.0), ("0", 0.0), (" 1ms ", 0.001)]
)
def test_duration(text: str, seconds: float) -> None:
    assert duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["50", "ms", "fast", "-5ms", "nanms", "infs", "1h"])
def test_a_duration_needs_a_number_and_a_unit(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--credits", "-1"), "--credits: must be a number of credits >= 0"),
        (("--credits", "lots"), "--credits: not a number of credits"),
        (("--credits", "NaN"), "--credits: must be a number of credits >= 0"),
        (("--fail-rate", "1.5"), "--fail-rate: must be from 0 to 1"),
        (("--fail-rate", "x"), "--fail-rate: not a number"),
        (("--seed", "x"), "--seed: invalid int value"),
        (("--latency", "50"), "--latency: not a duration such as 50ms or 0.5s"),
        (("--latency", "61s"), "--latency: at most 60s"),
    ],
)
def test_bad_settings_exit_2(cli: Cli, argv: tuple[str, ...], message: str) -> None:
    result = cli("sandbox", "--port", "0", *argv)
    assert result.status == 2
    assert message in result.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--webhook-url", "ftp://x/sms"), "--webhook-url: not an http(s) URL: 'ftp://x/sms'"),
        (("--webhook-url", "http://127.0.0.1:9/sms", "--webhook-secret", ""), "must not be empty"),
    ],
)
def test_bad_webhook_options_exit_2(cli: Cli, argv: tuple[str, ...], message: str) -> None:
    result = cli("sandbox", "--port", "0", *argv)
    assert result.status == 2
    assert message in result.err


def test_webhook_options_are_shown_and_used(
    cli: Cli, while_serving: Callable[[Callable[[str], None]], None]
) -> None:
    answers = []

    def use(base_url: str) -> None:
        with httpx.Client(base_url=base_url[: -len("api")], timeout=10) as page:
            reply = {"phone_number": PHONE, "text": "YES"}
            answers.append(page.post("/_inbox/reply", json=reply).json())

    while_serving(use)
    url = "http://127.0.0.1:9/sms"  # the discard port: nothing listens
    result = cli("sandbox", "--port", "0", "--webhook-url", url, "--webhook-secret", "s")
    assert result.status == 0
    assert f"Replies typed in the inbox go to {url}." in result.out
    assert "Web inbox: http://127.0.0.1:" in result.out
    assert answers[0]["status"] is None
    assert answers[0]["error"].startswith("ConnectError")
