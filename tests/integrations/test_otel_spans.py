"""OpenTelemetry: one CLIENT span per call, its attributes, status and retry events, and the
metrics, on every client (sync, asyncio, trio, aiohttp); nothing secret in anything exported."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import textflow

from tests.core.core_support import KEY, Harness, ScriptedServer, ok_sms
from tests.integrations.otel_support import Telemetry

pytestmark = pytest.mark.anyio

PHONE = "+381611231234"
TEXT = "Your parcel 4711 is on its way"
CODE = "90210"


def only_span(telemetry: Telemetry) -> ReadableSpan:
    spans = telemetry.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


async def test_a_send_is_one_client_span_with_its_metrics(
    api: Harness, server: ScriptedServer, telemetry: Telemetry
) -> None:
    server.default = ("json", 200, ok_sms(PHONE))
    client = api.make(base_url=server.base_url)
    await api.call("send_sms", PHONE, TEXT, client=client)
    span = only_span(telemetry)
    assert span.name == "textflow send_sms"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "messaging.system": "textflow",
        "messaging.operation.name": "send_sms",
        "messaging.operation.type": "send",
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "http.request.method": "POST",
        "textflow.destination.calling_code": "+381",
        "textflow.sms.segments": 1,
        "textflow.sms.encoding": "GSM-7",
        "http.response.status_code": 200,
        "textflow.price": 0.15,
    }
    assert span.events == ()
    metrics = telemetry.metrics()
    base = {
        "messaging.system": "textflow",
        "messaging.operation.name": "send_sms",
        "server.address": "127.0.0.1",
    }
    assert metrics["messaging.client.operation.duration"] == [(base, 1)]
    assert metrics["textflow.sms.sends"] == [({**base, "textflow.outcome": "sent"}, 1)]
    assert metrics["textflow.sms.segments"] == [(base, 1)]
    assert metrics["textflow.sms.cost"] == [(base, 0.15)]


async def test_a_refused_send_is_an_error_span(
    api: Harness, server: ScriptedServer, telemetry: Telemetry
) -> None:
    server.script = [("json", 400, {"ok": False, "status": 400, "message": "Bad number"})]
    client = api.make(base_url=server.base_url)
    with pytest.raises(textflow.BadRequestError):
        await api.call("send_sms", PHONE, TEXT, client=client)
    span = only_span(telemetry)
    attributes = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attributes["error.type"] == "BadRequestError"
    assert attributes["http.response.status_code"] == 400
    assert attributes["textflow.may_have_been_sent"] is False
    assert "textflow.price" not in attributes
    sends = telemetry.metrics()["textflow.sms.sends"]
    assert [(a["textflow.outcome"], n) for a, n in sends] == [("refused", 1)]
    assert "textflow.sms.cost" not in telemetry.metrics()


async def test_a_retried_429_is_a_span_event(
    api: Harness, server: ScriptedServer, telemetry: Telemetry, no_backoff: list[float]
) -> None:
    server.script = [("json", 429, {"ok": False, "status": 429, "message": "Slow down"})]
    client = api.make(base_url=server.base_url)
    await api.call("send_sms", PHONE, TEXT, client=client)
    span = only_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    attributes = dict(span.attributes or {})
    assert attributes["http.request.resend_count"] == 1
    assert attributes["http.response.status_code"] == 200
    [event] = span.events
    assert event.name == "textflow.retry"
    assert dict(event.attributes or {}) == {
        "textflow.attempt": 1,
        "textflow.retry.delay": no_backoff[0],
        "textflow.retry.reason": "HTTP 429",
        "http.response.status_code": 429,
    }


async def test_a_timeout_is_an_error_span_that_may_have_sent(
    api: Harness, server: ScriptedServer, telemetry: Telemetry
) -> None:
    server.script = [("hang", 60)]  # answers nothing until the test ends
    client = api.make(base_url=server.base_url, timeout=0.3)
    with pytest.raises(textflow.APITimeoutError):
        await api.call("send_sms", PHONE, TEXT, client=client)
    span = only_span(telemetry)
    attributes = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attributes["error.type"] == "APITimeoutError"
    assert attributes["textflow.may_have_been_sent"] is True
    assert "http.response.status_code" not in attributes
    sends = telemetry.metrics()["textflow.sms.sends"]
    assert [(a["textflow.outcome"], n) for a, n in sends] == [("maybe_sent", 1)]


def _exported(telemetry: Telemetry) -> str:
    values: list[Any] = []
    for span in telemetry.spans():
        values += [span.name, span.status.description, dict(span.attributes or {})]
        values += [(e.name, dict(e.attributes or {})) for e in span.events]
    values.append(telemetry.metrics())
    return json.dumps(values, default=str)


async def test_nothing_exported_holds_a_number_key_text_or_code(
    api: Harness, server: ScriptedServer, telemetry: Telemetry, no_backoff: list[float]
) -> None:
    echo = {"ok": False, "status": 400, "message": f"{PHONE} {CODE} {TEXT} {KEY}"}
    server.script = [
        ("json", 429, echo),
        ("json", 200, ok_sms(PHONE)),
        ("json", 200, {"ok": True, "status": 200, "message": "ok", "data": {}}),
        ("json", 400, echo),
        ("drop",),
    ]
    client = api.make(base_url=server.base_url)
    await api.call("send_sms", PHONE, TEXT, client=client)
    await api.call("send_bulk_sms", [PHONE, "+11234567890"], TEXT, client=client)
    with pytest.raises(textflow.BadRequestError):
        await api.call("verify_code", PHONE, CODE, client=client)
    with pytest.raises(textflow.APIConnectionError):
        await api.call("send_verification_sms", PHONE, "Acme", client=client)
    assert len(telemetry.spans()) == 4
    exported = _exported(telemetry)
    for secret in (KEY, PHONE, PHONE[1:], "611231234", "1234567890", TEXT, "4711", CODE):
        assert secret not in exported


@pytest.mark.not_on_aiohttp("the httpx instrumentation wraps an httpx client's own transport")
async def test_httpx_spans_nest_under_ours(
    api: Harness, server: ScriptedServer, telemetry: Telemetry
) -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    http: Any = httpx.AsyncClient() if api.is_async else httpx.Client()
    HTTPXClientInstrumentor.instrument_client(http, tracer_provider=telemetry.tracer_provider)
    try:
        client = api.make(base_url=server.base_url, http_client=http)
        await api.call("send_sms", PHONE, TEXT, client=client)
    finally:
        HTTPXClientInstrumentor.uninstrument_client(http)
        await http.aclose() if api.is_async else http.close()
    spans = {span.name: span for span in telemetry.spans()}
    ours = spans.pop("textflow send_sms")
    [child] = spans.values()
    assert child.kind is SpanKind.CLIENT
    assert child.parent is not None
    assert ours.context is not None
    assert child.parent.span_id == ours.context.span_id
    assert child.context is not None
    assert child.context.trace_id == ours.context.trace_id


async def test_uninstrument_stops_the_spans(
    api: Harness, server: ScriptedServer, telemetry: Telemetry
) -> None:
    client = api.make(base_url=server.base_url)
    textflow.uninstrument()
    await api.call("send_sms", PHONE, TEXT, client=client)
    assert telemetry.spans() == []
