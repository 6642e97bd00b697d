"""Answers are read up to a 1 MiB cap, after decompression, whatever the shape of the body:
bombs, endless bodies and piles of encodings end early, in memory and in work."""

from __future__ import annotations

import gzip
import json
import socket
import tracemalloc
import zlib
from typing import Callable

import httpx
import pytest

import textflow
from textflow._http import body as _body
from textflow._http.body import BodyReader

from tests.core.core_support import KEY, Harness, ok_sms
from tests.core.hostile_support import (
    Answer,
    RawServer,
    always,
    http_answer,
    json_answer,
    raw_server,
)

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
OK_SMS = ok_sms()


def big_body(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (64 * MiB))
    for _ in range(64):
        conn.sendall(b" " * MiB)
    return False


def endless_chunks(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"[" * 64 * 1024)
    for _ in range(64 * 16):  # 64 MiB at most, far past the cap
        conn.sendall(chunk)
    return False


def bomb(encoding: str) -> Answer:
    raw = b" " * (64 * MiB)
    packed = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)

    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(http_answer(packed, extra=f"Content-Encoding: {encoding}\r\n".encode()))
        return False

    return answer


@pytest.mark.parametrize(
    "answer",
    [big_body, endless_chunks, bomb("gzip"), bomb("deflate")],
    ids=["big-body", "endless-chunks", "gzip-bomb", "deflate-bomb"],  # stable: no repr address
)
async def test_an_answer_past_the_cap_is_malformed_and_memory_stays_flat(
    api: Harness, hostile: Callable[[Answer], RawServer], answer: Answer
) -> None:
    server = hostile(answer)
    client = api.make(base_url=server.base_url)
    tracemalloc.start()
    try:
        with pytest.raises(textflow.MalformedResponseError) as caught:
            await api.call("send_sms", "+11234567890", "hi", client=client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "larger than 1024 KiB" in str(caught.value)
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "gzip, gzip"])
async def test_compressed_answers_within_the_cap_are_decoded(
    api: Harness, hostile: Callable[[Answer], RawServer], encoding: str
) -> None:
    data = json.dumps(OK_SMS).encode()
    if encoding == "gzip":
        packed = gzip.compress(data)
    elif encoding == "deflate":
        packed = zlib.compress(data)
    elif encoding == "raw-deflate":
        squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        packed = squeezer.compress(data) + squeezer.flush()
        encoding = "deflate"
    else:
        packed = gzip.compress(gzip.compress(data))
    server = hostile(
        always(http_answer(packed, extra=f"Content-Encoding: {encoding}\r\n".encode()))
    )
    client = api.make(base_url=server.base_url)
    result = await api.call("send_sms", "+11234567890", "hi", client=client)
    assert result.data.to == "+11234567890"


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip"])
async def test_an_encoding_not_asked_for_or_broken_is_malformed(
    api: Harness, hostile: Callable[[Answer], RawServer], encoding: str
) -> None:
    server = hostile(
        always(
            http_answer(b"\x00garbage", extra=f"Content-Encoding: {encoding}\r\n".encode()),
            keep=False,
        )
    )
    client = api.make(base_url=server.base_url)
    with pytest.raises(textflow.MalformedResponseError):
        await api.call("send_sms", "+11234567890", "hi", client=client)


async def test_the_sdk_asks_only_for_encodings_it_decodes_itself(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    server = hostile(always(json_answer(OK_SMS)))
    client = api.make(base_url=server.base_url)
    assert (await api.call("send_sms", "+11234567890", "hi", client=client)).ok
    assert client._headers["Accept-Encoding"] == _body.ACCEPT_ENCODING == "gzip, deflate"


def test_legacy_functions_return_ok_false_for_a_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    with raw_server(bomb("gzip")) as server:
        monkeypatch.setenv("TEXTFLOW_BASE_URL", server.base_url)
        import textflowsms as tf

        tf.useKey(KEY)
        try:
            result = tf.sendSMS("+11234567890", "hi")
        finally:
            tf.useKey(None)
    assert result.ok is False
    assert "larger than" in result.message


def test_the_body_reader_refuses_past_its_limit_in_small_steps() -> None:
    reader = _body.BodyReader(httpx.Headers({}), limit=10)
    reader.feed(b"12345")
    with pytest.raises(_body.AnswerTooLarge):
        reader.feed(b"678901")


BALANCE = b'{"ok": true, "credits": 1, "packages": {}}'


def gzip_then_junk(conn: socket.socket, number: int, body: bytes) -> bool:
    """A valid gzip member of a real answer, then 16 MiB more inside the same framing."""
    member = gzip.compress(BALANCE)
    junk = b"x" * (64 * 1024)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % (len(member) + 256 * len(junk))
    )
    conn.sendall(member)
    for _ in range(256):
        conn.sendall(junk)
    return False


async def test_bytes_after_the_end_of_a_compressed_body_do_not_pile_up(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    server = hostile(gzip_then_junk)
    client = api.make(base_url=server.base_url, max_retries=0)
    tracemalloc.start()
    try:
        with pytest.raises(textflow.MalformedResponseError):
            await api.call("get_balance", client=client)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, f"peak {peak / MiB:.0f} MiB for an answer whose decoded body is 43 B"


def test_a_thousand_content_encodings_cost_no_more_than_a_few(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Work is counted, not timed: a few decoders, one step each per read."""
    decoders = 0
    steps = 0

    class CountingInflate(_body._Inflate):
        def __init__(self, encoding: str) -> None:
            nonlocal decoders
            decoders += 1
            super().__init__(encoding)

        def decode(self, data: bytes, room: int) -> bytes:
            nonlocal steps
            steps += 1
            return super().decode(data, room)

    monkeypatch.setattr(_body, "_Inflate", CountingInflate)
    layers = 1000
    body = BALANCE
    for _ in range(layers):
        body = gzip.compress(body, mtime=0)
    headers = httpx.Headers({"Content-Encoding": ", ".join(["gzip"] * layers)})
    reads = 0
    try:
        reader = BodyReader(headers)
        for reads in range(1, 2001):  # a server can hand the body over a byte per read
            reader.feed(body[reads - 1 : reads])
    except httpx.DecodingError:
        pass  # refused: fine, that is the fix
    few = 5  # what urllib3 allows; the SDK's own limit is lower
    assert decoders <= few, f"{decoders} decoders for a {layers}-layer answer"
    assert steps <= reads * few, f"{steps} decoder steps for {reads} reads"


def test_raw_deflate_is_decoded_however_the_network_splits_it() -> None:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = packer.compress(BALANCE) + packer.flush()
    reader = BodyReader(httpx.Headers({"Content-Encoding": "deflate"}))
    reader.feed(raw[:1])
    reader.feed(raw[1:])
    assert reader.finish() == BALANCE


def test_raw_deflate_in_one_read_is_decoded() -> None:
    """The fallback itself works (what the test above varies is only the split)."""
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = packer.compress(BALANCE) + packer.flush()
    reader = BodyReader(httpx.Headers({"Content-Encoding": "deflate"}))
    reader.feed(raw)
    assert reader.finish() == BALANCE
