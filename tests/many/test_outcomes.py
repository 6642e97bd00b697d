"""What each failure means for a recipient: refused (not sent) or maybe sent; and odd endings."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Optional

import anyio
import httpx
import pytest

import textflow
from textflow import SQLiteJournal, _operations, _wire
from textflow._many._outcomes import classify, default_stop_on
from textflow.testing import FakeTextFlow

from tests.many.many_support import Sender, numbers

REQUEST = httpx.Request("POST", "https://textflow.invalid/api/send-sms")


def connection_error(cause: httpx.RequestError) -> textflow.APIConnectionError:
    """What the client raises for a transport failure of send_sms (the SDK's own constructor)."""
    return _wire.connection_error(_operations.SEND_SMS, cause)


def status_error(cls: type[textflow.APIStatusError], status: int) -> textflow.APIStatusError:
    response = httpx.Response(status, request=REQUEST, json={"ok": False, "status": status})
    error = _wire.status_error(_operations.SEND_SMS, response, {"ok": False, "status": status})
    assert isinstance(error, cls)
    return error


def malformed() -> textflow.MalformedResponseError:
    response = httpx.Response(200, request=REQUEST, content=b"<html>")
    try:
        _wire.parse_response(_operations.SEND_SMS, response)
    except textflow.MalformedResponseError as exc:
        return exc
    raise AssertionError("parsed")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (connection_error(httpx.ConnectError("refused", request=REQUEST)), "refused"),
        (connection_error(httpx.ConnectTimeout("slow", request=REQUEST)), "refused"),
        (connection_error(httpx.PoolTimeout("pool", request=REQUEST)), "refused"),
        (connection_error(httpx.ReadTimeout("slow", request=REQUEST)), "maybe_sent"),
        (connection_error(httpx.RemoteProtocolError("gone", request=REQUEST)), "maybe_sent"),
        (status_error(textflow.InternalServerError, 503), "maybe_sent"),
        (status_error(textflow.BadRequestError, 400), "refused"),
        (status_error(textflow.RateLimitError, 429), "refused"),
        (malformed(), "maybe_sent"),
        (textflow.InputValidationError("bad", argument="text"), "refused"),
        (textflow.ClientStateError("closed"), "refused"),
        (RuntimeError("a bug"), "maybe_sent"),
    ],
    ids=repr,
)
def test_classify(exc: BaseException, expected: str) -> None:
    assert classify(exc) == expected


@pytest.mark.parametrize("flag", [True, False])
def test_an_error_that_says_whether_it_may_have_been_sent_is_believed(flag: bool) -> None:
    exc = status_error(textflow.InternalServerError, 503)
    exc.may_have_been_sent = flag
    assert classify(exc) == ("maybe_sent" if flag else "refused")


def test_default_stop_on() -> None:
    assert default_stop_on(status_error(textflow.AuthenticationError, 401))
    assert default_stop_on(status_error(textflow.PermissionDeniedError, 403))
    assert default_stop_on(status_error(textflow.APIStatusError, 402))
    assert not default_stop_on(status_error(textflow.BadRequestError, 400))
    assert not default_stop_on(status_error(textflow.InternalServerError, 500))
    assert not default_stop_on(RuntimeError("x"))


def test_a_refused_connection_is_refused_not_maybe_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free a moment ago: nothing listens
    with textflow.TextFlowClient(
        "tf_test_key", base_url=f"http://127.0.0.1:{port}/api", max_retries=0
    ) as client:
        report = client.send_many(numbers(2), "Hi", concurrency=1)
    assert (report.refused, report.maybe_sent) == (2, 0)


@pytest.mark.anyio
async def test_a_closed_client_is_a_programming_error(many: Sender) -> None:
    await many.close()
    with pytest.raises(textflow.ClientStateError):
        await many.send(numbers(3), "Hi", concurrency=1)
    assert many.fake.messages == []


class Broken:
    """A client whose send_sms has a bug."""

    def send_sms(self, phone_number: str, text: str) -> Any:
        raise RuntimeError("a bug in send_sms")


def test_an_unexpected_error_is_raised_and_journalled_as_maybe_sent(tmp_path: Path) -> None:
    from textflow._many import _sync

    path = tmp_path / "j.db"
    with pytest.raises(RuntimeError, match="a bug"):
        _sync.send_many(Broken(), numbers(5), "Hi", concurrency=1, journal=path)
    with SQLiteJournal(path) as journal:
        assert journal.counts() == {"maybe_sent": 1}  # it stopped at the first


class FailingJournal:
    def state(self, key: str) -> Optional[str]:
        return None

    def claim(self, key: str, phone_number: str, *, resend_maybe_sent: bool) -> bool:
        return True

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        raise OSError("disk full")

    def close(self) -> None:
        pass


@pytest.mark.anyio
async def test_a_journal_that_fails_ends_the_run_and_is_raised(many: Sender) -> None:
    with pytest.raises(OSError, match="disk full"):
        await many.send(numbers(10), "Hi", concurrency=2, journal=FailingJournal())
    assert 1 <= len(many.fake.messages) < 10


@pytest.mark.anyio
async def test_cancelled_mid_send_is_journalled_as_maybe_sent(tmp_path: Path) -> None:
    fake = FakeTextFlow()
    fake.fail_next("send_sms", delay=30)
    fake.fail_next("send_sms", delay=30)
    path = tmp_path / "j.db"
    async with fake.async_client() as client:
        with anyio.move_on_after(0.5) as scope:  # the sends are processed, answered late
            await client.send_many(numbers(2), "Hi", concurrency=2, journal=path)
    assert scope.cancelled_caught
    assert len(fake.messages) == 2
    with SQLiteJournal(path) as journal:
        assert journal.counts() == {"maybe_sent": 2}


@pytest.mark.anyio
async def test_an_async_input_that_stops_the_run(fake: FakeTextFlow) -> None:
    async def recipients() -> Any:
        for number in numbers(50):
            yield number

    fake.balance = "0.30"
    async with fake.async_client() as client:
        with pytest.raises(textflow.SendManyStopped) as caught:
            await client.send_many(recipients(), "Hi", concurrency=1)
    assert caught.value.report.sent == 2
