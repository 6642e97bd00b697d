"""The fake's routing: each operation of the table at its method and path, and its faults.

``ROUTES`` is derived from `textflow._operations.OPERATIONS` (each operation at
``/api`` + its path); ``handle`` finds the operation, applies a scripted fault
or answers with the operation's handler (`textflow.testing._answers`), and
shapes errors as that operation's answers are shaped. No I/O and no sleeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from http import HTTPStatus
from typing import Any, Optional

from textflow._operations import BALANCE, OPERATIONS, VERIFY_CODE, Operation
from textflow.testing._answers import ANSWERS
from textflow.testing._reply import JSON_TYPE, Rejected, Reply, error_reply, json_reply
from textflow.testing._state import FakeState, Fault

#: Where the fake serves the API: its base URL's path.
API_PREFIX = "/api"
#: Each operation by the path it is served at.
ROUTES: dict[str, Operation[Any]] = {API_PREFIX + op.path: op for op in OPERATIONS.values()}


def route(path: str) -> Optional[Operation[Any]]:
    """The operation served at ``path`` (a trailing ``/`` allowed), if any."""
    return ROUTES.get(path.rstrip("/"))


def handle(
    state: FakeState, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> Reply:
    """Answer one request. ``headers`` has lower-case names."""
    op = route(path)
    if op is None:
        return error_reply(404, "Not found.")
    if method.upper() != op.method:
        return error_reply(405, "Method not allowed.", (("Allow", op.method),))
    with state.lock:
        fault = state.pop_fault(op.name)
    if fault is not None and (
        fault.disconnect or fault.status is not None or fault.body is not None
    ):
        return fault_reply(op, fault)
    try:
        reply = ANSWERS[op.name](state, headers, body)
    except Rejected as no:
        reply = _operation_error(op, no.status, no.message, no.headers)
    if fault is not None:  # a delay alone: processed now, answered late
        reply = replace(reply, delay=fault.delay)
    return reply


def _operation_error(
    op: Operation[Any], status: int, message: str, headers: tuple[tuple[str, str], ...] = ()
) -> Reply:
    """The error answer as ``op`` shapes it."""
    if op is BALANCE:  # its only error body is {"ok": false}
        return json_reply(status, {"ok": False}, headers)
    if op is not VERIFY_CODE:
        return error_reply(status, message, headers)
    payload = {"ok": False, "valid": False, "status": status, "message": message}
    return json_reply(status, payload, headers)  # every verify answer carries the verdict


def fault_reply(op: Operation[Any], fault: Fault) -> Reply:
    """The answer ``fault`` scripts for a request of ``op``."""
    if fault.disconnect:
        return Reply(0, b"", disconnect=True, delay=fault.delay)
    status = 500 if fault.status is None else fault.status
    if fault.body is not None:
        reply = Reply(status, fault.body, (("Content-Type", JSON_TYPE),))
    elif status < 400:
        reply = Reply(status, b"", (("Content-Type", JSON_TYPE),))
    else:
        reply = _operation_error(op, status, _reason(status))
    overridden = {name.lower() for name, _ in fault.headers}
    kept = tuple(pair for pair in reply.headers if pair[0].lower() not in overridden)
    return Reply(status, reply.body, kept + fault.headers, delay=fault.delay)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase + "."
    except ValueError:
        return f"HTTP {status}."
