"""Requests sent through a proxy from the environment keep the transport's promises.

``textflow._http.transport`` hands a request to httpx's own ``HTTPTransport`` when
``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` applies. That transport does not
use ``textflow._http.streams``: no per-read deadline for the sync client and no check
that an answer ended where its framing said. Here the "proxy" is a hostile raw
server on 127.0.0.1 (a plain-http request goes to a proxy in absolute form and
the proxy answers it; the origin on port 9 is never dialled).
"""

from __future__ import annotations

import json
import socket
import time
from typing import Callable

import pytest

import textflow

from tests.core.core_support import Harness
from tests.core.hostile_support import Answer, RawServer, http_answer, json_answer, trickle

pytestmark = pytest.mark.anyio

ORIGIN = "http://127.0.0.1:9/api"  # discard port: only the proxy is ever dialled
WRONG = {"ok": True, "valid": False, "status": 400, "message": "The code is invalid. "}
SMUGGLED = {"ok": True, "valid": True, "status": 200, "message": "The code is valid. "}


def _proxy_env(monkeypatch: pytest.MonkeyPatch, server: RawServer) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.base_url[: -len("/api")])


def short_then_honest(conn: socket.socket, number: int, body: bytes) -> bool:
    if number == 1:  # Content-Length counts only part of what follows: the rest is a lie
        honest = json.dumps(WRONG).encode()
        conn.sendall(http_answer(honest)[: -len(honest)] + honest + json_answer(SMUGGLED))
        return True
    conn.sendall(json_answer(WRONG))
    return True


@pytest.mark.not_on_aiohttp("aiohttp reads no proxy settings from the environment (trust_env)")
async def test_bytes_past_an_answer_through_a_proxy_never_become_the_next_answer(
    api: Harness, hostile: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = hostile(short_then_honest)
    _proxy_env(monkeypatch, server)
    client = api.make(base_url=ORIGIN)
    first = await api.call("verify_code", "+11234567890", "000000", client=client)
    second = await api.call("verify_code", "+11234567890", "000000", client=client)
    assert first.valid is False
    assert second.valid is False, "the smuggled answer was read as the second one's"


@pytest.mark.not_on_aiohttp("aiohttp reads no proxy settings from the environment (trust_env)")
async def test_a_trickling_proxy_cannot_hold_a_call_past_its_timeout(
    api: Harness, hostile: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy never ends its answer before the test does: a call that fails with
    APITimeoutError at all was cut by its deadline (a byte every 50 ms, so no single read
    times out; the header never ends until the proxy gives up after 30 s and closes: a call
    that waited for that would fail as a connection error, not a timeout)."""
    ref: list[RawServer] = []

    def trickled_headers(conn: socket.socket, number: int, body: bytes) -> bool:
        trickle(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ", ref[0])
        return False

    server = hostile(trickled_headers)
    ref.append(server)
    _proxy_env(monkeypatch, server)
    client = api.make(base_url=ORIGIN, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(textflow.APITimeoutError):
        await api.call("send_sms", "+11234567890", "hi", client=client)
    assert time.monotonic() - started >= 1.0  # not before its timeout either
