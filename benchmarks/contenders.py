"""The clients measured: each sends the same ``POST /send-sms`` and checks the answer is ok.

An async contender is an async context manager that yields ``send()``; one is made
per run (connections belong to one event loop). Every contender may hold at most
``CONNECTIONS`` connections, the SDK's default pool, so that all meet the same limit.
The optional ones (aiohttp, httpx-aiohttp, trio) are imported only when run.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

KEY = "tf_bench_0123456789abcdef"  # the local server takes any key
PHONE = "+11234567890"
TEXT = "Benchmark message"
PAYLOAD = {"phone_number": PHONE, "text": TEXT}
CONNECTIONS = 100  # textflow._config.DEFAULT_LIMITS.max_connections

Send = Callable[[], Awaitable[bool]]
Sender = Callable[[str], Any]  # base_url -> async context manager yielding Send


@dataclass(frozen=True)
class AsyncContender:
    key: str
    label: str
    sender: Sender
    backends: tuple[str, ...] = ("asyncio", "trio")
    connections: int = CONNECTIONS  # opened before the timed part, up to the concurrency


#: The other pool size measured against the default one at concurrency 500 (issue 20:
#: "a gate sized to the pool, or a larger default pool").
LARGE_POOL = 500


@asynccontextmanager
async def sdk_default(base_url: str) -> AsyncIterator[Send]:
    from textflow import AsyncTextFlowClient

    async with AsyncTextFlowClient(KEY, base_url=base_url) as client:

        async def send() -> bool:
            return (await client.send_sms(PHONE, TEXT)).ok

        yield send


@asynccontextmanager
async def sdk_aiohttp(base_url: str) -> AsyncIterator[Send]:
    import textflow

    http = textflow.DefaultAioHttpClient()
    async with http, textflow.AsyncTextFlowClient(KEY, base_url=base_url, http_client=http) as c:

        async def send() -> bool:
            return (await c.send_sms(PHONE, TEXT)).ok

        yield send


@asynccontextmanager
async def sdk_large_pool(base_url: str) -> AsyncIterator[Send]:
    """The default client, but its own transport holds ``LARGE_POOL`` connections."""
    import httpx

    from textflow import AsyncTextFlowClient
    from textflow._http.transport import AsyncTextFlowTransport

    limits = httpx.Limits(
        max_connections=LARGE_POOL, max_keepalive_connections=LARGE_POOL, keepalive_expiry=4.0
    )

    class LargePoolClient(AsyncTextFlowClient):
        @staticmethod
        def _new_transport() -> httpx.AsyncBaseTransport:
            return AsyncTextFlowTransport(limits)

    async with LargePoolClient(KEY, base_url=base_url) as client:

        async def send() -> bool:
            return (await client.send_sms(PHONE, TEXT)).ok

        yield send


@asynccontextmanager
async def bare_httpx(base_url: str) -> AsyncIterator[Send]:
    import httpx

    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, limits=limits) as h:
        url = f"{base_url}/send-sms"

        async def send() -> bool:
            response = await h.post(url, json=PAYLOAD)
            return bool(json.loads(response.content)["ok"])

        yield send


@asynccontextmanager
async def bare_aiohttp(base_url: str) -> AsyncIterator[Send]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        url = f"{base_url}/send-sms"

        async def send() -> bool:
            async with session.post(url, json=PAYLOAD) as response:
                return bool(json.loads(await response.read())["ok"])

        yield send


def _request_bytes(base_url: str) -> tuple[str, int, bytes]:
    parts = urlsplit(base_url)
    body = json.dumps(PAYLOAD).encode()
    head = (
        f"POST {parts.path}/send-sms HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return parts.hostname or "127.0.0.1", parts.port or 80, head.encode() + body


def _body_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError("no Content-Length")


@asynccontextmanager
async def raw_streams(base_url: str) -> AsyncIterator[Send]:
    """The floor on asyncio: ``asyncio.open_connection``, bytes written and read by hand."""
    host, port, request = _request_bytes(base_url)
    free: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    limit = asyncio.Semaphore(CONNECTIONS)  # each send in flight holds one connection

    async def send() -> bool:
        async with limit:
            reader, writer = free.pop() if free else await asyncio.open_connection(host, port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.readexactly(_body_length(head))
            free.append((reader, writer))
            return bool(json.loads(body)["ok"])

    try:
        yield send
    finally:
        for _, writer in free:
            writer.close()


@asynccontextmanager
async def raw_anyio(base_url: str) -> AsyncIterator[Send]:
    """The floor on trio: anyio's TCP streams, bytes written and read by hand."""
    import anyio
    from anyio.streams.buffered import BufferedByteReceiveStream

    host, port, request = _request_bytes(base_url)
    free: list[Any] = []
    limit = anyio.Semaphore(CONNECTIONS)

    async def send() -> bool:
        async with limit:
            if free:
                stream, buffered = free.pop()
            else:
                stream = await anyio.connect_tcp(host, port)
                buffered = BufferedByteReceiveStream(stream)
            await stream.send(request)
            head = await buffered.receive_until(b"\r\n\r\n", 65536)
            body = await buffered.receive_exactly(_body_length(head + b"\r\n"))
            free.append((stream, buffered))
            return bool(json.loads(body)["ok"])

    try:
        yield send
    finally:
        for stream, _ in free:
            await stream.aclose()


ASYNC_CONTENDERS = [
    AsyncContender("sdk", "AsyncTextFlowClient", sdk_default),
    AsyncContender(
        "sdk-large-pool",
        f"AsyncTextFlowClient, a pool of {LARGE_POOL} (not the default)",
        sdk_large_pool,
        connections=LARGE_POOL,
    ),
    AsyncContender(
        "sdk-aiohttp", "AsyncTextFlowClient over DefaultAioHttpClient", sdk_aiohttp, ("asyncio",)
    ),
    AsyncContender("httpx", "bare httpx.AsyncClient", bare_httpx),
    AsyncContender("aiohttp", "aiohttp.ClientSession", bare_aiohttp, ("asyncio",)),
    AsyncContender("floor", "raw asyncio streams (floor)", raw_streams, ("asyncio",)),
    AsyncContender("floor", "raw anyio streams on trio (floor)", raw_anyio, ("trio",)),
]


def threads_sharing_one_client(base_url: str, n: int, concurrency: int) -> int:
    """``concurrency`` threads sharing one ``TextFlowClient``, ``n`` sends in all; the ok count."""
    from textflow import TextFlowClient

    lock = threading.Lock()
    left = [n]
    ok = [0]

    def worker(client: TextFlowClient) -> None:
        while True:
            with lock:
                if not left[0]:
                    return
                left[0] -= 1
            answered = client.send_sms(PHONE, TEXT).ok
            with lock:
                ok[0] += answered

    with TextFlowClient(KEY, base_url=base_url) as client, ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker, client) for _ in range(concurrency)]:
            future.result()
    return ok[0]


# textflowsms 0.1.0 in its own process (``python -I -S``): it shares the import name
# ``textflowsms`` with this project. Its hard-coded https://textflow.me/api is rewritten to
# the local server; REQUESTS_CA_BUNDLE trusts the local certificate.
LEGACY_WORKER = """
import importlib.util, json, sys, time
legacy_dir, base_url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, legacy_dir)
assert importlib.util.find_spec("textflow") is None, "the project leaked onto sys.path"
import requests
import textflowsms as tf
assert tf.__file__.startswith(legacy_dir), tf.__file__
_post = requests.post
def post(url, *args, **kwargs):
    kwargs.setdefault("timeout", 30)
    return _post(url.replace("https://textflow.me/api", base_url, 1), *args, **kwargs)
requests.post = post
tf.useKey("tf_bench_0123456789abcdef")
assert tf.sendSMS("+11234567890", "Benchmark message").ok
ok, cpu, start = 0, time.process_time(), time.perf_counter()
for _ in range(n):
    ok += tf.sendSMS("+11234567890", "Benchmark message").ok
print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                  "ok": ok, "version": "0.1.0", "requests": requests.__version__}))
"""

# Ours, sequential, in a fresh process whose SSL_CERT_FILE trusts the local certificate:
# the client's own default TLS settings, as in production.
SDK_SEQUENTIAL_WORKER = """
import json, sys, time
from textflow import TextFlowClient
base_url, n = sys.argv[1], int(sys.argv[2])
with TextFlowClient("tf_bench_0123456789abcdef", base_url=base_url) as client:
    assert client.send_sms("+11234567890", "Benchmark message").ok
    ok, cpu, start = 0, time.process_time(), time.perf_counter()
    for _ in range(n):
        ok += client.send_sms("+11234567890", "Benchmark message").ok
print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                  "ok": ok}))
"""
