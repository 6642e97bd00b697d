"""A request whose headers do not frame its body is refused before a byte is written.

The SDK's own connection writes a request's body whole, right after its head: a
streamed request (``Transfer-Encoding: chunked``, or a body with no ``Content-Length``)
would go out unchunked, and the server would read what follows as its body or as the
next request. The SDK builds byte bodies only; a request built otherwise (by a user's
code over the SDK's transport) gets a clear ``LocalProtocolError``, and nothing is sent.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Callable

import httpx
import pytest

from textflow._http.connection import request_bytes
from textflow._http.transport import AsyncTextFlowTransport, TextFlowTransport

from tests.core.core_support import ok_sms
from tests.core.hostile_support import Answer, RawServer, json_answer

URL = "http://127.0.0.1:9/api/send-sms"


def ok(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(json_answer(ok_sms()))
    return True


def _read(request: httpx.Request) -> bytes:
    request.read()
    return request.content


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ([("Transfer-Encoding", "chunked")], "Transfer-Encoding"),
        ([("Content-Length", "3")], "not the length"),
        ([("Content-Length", "x5")], "not the length"),
        ([("Content-Length", "5"), ("Content-Length", "6")], "two Content-Length"),
    ],
)
def test_headers_that_do_not_frame_the_body_are_refused(
    headers: list[tuple[str, str]], refused: str
) -> None:
    request = httpx.Request("POST", URL, headers=headers, content=b"hello")
    with pytest.raises(httpx.LocalProtocolError, match=refused):
        request_bytes(request, b"hello")


def test_a_streamed_body_is_refused_and_a_framed_one_is_written() -> None:
    streamed = httpx.Request("POST", URL, content=iter([b"hel", b"lo"]))
    assert streamed.headers["Transfer-Encoding"] == "chunked"
    with pytest.raises(httpx.LocalProtocolError, match="streamed"):
        request_bytes(streamed, _read(streamed))
    unframed = httpx.Request("POST", URL, content=b"hello")
    del unframed.headers["Content-Length"]
    with pytest.raises(httpx.LocalProtocolError, match="streamed"):
        request_bytes(unframed, b"hello")
    framed = httpx.Request("POST", URL, content=b"hello")
    assert request_bytes(framed, b"hello").endswith(b"Content-Length: 5\r\n\r\nhello")
    empty = httpx.Request("GET", URL)
    assert request_bytes(empty, b"").endswith(b"\r\n\r\n")


def test_the_sync_transport_sends_nothing_of_a_streamed_request(
    hostile: Callable[[Answer], RawServer],
) -> None:
    server = hostile(ok)
    with httpx.Client(transport=TextFlowTransport(httpx.Limits()), timeout=5.0) as client:
        with pytest.raises(httpx.LocalProtocolError, match="streamed"):
            client.post(server.base_url + "/send-sms", content=iter([b"hel", b"lo"]))
        assert server.connections == 0
        assert client.post(server.base_url + "/send-sms", content=b"hello").status_code == 200
    assert server.requests == [b"hello"]


@pytest.mark.anyio
async def test_the_async_transport_sends_nothing_of_a_streamed_request(
    hostile: Callable[[Answer], RawServer],
) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"hel"
        yield b"lo"

    server = hostile(ok)
    transport = AsyncTextFlowTransport(httpx.Limits())
    async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
        with pytest.raises(httpx.LocalProtocolError, match="streamed"):
            await client.post(server.base_url + "/send-sms", content=parts())
        assert server.connections == 0
        answer = await client.post(server.base_url + "/send-sms", content=b"hello")
        assert answer.status_code == 200
    assert server.requests == [b"hello"]
