"""Review: the answer cap holds for compressed bodies whatever their shape, in memory and CPU."""

from __future__ import annotations

import gzip
import socket
import time
import tracemalloc
import zlib
from typing import Callable

import httpx
import pytest

import textflow
from textflow._http.body import BodyReader

from tests.core.core_support import Harness
from tests.core.hostile_support import Answer, RawServer

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
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


def test_a_thousand_content_encodings_cost_no_more_than_a_few() -> None:
    layers = 1000
    body = BALANCE
    for _ in range(layers):
        body = gzip.compress(body, mtime=0)
    headers = httpx.Headers({"Content-Encoding": ", ".join(["gzip"] * layers)})
    started = time.monotonic()
    fed = 0
    try:
        reader = BodyReader(headers)
        # A server can hand the body over a byte per read; stop feeding after 10 s either way.
        while fed < 6000 and time.monotonic() - started < 10:
            reader.feed(body[fed : fed + 1])
            fed += 1
    except httpx.DecodingError:
        pass  # refused: fine, that is the fix
    elapsed = time.monotonic() - started
    assert elapsed < 3, f"{fed} one-byte reads of a {layers}-layer answer took {elapsed:.1f} s"


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
