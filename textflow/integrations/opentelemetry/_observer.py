"""The spans and metrics of TextFlow calls, from the SDK's call events (`textflow._hooks`).

Only ``opentelemetry-api`` names are used. One CLIENT span per SDK call, current
while the call runs (so an instrumented ``httpx`` client's spans are its
children); each retry is a span event. What goes into a span or a metric is
what the hook events carry: the operation, statuses, durations, the recipient's
calling code. Never a number, a text, a code or the key; exceptions are not
recorded with ``record_exception`` (their traceback is not ours to vet), only
their class as ``error.type``.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal
from types import TracebackType
from typing import Any, Optional

from opentelemetry import context, metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from textflow._hooks import CallEvent, CallInfo, ErrorEvent, ResponseEvent, RetryEvent
from textflow._version import __version__

SYSTEM = "textflow"
SCOPE = "textflow"


class OpenTelemetryObserver:
    """Registered in ``textflow._hooks.OBSERVERS`` by ``textflow.instrument()``."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            "messaging.client.operation.duration",
            unit="s",
            description="Duration of TextFlow API calls, retries and waits included.",
        )
        self.sends = meter.create_counter(
            "textflow.sms.sends",
            unit="{call}",
            description="Calls that send SMS, by outcome: sent, refused, maybe_sent, not_sent.",
        )
        self.segments = meter.create_counter(
            "textflow.sms.segments",
            unit="{segment}",
            description="SMS segments sent (per recipient, times recipients).",
        )
        self.spent = meter.create_counter(
            "textflow.sms.cost",
            unit="{credit}",
            description="Price of the SMS sent, as the API answered it.",
        )
        self.decisions = meter.create_counter(
            "textflow.guard.decisions",
            unit="{decision}",
            description="Verification guard decisions, by reason.",
        )

    def call(self, info: CallInfo) -> Observation:
        return Observation(self, info)

    def decision(self, decision: Any) -> None:
        reason = getattr(decision, "reason", None)
        reason = str(getattr(reason, "value", reason) or "allowed")
        allowed = bool(getattr(decision, "allowed", reason == "allowed"))
        attributes: dict[str, Any] = {
            "textflow.guard.reason": reason,
            "textflow.guard.allowed": allowed,
        }
        trace.get_current_span().add_event("textflow.guard.decision", attributes)
        self.decisions.add(1, attributes)


class Observation:
    """One call's span and measurements."""

    __slots__ = ("_attrs", "_info", "_observer", "_span", "_started", "_status", "_token")

    def __init__(self, observer: OpenTelemetryObserver, info: CallInfo) -> None:
        self._observer = observer
        self._info = info
        self._status: Optional[int] = None
        attributes: dict[str, Any] = {
            "messaging.system": SYSTEM,
            "messaging.operation.name": info.operation,
            "server.address": info.host,
            "http.request.method": info.method,
        }
        if info.port is not None:
            attributes["server.port"] = info.port
        if info.sends_sms:
            attributes["messaging.operation.type"] = "send"
        if info.calling_code is not None:
            attributes["textflow.destination.calling_code"] = info.calling_code
        if info.recipients > 1:
            attributes["messaging.batch.message_count"] = info.recipients
        if info.segments is not None:
            attributes["textflow.sms.segments"] = info.segments
        if info.encoding is not None:
            attributes["textflow.sms.encoding"] = info.encoding
        self._attrs = attributes

    def __enter__(self) -> Observation:
        self._started = time.monotonic()
        self._span = self._observer.tracer.start_span(
            f"textflow {self._info.operation}", kind=SpanKind.CLIENT, attributes=self._attrs
        )
        self._token = context.attach(trace.set_span_in_context(self._span))
        return self

    def event(self, event: CallEvent) -> None:
        if isinstance(event, ResponseEvent):
            self._status = event.status_code
            self._span.set_attribute("http.response.status_code", event.status_code)
        elif isinstance(event, RetryEvent):
            attributes: dict[str, Any] = {
                "textflow.attempt": event.attempt,
                "textflow.retry.delay": event.delay,
                "textflow.retry.reason": event.reason,
            }
            if event.status_code is not None:
                attributes["http.response.status_code"] = event.status_code
            self._span.add_event("textflow.retry", attributes)
            self._span.set_attribute("http.request.resend_count", event.attempt)
        elif isinstance(event, ErrorEvent):
            self._span.set_attribute("textflow.may_have_been_sent", event.may_have_been_sent)

    def answered(self, result: Any) -> None:
        price = getattr(getattr(result, "data", None), "price", None)
        # a Decimal in the models (float from a legacy result); OpenTelemetry takes floats
        if isinstance(price, (int, float, Decimal)) and not isinstance(price, bool):
            amount = float(price)
            if math.isfinite(amount):
                self._span.set_attribute("textflow.price", amount)
                if amount >= 0:
                    self._observer.spent.add(amount, self._metric_attrs())
        info = self._info
        if info.sends_sms and info.segments is not None:
            self._observer.segments.add(
                info.segments * max(info.recipients, 1), self._metric_attrs()
            )

    def _metric_attrs(self, error_type: Optional[str] = None) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "messaging.system": SYSTEM,
            "messaging.operation.name": self._info.operation,
            "server.address": self._info.host,
        }
        if error_type is not None:
            attributes["error.type"] = error_type
        return attributes

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        try:
            error_type = None if exc_type is None else exc_type.__name__
            if error_type is not None:
                self._span.set_attribute("error.type", error_type)
                self._span.set_status(Status(StatusCode.ERROR, error_type))
            self._observer.duration.record(
                time.monotonic() - self._started, self._metric_attrs(error_type)
            )
            if self._info.sends_sms:
                attributes = self._metric_attrs()
                attributes["textflow.outcome"] = _outcome(exc)
                self._observer.sends.add(1, attributes)
            self._span.end()
        finally:
            context.detach(self._token)


def _outcome(exc: Optional[BaseException]) -> str:
    from textflow.errors import APIError, APIStatusError

    if exc is None:
        return "sent"
    if isinstance(exc, APIError) and exc.may_have_been_sent:
        return "maybe_sent"
    if isinstance(exc, APIStatusError):
        return "refused"
    return "not_sent"
