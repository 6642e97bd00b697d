"""Retries: an SMS is never sent twice; what was never processed is retried."""

from __future__ import annotations

import httpx
import pytest
import respx

import textflow
from textflow._base_client import BaseClient

from tests.core.core_support import CALLS, OK_BODIES, SENDS, Harness, response

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("no_backoff")]

NOT_SENT = [
    httpx.ConnectError("refused"),
    httpx.ConnectTimeout("connect timed out"),
    httpx.PoolTimeout("pool full"),
]
MAYBE_SENT = [
    httpx.ReadTimeout("read timed out"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    httpx.ReadError("connection reset"),
    httpx.WriteTimeout("write timed out"),
]


def _route(mock_api: respx.MockRouter, name: str) -> respx.Route:
    path, _ = CALLS[name]
    return mock_api.route(path=path)


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("failure", NOT_SENT, ids=lambda e: type(e).__name__)
async def test_failures_before_sending_are_retried_for_every_operation(
    api: Harness, mock_api: respx.MockRouter, name: str, failure: Exception
) -> None:
    route = _route(mock_api, name).mock(side_effect=[failure, response(200, OK_BODIES[name])])
    result = await api.call(name, *CALLS[name][1])
    assert result.ok is True
    assert route.call_count == 2


@pytest.mark.parametrize("name", list(CALLS))
async def test_429_is_retried_for_every_operation_after_retry_after(
    api: Harness, mock_api: respx.MockRouter, name: str, no_backoff: list[float]
) -> None:
    busy = response(
        429, {"ok": False, "status": 429, "message": "Too many"}, headers={"Retry-After": "1.5"}
    )
    route = _route(mock_api, name).mock(side_effect=[busy, response(200, OK_BODIES[name])])
    result = await api.call(name, *CALLS[name][1])
    assert result.ok is True
    assert route.call_count == 2
    assert no_backoff == [1.5]  # what the server asked for, not the backoff


@pytest.mark.parametrize("name", SENDS)
@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_sends_are_transmitted_once_on_5xx(
    api: Harness, mock_api: respx.MockRouter, name: str, status: int
) -> None:
    route = _route(mock_api, name).mock(
        return_value=response(status, {"ok": False, "status": status, "message": "down"})
    )
    with pytest.raises(textflow.APIStatusError) as info:
        await api.call(name, *CALLS[name][1])
    assert info.value.status_code == status
    assert route.call_count == 1


@pytest.mark.parametrize("name", SENDS)
@pytest.mark.parametrize("failure", MAYBE_SENT, ids=lambda e: type(e).__name__)
async def test_sends_are_transmitted_once_when_they_may_have_arrived(
    api: Harness, mock_api: respx.MockRouter, name: str, failure: Exception
) -> None:
    route = _route(mock_api, name).mock(side_effect=failure)
    with pytest.raises(textflow.APIConnectionError) as info:
        await api.call(name, *CALLS[name][1])
    assert route.call_count == 1
    assert "not re-sent" in str(info.value)
    assert isinstance(info.value, textflow.APITimeoutError) == isinstance(
        failure, httpx.TimeoutException
    )


@pytest.mark.parametrize("status", [500, 503, 408])
async def test_balance_is_retried_on_5xx(
    api: Harness, mock_api: respx.MockRouter, status: int
) -> None:
    failed = response(status, {"ok": False})
    route = mock_api.get("/balance").mock(
        side_effect=[failed, failed, response(200, OK_BODIES["get_balance"])]
    )
    result = await api.call("get_balance")
    assert result.ok is True
    assert route.call_count == 3


@pytest.mark.parametrize("failure", MAYBE_SENT, ids=lambda e: type(e).__name__)
async def test_balance_is_retried_after_read_failures(
    api: Harness, mock_api: respx.MockRouter, failure: Exception
) -> None:
    route = mock_api.get("/balance").mock(
        side_effect=[failure, response(200, OK_BODIES["get_balance"])]
    )
    assert (await api.call("get_balance")).ok is True
    assert route.call_count == 2


async def test_retries_stop_at_max_retries(api: Harness, mock_api: respx.MockRouter) -> None:
    route = mock_api.get("/balance").mock(side_effect=httpx.ConnectError("refused"))
    client = api.make(max_retries=3)
    with pytest.raises(textflow.APIConnectionError) as info:
        await api.call("get_balance", client=client)
    assert route.call_count == 4
    assert "was not sent" in str(info.value)
    assert not isinstance(info.value, textflow.APITimeoutError)


async def test_max_retries_zero_sends_once(api: Harness, mock_api: respx.MockRouter) -> None:
    route = mock_api.post("/send-sms").mock(side_effect=httpx.ConnectError("refused"))
    client = api.make(max_retries=0)
    with pytest.raises(textflow.APIConnectionError):
        await api.call("send_sms", "+11234567890", "hi", client=client)
    assert route.call_count == 1


async def test_long_retry_after_is_not_waited_for(api: Harness, mock_api: respx.MockRouter) -> None:
    busy = response(
        429, {"ok": False, "status": 429, "message": "Too many"}, headers={"Retry-After": "3600"}
    )
    route = mock_api.post("/send-sms").mock(return_value=busy)
    with pytest.raises(textflow.RateLimitError) as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert route.call_count == 1
    assert info.value.retry_after == 3600.0


async def test_429_without_retry_after_backs_off_then_gives_up(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    busy = response(429, {"ok": False, "status": 429, "message": "Too many"})
    route = mock_api.post("/send-sms").mock(return_value=busy)
    with pytest.raises(textflow.RateLimitError) as info:
        await api.call("send_sms", "+11234567890", "hi")
    assert route.call_count == 3  # the first try and max_retries=2
    assert info.value.retry_after is None


@pytest.mark.parametrize(("jitter", "delays"), [(0.0, [0.5, 1.0]), (1.0, [0.375, 0.75])])
async def test_the_sleeps_follow_the_policy(
    api: Harness,
    mock_api: respx.MockRouter,
    no_backoff: list[float],
    monkeypatch: pytest.MonkeyPatch,
    jitter: float,
    delays: list[float],
) -> None:
    monkeypatch.setattr(BaseClient, "_random", staticmethod(lambda: jitter))
    route = mock_api.get("/balance").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(textflow.APIConnectionError):
        await api.call("get_balance")
    assert route.call_count == 3
    assert no_backoff == delays  # 0.5 s, then twice that, each less up to a quarter of jitter


async def test_5xx_backoff_grows_for_a_read(
    api: Harness,
    mock_api: respx.MockRouter,
    no_backoff: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(BaseClient, "_random", staticmethod(lambda: 0.5))
    failed = response(503, {"ok": False})
    mock_api.get("/balance").mock(
        side_effect=[failed, failed, response(200, OK_BODIES["get_balance"])]
    )
    assert (await api.call("get_balance")).ok is True
    assert no_backoff == [0.4375, 0.875]


async def test_a_send_that_is_not_retried_sleeps_not_at_all(
    api: Harness, mock_api: respx.MockRouter, no_backoff: list[float]
) -> None:
    mock_api.post("/send-sms").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(textflow.APITimeoutError):
        await api.call("send_sms", "+11234567890", "hi")
    assert no_backoff == []


async def test_balance_gives_up_after_read_timeouts_saying_nothing_changed(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    route = mock_api.get("/balance").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(textflow.APITimeoutError, match="Nothing was changed"):
        await api.call("get_balance")
    assert route.call_count == 3
