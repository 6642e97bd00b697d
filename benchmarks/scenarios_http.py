"""Two scenarios of the HTTP layer: memory in a loop that never yields, and proxied sends.

* ``busy_loop``: sends over ``httpx.MockTransport`` (which never waits, so the event
  loop never turns between sends), ``tracemalloc`` over ``sends`` of them after a
  warm-up: bytes kept per send, for the async client on asyncio and trio and for the
  sync client.
* ``proxied``: the same sends to the benchmark server, direct and through a local
  forwarding proxy (``benchmarks.forward_proxy``, another process), by the default
  async client and by bare ``httpx.AsyncClient``, interleaved in one process: CPU per
  send. The proxy and the server run elsewhere, so the CPU is the clients' own.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Callable, Optional

import anyio
import httpx

from benchmarks.contenders import KEY, PAYLOAD, PHONE, TEXT, Send

_ANSWER = {
    "ok": True,
    "status": 200,
    "message": "Message sent successfully",
    "data": {
        "to": PHONE,
        "content": TEXT,
        "country_code": "United States",
        "price": 0.15,
        "timestamp": 1676842652256,
    },
}


def _mock(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=_ANSWER)


def _kept(send: Callable[[], Any], sends: int, warm_up: int) -> float:
    for _ in range(warm_up):
        send()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(sends):
            send()
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / sends
    finally:
        tracemalloc.stop()


def busy_loop(sends: int, warm_up: int = 500) -> dict[str, float]:
    """Bytes of traced memory kept per send, by client and event loop."""
    from textflow import AsyncTextFlowClient, TextFlowClient

    kept: dict[str, float] = {}
    for backend in ("asyncio", "trio"):

        async def run() -> float:
            async with httpx.AsyncClient(transport=httpx.MockTransport(_mock)) as http:
                client = AsyncTextFlowClient(KEY, http_client=http)

                async def one() -> None:
                    await client.send_sms(PHONE, TEXT)

                return await _kept_async(one, sends, warm_up)

        kept[f"async client, {backend}"] = anyio.run(run, backend=backend)
    with httpx.Client(transport=httpx.MockTransport(_mock)) as http:
        client = TextFlowClient(KEY, http_client=http)
        kept["sync client"] = _kept(lambda: client.send_sms(PHONE, TEXT), sends, warm_up)
    return kept


async def _kept_async(send: Callable[[], Any], sends: int, warm_up: int) -> float:
    for _ in range(warm_up):
        await send()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(sends):
            await send()
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / sends
    finally:
        tracemalloc.stop()


@asynccontextmanager
async def _sdk(base_url: str, proxy: Optional[str]) -> AsyncIterator[Send]:
    from textflow import AsyncTextFlowClient

    async with AsyncTextFlowClient(KEY, base_url=base_url, proxy=proxy, trust_env=False) as c:

        async def send() -> bool:
            return (await c.send_sms(PHONE, TEXT)).ok

        yield send


@asynccontextmanager
async def _httpx(base_url: str, proxy: Optional[str]) -> AsyncIterator[Send]:
    limits = httpx.Limits(max_connections=100)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(proxy=proxy, limits=limits, trust_env=False) as c:
        url = f"{base_url}/send-sms"

        async def send() -> bool:
            answer = await c.post(url, json=PAYLOAD, headers=headers)
            return bool(answer.status_code == 200 and json.loads(answer.content)["ok"])

        yield send


CONTENDERS = {
    "SDK, direct": (_sdk, False),
    "SDK, through the proxy": (_sdk, True),
    "httpx, direct": (_httpx, False),
    "httpx, through the proxy": (_httpx, True),
}


async def _cpu_per_send(
    maker: Any, base_url: str, proxy: Optional[str], n: int, concurrency: int
) -> float:
    async with maker(base_url, proxy) as send:
        for _ in range(concurrency):  # open connections untimed
            assert await send()
        left = [n]

        async def worker() -> None:
            while left[0] > 0:
                left[0] -= 1
                if not await send():
                    raise RuntimeError("a send failed: the run's numbers mean nothing")

        started = time.process_time()
        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(worker)
        return (time.process_time() - started) / n


def proxied(
    base_url: str, proxy: str, n: int, rounds: int, concurrency: int = 10
) -> dict[str, float]:
    """Median CPU milliseconds per send, by contender, over interleaved rounds (asyncio)."""
    samples: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for _ in range(rounds):
        for name, (maker, through) in CONTENDERS.items():
            url = proxy if through else None
            cpu = anyio.run(_cpu_per_send, maker, base_url, url, n, concurrency)
            samples[name].append(cpu * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def render_busy_loop(kept: dict[str, float], sends: int) -> str:
    lines = [
        "",
        f"### A loop that never yields ({sends:,} sends over `httpx.MockTransport`)",
        "",
        "| client | bytes kept per send |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {value:.1f} |" for name, value in kept.items()]
    return "\n".join(lines) + "\n"


def render_proxied(cpu: dict[str, float], n: int, rounds: int) -> str:
    sdk_ratio = cpu["SDK, through the proxy"] / cpu["SDK, direct"]
    httpx_ratio = cpu["httpx, through the proxy"] / cpu["httpx, direct"]
    vs_httpx = cpu["SDK, through the proxy"] / cpu["httpx, through the proxy"]
    lines = [
        "",
        f"### Proxied sends ({n} sends at concurrency 10, median of {rounds} interleaved "
        "round(s), asyncio)",
        "",
        "| contender | client CPU per send (ms) |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {value:.3f} |" for name, value in cpu.items()]
    lines += [
        "",
        f"SDK proxied ÷ SDK direct: {sdk_ratio:.2f}x (httpx proxied ÷ httpx direct: "
        f"{httpx_ratio:.2f}x); SDK proxied ÷ httpx proxied: {vs_httpx:.2f}x",
    ]
    return "\n".join(lines) + "\n"
