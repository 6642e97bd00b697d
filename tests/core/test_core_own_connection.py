"""The SDK's own HTTP/1.1 connection against hostile servers (an adversarial pass).

Each server below lies in one way: a head cut into single bytes, garbage for a head,
a length that promises more or less than comes, chunks without end, a close in the
middle, an answer before the request, a head that never ends. Every client kind meets
each (sync, async on asyncio and trio, aiohttp): a clear ``TextFlowError`` or the right
answer, within the call's deadline, and no lie read as a later call's answer.
"""

from __future__ import annotations

import socket
import time
from typing import Any, Callable

import httpx
import pytest

import textflow
from textflow._http import backends

from tests.core.core_support import Client, Harness
from tests.core.hostile_support import Answer, RawServer, always, json_answer, trickle

pytestmark = pytest.mark.anyio

WRONG = {"ok": True, "valid": False, "status": 400, "message": "The code is invalid. "}
PHONE = "+11234567890"
BOUND = 10.0  # seconds any call here may take, whatever the server does


async def _verify(api: Harness, client: Client) -> Any:
    started = time.monotonic()
    try:
        return await api.call("verify_code", PHONE, "000000", client=client)
    finally:
        assert time.monotonic() - started < BOUND


async def test_a_head_cut_into_single_bytes_is_read(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    answer = json_answer(WRONG)

    def bytewise(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in answer:
            conn.sendall(bytes([byte]))
            time.sleep(0.001)
        return True

    server = hostile(bytewise)
    client = api.make(base_url=server.base_url, max_retries=0)
    assert (await _verify(api, client)).valid is False
    assert (await _verify(api, client)).valid is False
    assert server.connections == 1  # clean: reused


@pytest.mark.parametrize(
    "garbage",
    [
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 2\r\n\r\n{}",  # bare CR
        b"HTTP/1.1 200 OK\r\nX : y\r\nContent-Length: 2\r\n\r\n{}",  # space before colon
        b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 2\r\n\r\n{}",  # obs-fold
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n{}",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"HTTP/9.9 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"\x00\x01\x02 not http at all\r\n\r\n",
    ],
    ids=[
        "bare-cr",
        "space-colon",
        "obs-fold",
        "two-lengths",
        "cl-te",
        "gzip-te",
        "101",
        "v9",
        "junk",
    ],
)
@pytest.mark.not_on_aiohttp(
    "aiohttp's own parser: it reads a 'Transfer-Encoding: gzip' answer to the connection's "
    "end (the read timeout), past this test's bound"
)
async def test_a_malformed_head_is_a_clear_error_and_the_connection_is_dropped(
    api: Harness, hostile: Callable[[Answer], RawServer], garbage: bytes
) -> None:
    def lie_then_honest(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(garbage if number == 1 else json_answer(WRONG))
        return True

    server = hostile(lie_then_honest)
    client = api.make(base_url=server.base_url, max_retries=0)
    with pytest.raises(textflow.TextFlowError):
        await _verify(api, client)
    assert (await _verify(api, client)).valid is False
    if api.kind != "aiohttp":  # aiohttp's own parser decides what it drops
        assert server.connections == 2


@pytest.mark.parametrize("lie", ["longer", "shorter"])
async def test_a_lying_length_never_feeds_the_next_call(
    api: Harness, hostile: Callable[[Answer], RawServer], lie: str
) -> None:
    honest = json_answer(WRONG)

    def lying(conn: socket.socket, number: int, body: bytes) -> bool:
        if number > 1:
            conn.sendall(honest)
            return True
        head, _, payload = honest.partition(b"\r\n\r\n")
        if lie == "longer":  # promises 100 bytes more, then closes
            said = b"Content-Length: %d" % len(payload)
            head = head.replace(said, b"Content-Length: %d" % (len(payload) + 100))
            conn.sendall(head + b"\r\n\r\n" + payload)
            return False
        conn.sendall(honest + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")  # more than said
        return True

    server = hostile(lying)
    client = api.make(base_url=server.base_url, max_retries=0)
    if lie == "longer":
        with pytest.raises(textflow.APIConnectionError) as caught:
            await _verify(api, client)
        assert caught.value.may_have_been_sent is True  # cut mid-answer: it was written
    else:
        assert (await _verify(api, client)).valid is False
    assert (await _verify(api, client)).valid is False
    assert server.connections == 2


async def test_endless_chunks_are_cut_at_the_size_cap(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    def endless(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (16384, b"x" * 16384)
        try:
            for _ in range(1000):  # 16 MiB, far past the 1 MiB cap
                conn.sendall(chunk)
        except OSError:
            pass  # the client hung up: the point
        return False

    server = hostile(endless)
    client = api.make(base_url=server.base_url, max_retries=0)
    with pytest.raises(textflow.MalformedResponseError):
        await _verify(api, client)


async def test_an_endless_head_or_chunk_line_is_refused_at_its_limit(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    def endless_head(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX: ")
        try:
            for _ in range(1000):  # 16 MiB of one header value
                conn.sendall(b"v" * 16384)
        except OSError:
            pass
        return False

    server = hostile(endless_head)
    client = api.make(base_url=server.base_url, max_retries=0)
    with pytest.raises(textflow.TextFlowError):
        await _verify(api, client)


@pytest.mark.not_on_aiohttp("the test holds the SDK's own connection until the bytes came")
async def test_an_answer_before_the_request_is_not_read_as_its_answer(
    api: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that talks first on a new connection: once its bytes are there, nothing
    of the request is written on that connection (the call is not sent, and its retry
    is, on a new one). The test waits for the bytes before the client may write (an
    event, not a delay); bytes that come after the request went out cannot be told from
    its answer in HTTP/1.1."""
    smuggled = json_answer({"ok": True, "valid": True, "status": 200, "message": "valid"})

    class TalksFirst(RawServer):
        def _serve(self, conn: socket.socket) -> None:
            if self.connections == 1:
                conn.sendall(smuggled)  # before any request
            super()._serve(conn)

    def wait_readable(stream: Any) -> None:
        give_up = time.monotonic() + BOUND
        while not stream.get_extra_info("is_readable") and time.monotonic() < give_up:
            time.sleep(0.01)

    first: list[bool] = []
    sync_connect, async_connect = (
        backends.SyncBackend.connect_raw,
        backends.AsyncBackend.connect_raw,
    )

    def connect_sync(self: Any, *args: Any) -> Any:
        stream = sync_connect(self, *args)
        if not first:
            first.append(True)
            wait_readable(stream)
        return stream

    async def connect_async(self: Any, *args: Any) -> Any:
        stream = await async_connect(self, *args)
        if not first:
            first.append(True)
            wait_readable(stream)
        return stream

    monkeypatch.setattr(backends.SyncBackend, "connect_raw", connect_sync)
    monkeypatch.setattr(backends.AsyncBackend, "connect_raw", connect_async)
    server = TalksFirst(_honest)
    try:
        client = api.make(base_url=server.base_url, max_retries=0)
        with pytest.raises(textflow.APIConnectionError) as caught:
            await _verify(api, client)
        assert caught.value.may_have_been_sent is False
        assert server.requests == []
        assert (await _verify(api, client)).valid is False
    finally:
        server.close()


async def test_a_slowloris_head_is_cut_by_the_deadline(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    def slowloris(conn: socket.socket, number: int, body: bytes) -> bool:
        trickle(conn, b"HTTP/1.1 200 OK\r\nX-Slow: ", server, every=0.05)
        return False

    server = hostile(slowloris)
    client = api.make(base_url=server.base_url, max_retries=0, timeout=1.0)
    with pytest.raises(textflow.APITimeoutError):
        await _verify(api, client)


async def test_a_silent_server_meets_the_read_timeout_of_the_phase(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    """The read timeout (not only the whole call's deadline) cuts a wait for the answer:
    on trio the SDK's own stream keeps it with the loop's one deadline timer."""

    def silent(conn: socket.socket, number: int, body: bytes) -> bool:
        time.sleep(5)
        return False

    server = hostile(silent)
    client = api.make(base_url=server.base_url, max_retries=0, timeout=httpx.Timeout(8.0, read=0.3))
    started = time.monotonic()
    with pytest.raises(textflow.APITimeoutError) as caught:
        await _verify(api, client)
    assert time.monotonic() - started < 4  # the read timeout, not the 60 s deadline
    assert caught.value.may_have_been_sent is True


def _honest(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(json_answer(WRONG))
    return True


_RESPX_FIRST = """
import asyncio, sys
import respx
import textflow

BASE = "http://127.0.0.1:9/api"  # nothing listens: only respx can answer
ANSWER = {"ok": True, "status": 200, "message": "sent", "data": {"to": "+11234567890",
          "content": "hi", "country_code": "US", "price": 0.1, "timestamp": 1}}
KEY = "tf_k_0123456789abcdef"

async def main():
    async with textflow.AsyncTextFlowClient(KEY, base_url=BASE, max_retries=0) as client:
        return (await client.send_sms("+11234567890", "hi")).ok

with respx.mock(base_url=BASE, assert_all_called=False) as router:
    router.post("/send-sms").respond(json=ANSWER)
    # The clients, and with them the transport, are first imported under respx's patch.
    if sys.argv[1] == "sync":
        with textflow.TextFlowClient(KEY, base_url=BASE, max_retries=0) as client:
            print(client.send_sms("+11234567890", "hi").ok)
    else:
        print(asyncio.run(main()))
"""


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_respx_answers_even_when_the_transport_is_first_imported_under_it(kind: str) -> None:
    """respx's default mocker patches httpcore's connection; the transport then sends
    through httpcore, so respx sees every request, however the imports fell."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _RESPX_FIRST, kind],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": ""},
    )
    assert done.stdout.strip() == "True", done.stderr[-2000:]


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_an_empty_answer_closed_unread_leaves_its_connection_reusable(
    hostile: Callable[[Answer], RawServer], anyio_backend: str
) -> None:
    from textflow._http.transport import AsyncTextFlowTransport

    server = hostile(always(b"HTTP/1.1 204 X\r\n\r\n"))
    async with httpx.AsyncClient(transport=AsyncTextFlowTransport(), timeout=10.0) as client:
        for _ in range(3):
            async with client.stream("GET", server.base_url) as response:
                assert response.status_code == 204  # closed without reading its (empty) body
    assert server.connections == 1
