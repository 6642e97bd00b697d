"""The retry policy's pure functions."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from textflow import _retry


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", float("inf")),
        ("-inf", None),
    ],
)
def test_parse_retry_after_seconds(value: Any, expected: Any) -> None:
    assert _retry.parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    header = format_datetime(datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc), usegmt=True)
    assert _retry.parse_retry_after(header, now=lambda: now) == 30.0
    assert _retry.parse_retry_after(header, now=lambda: now + 60) == 0.0


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    assert [_retry.backoff(n, rand=lambda: 0.0) for n in range(6)] == [0.5, 1, 2, 4, 8, 8]
    assert _retry.backoff(0, rand=lambda: 1.0) == 0.375
    assert 6.0 <= _retry.backoff(10) <= 8.0


def test_no_retry_once_the_budget_is_spent() -> None:
    exc = httpx.ConnectError("refused")
    assert _retry.next_delay(read_only=True, retries_done=2, max_retries=2, exc=exc) is None
    assert _retry.next_delay(read_only=True, retries_done=1, max_retries=2, exc=exc) is not None


@pytest.mark.parametrize(
    ("status", "read_only", "retried"),
    [
        (200, True, False),
        (400, True, False),
        (404, True, False),
        (408, True, True),
        (500, True, True),
        (599, True, True),
        (500, False, False),
        (408, False, False),
        (429, False, True),
        (429, True, True),
    ],
)
def test_response_decisions(status: int, read_only: bool, retried: bool) -> None:
    delay = _retry.next_delay(
        read_only=read_only, retries_done=0, max_retries=2, response=httpx.Response(status)
    )
    assert (delay is not None) is retried


def test_unknown_exceptions_are_not_retried() -> None:
    assert (
        _retry.next_delay(
            read_only=True, retries_done=0, max_retries=2, exc=httpx.UnsupportedProtocol("x")
        )
        is None
    )
    assert _retry.next_delay(read_only=True, retries_done=0, max_retries=2) is None


def test_no_answer_below_the_first_retried_status_is_retried() -> None:
    """The client skips the policy for these answers (most of them: 2xx): it must agree."""
    below = range(100, _retry.FIRST_RETRIED_STATUS)
    for status in below:
        for read_only in (True, False):
            response = httpx.Response(status, headers={"Retry-After": "1"})
            assert _retry.response_delay(response, read_only=read_only, retries_done=0) is None
    first = httpx.Response(_retry.FIRST_RETRIED_STATUS)
    assert _retry.response_delay(first, read_only=True, retries_done=0) is not None
