"""Scripted faults (``fail_next``), over loopback HTTP and in process, sync and async."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest

from textflow.testing import FakeTextFlow

from tests.testing.fake_helpers import auth

US = "+11234567890"
SMS = {"phone_number": US, "text": "x"}


def test_a_status_fault_answers_the_api_error_envelope_once(
    wire: httpx.Client, fake: FakeTextFlow
) -> None:
    fake.fail_next("send_sms", status=503)
    first = wire.post("/send-sms", json=SMS, headers=auth())
    assert first.status_code == 503
    assert first.json() == {"ok": False, "status": 503, "message": "Service Unavailable."}
    assert fake.messages == []
    assert fake.balance == 100
    assert wire.post("/send-sms", json=SMS, headers=auth()).status_code == 200
    assert len(fake.messages) == 1


def test_faults_queue_per_operation_in_order(wire: httpx.Client, fake: FakeTextFlow) -> None:
    fake.fail_next("send_sms", status=500)
    fake.fail_next("send_sms", status=429, headers={"Retry-After": "7"})
    assert wire.get("/balance", headers=auth()).status_code == 200  # another operation
    assert wire.post("/send-sms", json=SMS, headers=auth()).status_code == 500
    second = wire.post("/send-sms", json=SMS, headers=auth())
    assert (second.status_code, second.headers["retry-after"]) == (429, "7")
    assert wire.post("/send-sms", json=SMS, headers=auth()).status_code == 200


def test_a_fault_is_consumed_before_the_key_is_checked(
    wire: httpx.Client, fake: FakeTextFlow
) -> None:
    fake.fail_next("send_sms", status=502)
    assert wire.post("/send-sms", json=SMS, headers=auth("wrong")).status_code == 502
    assert wire.post("/send-sms", json=SMS, headers=auth("wrong")).status_code == 400


def test_fail_next_alone_is_a_500(wire: httpx.Client, fake: FakeTextFlow) -> None:
    fake.fail_next("send_bulk_sms")
    body = {"phone_numbers": [US], "text": "x"}
    response = wire.post("/bulk-sms", json=body, headers=auth())
    assert response.json() == {"ok": False, "status": 500, "message": "Internal Server Error."}


def test_default_fault_bodies_keep_each_operation_s_shape(
    wire: httpx.Client, fake: FakeTextFlow
) -> None:
    fake.fail_next("get_balance", status=500)
    fake.fail_next("verify_code", status=503)
    assert wire.get("/balance", headers=auth()).json() == {"ok": False}
    verify = wire.post("/verify-code", json={"phone_number": US, "code": "1"}, headers=auth())
    assert verify.json() == {
        "ok": False,
        "status": 503,
        "message": "Service Unavailable.",
        "valid": False,
    }


def test_an_exact_body_and_headers(wire: httpx.Client, fake: FakeTextFlow) -> None:
    fake.fail_next("send_sms", status=200, body=b"<html>oops</html>", headers={"X-A": "b"})
    fake.fail_next("send_sms", body={"ok": False, "status": 418, "message": "teapot"})
    fake.fail_next("send_sms", status=200, body="", headers={"Content-Type": "text/plain"})
    fake.fail_next("send_sms", status=204)
    html = wire.post("/send-sms", json=SMS, headers=auth())
    assert (html.status_code, html.content, html.headers["x-a"]) == (200, b"<html>oops</html>", "b")
    teapot = wire.post("/send-sms", json=SMS, headers=auth())
    assert (teapot.status_code, teapot.json()["message"]) == (500, "teapot")
    empty = wire.post("/send-sms", json=SMS, headers=auth())
    assert (empty.content, empty.headers["content-type"]) == (b"", "text/plain")
    assert wire.post("/send-sms", json=SMS, headers=auth()).status_code == 204
    assert fake.messages == []


def test_disconnect_drops_the_connection_without_an_answer(
    wire: httpx.Client, fake: FakeTextFlow
) -> None:
    fake.fail_next("send_sms", disconnect=True)
    with pytest.raises(httpx.RemoteProtocolError):
        wire.post("/send-sms", json=SMS, headers=auth())
    assert fake.messages == []
    assert wire.post("/send-sms", json=SMS, headers=auth()).status_code == 200  # fresh connection


def test_a_delay_alone_processes_at_once_and_answers_late(
    wire: httpx.Client, fake: FakeTextFlow
) -> None:
    fake.fail_next("send_sms", delay=0.2)
    started = time.monotonic()
    response = wire.post("/send-sms", json=SMS, headers=auth())
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 200
    assert len(fake.messages) == 1


def test_a_delay_with_a_status(wire: httpx.Client, fake: FakeTextFlow) -> None:
    fake.fail_next("get_balance", status=503, delay=0.1)
    started = time.monotonic()
    assert wire.get("/balance", headers=auth()).status_code == 503
    assert time.monotonic() - started >= 0.1


def test_a_delay_past_the_read_timeout_times_out_after_processing(
    wire: httpx.Client, fake: FakeTextFlow
) -> None:
    fake.fail_next("send_sms", delay=2.0)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        wire.post("/send-sms", json=SMS, headers=auth(), timeout=httpx.Timeout(5, read=0.2))
    # Raised at all means the read timeout cut the wait: the answer was 2 s away.
    assert time.monotonic() - started >= 0.2
    assert len(fake.messages) == 1  # it went out; only the answer was late


def test_reset_forgets_faults_and_restores_credit(wire: httpx.Client, fake: FakeTextFlow) -> None:
    wire.post("/send-sms", json=SMS, headers=auth())
    fake.fail_next("send_sms", status=500)
    fake.reset()
    assert fake.messages == []
    assert fake.balance == Decimal(100)
    assert wire.post("/send-sms", json=SMS, headers=auth()).status_code == 200


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("send_message", {}),
        ("send_sms", {"status": 99}),
        ("send_sms", {"status": 600}),
        ("send_sms", {"status": True}),
        ("send_sms", {"disconnect": True, "status": 500}),
        ("send_sms", {"disconnect": True, "body": b""}),
        ("send_sms", {"delay": -1}),
        ("send_sms", {"delay": float("nan")}),
    ],
)
def test_fail_next_refuses_nonsense(operation: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FakeTextFlow().fail_next(operation, **kwargs)  # type: ignore[arg-type]


# --- the async transport, under asyncio and trio ----------------------------------------------


@pytest.mark.anyio
async def test_async_transport_answers_and_faults(fake: FakeTextFlow) -> None:
    transport = fake.async_transport()
    async with httpx.AsyncClient(base_url="https://x.invalid/api", transport=transport) as wire:
        assert (await wire.post("/send-sms", json=SMS, headers=auth())).status_code == 200
        fake.fail_next("send_sms", status=503, delay=0.05)
        assert (await wire.post("/send-sms", json=SMS, headers=auth())).status_code == 503
        fake.fail_next("send_sms", disconnect=True)
        with pytest.raises(httpx.RemoteProtocolError):
            await wire.post("/send-sms", json=SMS, headers=auth())
        fake.fail_next("send_sms", delay=5)
        with pytest.raises(httpx.ReadTimeout):  # at all: the answer was 5 s away
            await wire.post("/send-sms", json=SMS, headers=auth(), timeout=0.1)
    assert len(fake.messages) == 2
