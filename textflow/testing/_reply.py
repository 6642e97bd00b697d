"""What the fake does with one request: a ``Reply``, and the envelopes answers are built from.

No I/O: the in-process transport and the HTTP server carry a ``Reply`` out (wait
``delay``, then answer or drop the connection), so the two behave identically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from textflow.testing._state import FakeMessage

JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Reply:
    """What to do with one request: answer (after ``delay`` seconds), or drop the connection."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    disconnect: bool = False
    delay: float = 0.0
    delivered: tuple[FakeMessage, ...] = ()


def json_reply(
    status: int,
    payload: Mapping[str, Any],
    headers: tuple[tuple[str, str], ...] = (),
    delivered: tuple[FakeMessage, ...] = (),
) -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, body, (("Content-Type", JSON_TYPE), *headers), delivered=delivered)


def error_reply(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """The API's error envelope; the body's ``status`` is the HTTP status."""
    return json_reply(status, {"ok": False, "status": status, "message": message}, headers)


class Rejected(Exception):
    """Raised by an operation to answer with the API's error envelope."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
