"""The one request handler behind the fake's in-process transports and its HTTP server.

``FakeHandler`` answers a request through `textflow.testing._routes` (or fails
a send at random, for ``fail_rate``), adds the fake's latency, tells the inbox
log what was delivered and which code was verified, and calls ``on_message``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Callable, Optional

from textflow._operations import VERIFY_CODE
from textflow.testing import _routes
from textflow.testing._failures import FailurePlan
from textflow.testing._inbox_log import InboxLog
from textflow.testing._reply import Reply
from textflow.testing._state import FakeEvent, FakeMessage, FakeState

_logger = logging.getLogger("textflow.testing")


class FakeHandler:
    """Answers ``(method, path, lower-cased headers, body)`` with a `Reply`; thread-safe."""

    def __init__(
        self,
        state: FakeState,
        failures: FailurePlan,
        inbox: InboxLog,
        latency: float,
        on_message: Optional[Callable[[FakeMessage], None]],
        on_event: Optional[Callable[[FakeEvent], None]] = None,
    ) -> None:
        self._state = state
        self._failures = failures
        self._inbox = inbox
        self._latency = latency
        self._on_message = on_message
        self._on_event = on_event

    def __call__(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        failed = self._random_failure(method, path)
        if failed is not None:
            how = "connection dropped" if failed.disconnect else f"HTTP {failed.status}"
            self.event(FakeEvent("failure", _recipient(body), how, self._state.now_ms()))
        reply = failed or _routes.handle(self._state, method, path, headers, body)
        if self._latency:
            reply = dataclasses.replace(reply, delay=reply.delay + self._latency)
        self._record(path, reply)
        if self._on_message is not None:
            for message in reply.delivered:
                try:
                    self._on_message(message)
                except Exception:
                    _logger.exception("on_message callback failed")
        return reply

    def event(self, event: FakeEvent) -> None:
        """Tell ``on_event`` (the sandbox console); its failure is logged, never raised."""
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            _logger.exception("on_event callback failed")

    def _record(self, path: str, reply: Reply) -> None:
        """Tell the inbox what was delivered, and which code was verified."""
        if not reply.delivered and _routes.route(path) is not VERIFY_CODE:
            return
        try:
            answer = json.loads(reply.body) if reply.status == 200 else {}
        except ValueError:
            answer = {}
        data = answer.get("data") if isinstance(answer, dict) else None
        for message in reply.delivered:
            if message.kind == "code" and isinstance(data, dict):
                self._inbox.add_message(message, data.get("verification_code"), data.get("expires"))
            else:
                self._inbox.add_message(message)
        if isinstance(answer, dict) and answer.get("valid") is True:
            self._inbox.mark_used(str(answer.get("valid_code")), int(answer.get("expires") or 0))

    def _random_failure(self, method: str, path: str) -> Optional[Reply]:
        """The failed answer when ``fail_rate`` picks this request; None to answer normally."""
        if not self._failures.rate:
            return None
        op = _routes.route(path)
        if op is None or op.method != method.upper() or not op.sends_sms:
            return None
        fault = self._failures.next_send()
        return None if fault is None else _routes.fault_reply(op, fault)


def _recipient(body: bytes) -> str:
    """The number a send was for, as sent (the first of a bulk list); "" when unreadable."""
    try:
        fields = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(fields, dict):
        return ""
    number = fields.get("phone_number")
    numbers = fields.get("phone_numbers")
    if number is None and isinstance(numbers, list) and numbers:
        number = numbers[0]
    return number[:32] if isinstance(number, str) else ""
