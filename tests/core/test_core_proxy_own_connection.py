"""A plain-http request forwarded to a plain-http proxy goes on the SDK's own connection.

A forwarding proxy is an HTTP/1.1 server that takes absolute-form targets, so its answers
are read by the same strict codec as a server's (``textflow._http.h1``), and a connection
to it that an answer left unclean is dropped, never reused: on the sync client and the
async one on asyncio and trio. (httpcore's connection, which carried these requests
before, met the same answers through ``textflow._http.framing``; the proxy must see
exactly what httpx sends it: ``test_core_proxy_forwarding``.)
"""

from __future__ import annotations

import socket
import time
from typing import Callable

import pytest

import textflow

from tests.core.core_support import Harness
from tests.core.hostile_support import Answer, RawServer, json_answer

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.not_on_aiohttp("a caller's http_client has its own proxy settings"),
]

WRONG = {"ok": True, "valid": False, "status": 400, "message": "The code is invalid. "}
PHONE = "+11234567890"
API = "http://127.0.0.1:9"  # never reached: every request goes to the proxy


@pytest.mark.parametrize(
    "garbage",
    [
        b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
    ],
    ids=["obs-fold", "two-lengths", "cl-te"],
)
async def test_a_proxy_answer_is_read_as_strictly_as_a_server_answer(
    api: Harness, hostile: Callable[[Answer], RawServer], garbage: bytes
) -> None:

    def lie_then_honest(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(garbage if number == 1 else json_answer(WRONG))
        return True

    proxy = hostile(lie_then_honest)
    client = api.make(
        base_url=API, proxy=proxy.base_url.removesuffix("/api"), trust_env=False, max_retries=0
    )
    with pytest.raises(textflow.TextFlowError):
        await api.call("verify_code", PHONE, "000000", client=client)
    assert (await api.call("verify_code", PHONE, "000000", client=client)).valid is False
    assert (await api.call("verify_code", PHONE, "000000", client=client)).valid is False
    assert proxy.connections == 2, "the unclean connection dropped, the clean one reused"


async def test_a_proxy_that_never_answers_ends_at_the_calls_deadline(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    def silent(conn: socket.socket, number: int, body: bytes) -> bool:
        time.sleep(3.0)  # far past the call's timeout; the server thread then ends
        return False

    proxy = hostile(silent)
    client = api.make(
        base_url=API, proxy=proxy.base_url.removesuffix("/api"), trust_env=False, timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(textflow.TextFlowError):
        await api.call("verify_code", PHONE, "000000", client=client)
    assert time.monotonic() - started >= 0.5  # a lower bound only: it waited, then gave up


async def test_an_unasked_answer_from_a_proxy_is_never_the_next_calls_answer(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    def answer_twice(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(json_answer({**WRONG, "message": "first"}))
        if number == 1:
            time.sleep(0.05)
            conn.sendall(json_answer({**WRONG, "message": "unasked"}))
        return True

    proxy = hostile(answer_twice)
    client = api.make(
        base_url=API, proxy=proxy.base_url.removesuffix("/api"), trust_env=False, max_retries=0
    )
    first = await api.call("verify_code", PHONE, "000000", client=client)
    time.sleep(0.2)  # the unasked answer has arrived on the idle connection
    second = await api.call("verify_code", PHONE, "000000", client=client)
    assert first.valid is False
    assert second.valid is False
    assert "first" in repr(second)
    assert "unasked" not in repr(second)
    assert proxy.connections == 2, "the connection with an unasked answer was dropped"
