"""The public hooks: order, arguments, async hooks, a raising hook, per-call hooks, no secrets.

Every test runs against every client (sync, async on asyncio and trio, aiohttp)
over a scripted server on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

import textflow
from textflow import CallEvent, ErrorEvent, RequestEvent, ResponseEvent, RetryEvent

from tests.core.core_support import KEY, Harness, ScriptedServer, ok_sms

pytestmark = pytest.mark.anyio

PHONE = "+381611231234"
TEXT = "Your parcel 4711 is on its way"


class Recorder:
    """Hooks that note every event; async ones for the async clients."""

    def __init__(self, api: Harness) -> None:
        self.events: list[CallEvent] = []
        self.is_async = api.is_async

    def hooks(self) -> dict[str, Any]:
        if self.is_async:

            async def note_async(event: Any) -> None:
                self.events.append(event)

            return dict.fromkeys(("on_request", "on_response", "on_retry", "on_error"), note_async)

        def note(event: Any) -> None:
            self.events.append(event)

        return dict.fromkeys(("on_request", "on_response", "on_retry", "on_error"), note)

    def kinds(self) -> list[str]:
        return [type(event).__name__ for event in self.events]


def _client(api: Harness, server: ScriptedServer, rec: Recorder, **kwargs: Any) -> Any:
    return api.make(base_url=server.base_url, **rec.hooks(), **kwargs)


async def test_a_send_gives_request_then_response(api: Harness, server: ScriptedServer) -> None:
    rec = Recorder(api)
    client = _client(api, server, rec)
    await api.call("send_sms", PHONE, TEXT, client=client)
    assert rec.kinds() == ["RequestEvent", "ResponseEvent"]
    request, response = rec.events
    assert request == RequestEvent("send_sms", 1, "+381", 1)
    assert isinstance(response, ResponseEvent)
    assert (response.operation, response.attempt, response.status_code) == ("send_sms", 1, 200)
    assert response.calling_code == "+381"
    assert response.duration >= 0


async def test_a_retried_429_gives_retry_then_a_second_attempt(
    api: Harness, server: ScriptedServer, no_backoff: list[float]
) -> None:
    server.script = [("json", 429, {"ok": False, "status": 429, "message": "Slow down"})]
    rec = Recorder(api)
    client = _client(api, server, rec)
    await api.call("send_sms", PHONE, TEXT, client=client)
    assert rec.kinds() == [
        "RequestEvent",
        "ResponseEvent",
        "RetryEvent",
        "RequestEvent",
        "ResponseEvent",
    ]
    retry = rec.events[2]
    assert isinstance(retry, RetryEvent)
    assert (retry.attempt, retry.status_code, retry.reason) == (1, 429, "HTTP 429")
    assert retry.delay == no_backoff[0]
    assert [e.attempt for e in rec.events] == [1, 1, 1, 2, 2]


async def test_a_refused_send_ends_with_on_error(api: Harness, server: ScriptedServer) -> None:
    server.script = [("json", 400, {"ok": False, "status": 400, "message": "Bad number"})]
    rec = Recorder(api)
    client = _client(api, server, rec)
    with pytest.raises(textflow.BadRequestError):
        await api.call("send_sms", PHONE, TEXT, client=client)
    assert rec.kinds() == ["RequestEvent", "ResponseEvent", "ErrorEvent"]
    error = rec.events[-1]
    assert isinstance(error, ErrorEvent)
    assert (error.error_type, error.status_code, error.may_have_been_sent) == (
        "BadRequestError",
        400,
        False,
    )
    assert error.duration >= 0


async def test_a_dropped_send_may_have_been_sent(api: Harness, server: ScriptedServer) -> None:
    server.script = [("drop",)]
    rec = Recorder(api)
    client = _client(api, server, rec)
    with pytest.raises(textflow.APIConnectionError):
        await api.call("send_sms", PHONE, TEXT, client=client)
    assert rec.kinds() == ["RequestEvent", "ErrorEvent"]
    error = rec.events[-1]
    assert isinstance(error, ErrorEvent)
    assert error.status_code is None
    assert error.may_have_been_sent is True  # not re-sent: no RetryEvent


async def test_a_timeout_is_an_error_event(api: Harness, server: ScriptedServer) -> None:
    server.script = [("hang", 60)]  # answers nothing until the test ends
    rec = Recorder(api)
    client = _client(api, server, rec, timeout=0.3)
    with pytest.raises(textflow.APITimeoutError):
        await api.call("send_sms", PHONE, TEXT, client=client)
    assert rec.kinds() == ["RequestEvent", "ErrorEvent"]
    assert isinstance(rec.events[-1], ErrorEvent)
    assert rec.events[-1].error_type == "APITimeoutError"


async def test_a_raising_hook_is_logged_and_the_call_goes_on(
    api: Harness, server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: CallEvent) -> None:
        raise RuntimeError("the hook's own bug")

    client = api.make(base_url=server.base_url, on_request=broken, on_response=broken)
    with caplog.at_level(logging.WARNING, logger="textflow"):
        result = await api.call("send_sms", PHONE, TEXT, client=client)
    assert result.ok
    raised = [r for r in caplog.records if "hook" in r.getMessage()]
    assert len(raised) == 2
    assert raised[0].exc_info is not None
    assert raised[0].exc_info[0] is RuntimeError


async def test_with_options_sets_hooks_for_the_copy_only(
    api: Harness, server: ScriptedServer
) -> None:
    server.default = ("json", 200, {"ok": True, "credits": "1.5", "packages": {}})
    seen: list[str] = []
    client = api.make(base_url=server.base_url, on_request=lambda e: seen.append("client"))
    per_call = client.with_options(on_request=lambda e: seen.append("copy"))
    silent = client.with_options(on_request=None)
    await api.call("get_balance", client=per_call)
    await api.call("get_balance", client=client)
    await api.call("get_balance", client=silent)
    assert seen == ["copy", "client"]
    kept = client.with_options(max_retries=0)  # a hook not given is kept
    await api.call("get_balance", client=kept)
    assert seen == ["copy", "client", "client"]


async def test_bulk_events_name_the_country_only_when_there_is_one(
    api: Harness, server: ScriptedServer
) -> None:
    server.default = ("json", 200, {"ok": True, "status": 200, "message": "ok", "data": {}})
    rec = Recorder(api)
    client = _client(api, server, rec)
    await api.call("send_bulk_sms", ["+11234567890", "+12025550123"], TEXT, client=client)
    await api.call("send_bulk_sms", ["+11234567890", PHONE], TEXT, client=client)
    server.default = ("json", 200, {"ok": True, "credits": "1.5", "packages": {}})
    await api.call("get_balance", client=client)
    requests = [e for e in rec.events if isinstance(e, RequestEvent)]
    assert [(e.calling_code, e.recipients) for e in requests] == [("+1", 2), (None, 2), (None, 0)]


async def test_events_are_frozen_and_hold_no_secret(
    api: Harness, server: ScriptedServer, no_backoff: list[float]
) -> None:
    server.script = [
        ("json", 429, {"ok": False, "status": 429, "message": "Slow down"}),
        ("json", 200, ok_sms(PHONE)),
    ]
    rec = Recorder(api)
    client = _client(api, server, rec)
    await api.call("send_sms", PHONE, TEXT, client=client)
    server.script = [("json", 400, {"ok": False, "status": 400, "message": f"Bad {PHONE}"})]
    with pytest.raises(textflow.BadRequestError):
        await api.call("verify_code", PHONE, "4711", client=client)
    assert len(rec.events) == 8
    for event in rec.events:
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.attempt = 9  # type: ignore[misc]
        # a duration's digits may hold "4711" by chance: a float carries no text, so the
        # floats are zeroed before the repr is searched
        timed: dict[str, Any] = {
            f.name: 0.0 for f in dataclasses.fields(event) if f.type in (float, "float")
        }
        plain = dataclasses.replace(event, **timed)
        shown = repr(plain) + repr(dataclasses.asdict(plain))
        for secret in (KEY, PHONE, PHONE[1:], TEXT, "4711", "1231234"):
            assert secret not in shown


def test_the_sync_client_refuses_an_async_hook() -> None:
    async def hook(event: CallEvent) -> None:
        """Never awaited by a sync client."""

    with pytest.raises(textflow.ConfigurationError, match="AsyncTextFlowClient"):
        textflow.TextFlowClient(KEY, on_error=hook)
    with pytest.raises(textflow.ConfigurationError, match="function of one event"):
        textflow.AsyncTextFlowClient(KEY, on_retry="print")  # type: ignore[arg-type]


def test_calling_codes() -> None:
    from textflow._redact import calling_code

    assert [
        calling_code(n)
        for n in (
            "+11234567890",
            "+79161234567",
            "+447911123456",
            "+381611231234",
            "+8613812345678",
        )
    ] == ["+1", "+7", "+44", "+381", "+86"]
    assert calling_code("+35312345678") == "+353"
    assert calling_code("garbage") == "unknown"
