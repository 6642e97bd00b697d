"""The fake's settings: random failures (exact and repeatable with a seed) and latency."""

from __future__ import annotations

import time
from typing import Callable

import httpx
import pytest

from textflow.testing import PRICE_PER_SMS, FakeTextFlow

from tests.testing.fake_helpers import auth

US = "+11234567890"
SMS = {"phone_number": US, "text": "x"}


def outcomes(fake: FakeTextFlow, sends: int) -> list[str]:
    """Send ``sends`` SMS in process; what each got: "ok", "500" or "dropped"."""
    seen = []
    base_url = "https://textflow.invalid/api"
    with httpx.Client(transport=fake.transport(), base_url=base_url) as client:
        for _ in range(sends):
            try:
                status = client.post("/send-sms", json=SMS, headers=auth()).status_code
            except httpx.RemoteProtocolError:
                seen.append("dropped")
            else:
                seen.append("ok" if status == 200 else str(status))
    return seen


def test_fail_rate_fails_exactly_that_share_of_1000_sends_and_processes_none_of_them() -> None:
    fake = FakeTextFlow(credits=1000, fail_rate=0.1, seed=7)
    seen = outcomes(fake, 1000)
    assert seen.count("ok") == 900
    assert seen.count("500") + seen.count("dropped") == 100
    assert seen.count("500") > 10  # both kinds, drawn from the seed
    assert seen.count("dropped") > 10
    assert len(fake.messages) == 900  # a failed send was not delivered
    assert fake.balance == 1000 - 900 * PRICE_PER_SMS  # nor debited


def test_the_same_seed_fails_the_same_sends_and_another_seed_others() -> None:
    first = outcomes(FakeTextFlow(fail_rate=0.25, seed=123), 200)
    again = outcomes(FakeTextFlow(fail_rate=0.25, seed=123), 200)
    other = outcomes(FakeTextFlow(fail_rate=0.25, seed=124), 200)
    assert first == again
    assert first != other
    assert 100 < first.count("ok") < 200


def test_without_a_seed_one_is_drawn_and_repeats_the_run() -> None:
    fake = FakeTextFlow(fail_rate=0.5)
    assert isinstance(fake.seed, int)
    assert outcomes(fake, 100) == outcomes(FakeTextFlow(fail_rate=0.5, seed=fake.seed), 100)


def test_fail_rate_leaves_balance_and_verify_alone() -> None:
    fake = FakeTextFlow(fail_rate=1.0, seed=1)
    with fake.client(max_retries=0) as client:
        assert client.get_balance().ok
        assert not client.verify_code(US, "123456").valid
    assert outcomes(fake, 10) != ["ok"] * 10


def test_fail_rate_over_http_drops_or_answers_500() -> None:
    failing = FakeTextFlow(fail_rate=1.0, seed=3)
    seen = set()
    with failing.serve() as base_url, httpx.Client(base_url=base_url, timeout=5) as client:
        for _ in range(20):
            try:
                seen.add(client.post("/send-sms", json=SMS, headers=auth()).status_code)
            except httpx.RemoteProtocolError:
                seen.add(0)
    assert seen == {0, 500}


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), "0.1", True])
def test_a_bad_fail_rate_is_refused(rate: object) -> None:
    with pytest.raises(ValueError, match="fail_rate"):
        FakeTextFlow(fail_rate=rate)  # type: ignore[arg-type]


@pytest.mark.parametrize("latency", [-1, 61, float("nan"), float("inf"), "1", None])
def test_a_bad_latency_is_refused(latency: object) -> None:
    with pytest.raises(ValueError, match="latency"):
        FakeTextFlow(latency=latency)  # type: ignore[arg-type]


def test_a_bad_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        FakeTextFlow(fail_rate=0.1, seed="7")  # type: ignore[arg-type]


@pytest.mark.parametrize("over", ["http", "in_process"])
def test_latency_delays_every_answer(over: str) -> None:
    fake = FakeTextFlow(latency=0.3)
    assert fake.latency == 0.3
    with fake.serve() as base_url:
        transport = None if over == "http" else fake.transport()
        url = base_url if over == "http" else "https://textflow.invalid/api"
        with httpx.Client(base_url=url, transport=transport, timeout=10) as client:
            requests: list[Callable[[], httpx.Response]] = [
                lambda: client.get("/balance", headers=auth()),
                lambda: client.post("/send-sms", json=SMS, headers=auth()),
            ]
            for request in requests:
                started = time.monotonic()
                assert request().status_code == 200
                assert time.monotonic() - started >= 0.3
