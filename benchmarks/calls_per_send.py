"""Function calls and CPU per send, the harness behind docs/performance.md's counts.

Function calls per send (cProfile) do not move with the machine's load, CPU seconds
do; so this gives both, CPU only as medians of per-round ratios of contenders run
interleaved in one process. Not part of ``python -m benchmarks``:

```
python -m benchmarks.calls_per_send calls    # fan-out: 2,000 sends, 50 ms, c=100 and 500
python -m benchmarks.calls_per_send cpu      # CPU per send, SDK ÷ aiohttp, trio ÷ asyncio,
                                             # c=500 ÷ c=100, interleaved rounds
python -m benchmarks.calls_per_send cpu --floors  # and c=500 ÷ c=100 of aiohttp, raw streams
                                             # and a pool of 500
python -m benchmarks.calls_per_send proxy    # calls per send, proxied and direct (c=10)
python -m benchmarks.calls_per_send tunnel   # HTTPS through a CONNECT tunnel ÷ direct HTTPS:
                                             # CPU and calls per send (c=10, asyncio, trio)
```

The fan-out harness: as many looping workers as the concurrency (``--tasks``: each send
an anyio task under a semaphore of the concurrency, whose cost is then counted too),
after a first batch of as many sends (untimed, unprofiled) opened the connections.
The proxy harness is the ``proxy`` scenario's own loop (``scenarios_http``), at a
server without latency.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import re
import statistics
import time
from typing import Any, Optional

import anyio

from benchmarks import contenders, forward_proxy, scenarios_http, server

SENDERS = {
    "sdk": contenders.sdk_default,
    "sdk-500": contenders.sdk_large_pool,  # a pool of 500: nobody queues at c=500
    "aiohttp": contenders.bare_aiohttp,
    "httpx": contenders.bare_httpx,
    "raw": contenders.raw_streams,  # the floor: raw asyncio streams, an asyncio.Semaphore
}
#: Connections each contender may hold (opened by an untimed first batch).
POOLS = {"sdk-500": contenders.LARGE_POOL}


async def _fan_out(who: str, base_url: str, n: int, concurrency: int, profile: bool) -> float:
    """Calls per send if ``profile``, else CPU milliseconds per send.

    Looping workers (the default, as ``python -m benchmarks`` sends) are made before the
    profile and the CPU clock start: what is measured is their sends, not the making of
    as many tasks as the concurrency (400 more at c=500, a few calls a send). A task per
    send (``--tasks``) puts the harness's own ``anyio.Semaphore`` of the concurrency in
    the count, and more of it at c=100 (1,900 of 2,000 sends queue there) than at c=500
    (1,500): ~130 calls a send that flattered the SDK's c=500 ÷ c=100 ratio."""
    async with SENDERS[who](base_url) as send:
        failed = RuntimeError("a send failed: the run's numbers mean nothing")
        profiler = cProfile.Profile() if profile else None
        started = [0.0]

        def start() -> None:
            started[0] = time.process_time()
            if profiler is not None:
                profiler.enable()

        async def batch(k: int, measured: bool) -> None:
            if WORKERS:  # as ``python -m benchmarks``: workers that loop, no task per send
                left = [k]

                async def worker() -> None:
                    while left[0]:
                        left[0] -= 1
                        if not await send():
                            raise failed

                async with anyio.create_task_group() as group:
                    for _ in range(min(k, concurrency)):
                        group.start_soon(worker)
                    if measured:
                        start()  # the workers are made; none has run yet
                return
            gate = anyio.Semaphore(concurrency)

            async def one() -> None:
                async with gate:
                    if not await send():
                        raise failed

            if measured:
                start()
            async with anyio.create_task_group() as group:
                for _ in range(k):
                    group.start_soon(one)

        pool = POOLS.get(who, contenders.CONNECTIONS)
        await batch(min(concurrency, pool), False)  # open the connections
        await batch(n, True)
        if profiler is not None:
            profiler.disable()
            return _total_calls(profiler) / n
        return (time.process_time() - started[0]) / n * 1000


WORKERS = True  # ``--tasks`` makes it False


def _total_calls(profiler: cProfile.Profile) -> int:
    """Every call the profile saw, as ``pstats`` prints it ("N function calls ..."):
    its ``get_stats_profile()`` keys functions by name alone, so same-named functions of
    different modules would hide each other there (~75 calls a send went missing)."""
    printed = io.StringIO()
    pstats.Stats(profiler, stream=printed).print_stats(0)
    found = re.search(r"(\d+) function calls", printed.getvalue())
    if found is None:
        raise RuntimeError("pstats printed no call count")
    return int(found.group(1))


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def calls(n: int, rounds: int) -> None:
    """Median calls per send of each contender, backend and concurrency."""
    runs = [
        ("sdk", "asyncio", 100),
        ("sdk", "asyncio", 500),
        ("sdk", "trio", 100),
        ("sdk", "trio", 500),
        ("aiohttp", "asyncio", 100),
    ]
    got: dict[tuple[str, str, int], list[float]] = {run: [] for run in runs}
    with server.running(0.05) as srv:
        for _ in range(rounds):
            for who, backend, concurrency in runs:
                count = anyio.run(
                    _fan_out, who, srv.base_url, n, concurrency, True, backend=backend
                )
                got[(who, backend, concurrency)].append(count)
    med = {run: statistics.median(values) for run, values in got.items()}
    for (who, backend, concurrency), values in got.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"{who} {backend} c={concurrency}: {med[(who, backend, concurrency)]:.0f} ({shown})")
    for backend in ("asyncio", "trio"):
        ratio = med[("sdk", backend, 500)] / med[("sdk", backend, 100)]
        print(f"c=500 ÷ c=100, {backend}: {ratio:.3f}x")
    asyncio_100 = med[("sdk", "asyncio", 100)]
    print(f"trio ÷ asyncio (c=100): {med[('sdk', 'trio', 100)] / asyncio_100:.3f}x")
    print(f"SDK ÷ aiohttp (c=100): {asyncio_100 / med[('aiohttp', 'asyncio', 100)]:.3f}x")


def cpu(n: int, rounds: int, floors: bool) -> None:
    """CPU per send in interleaved rounds; each ratio is the median of per-round ratios.

    ``floors``: c=500 ÷ c=100 of bare aiohttp and of raw asyncio streams (each queues at
    its 100 connections too), and the SDK with a pool of 500 (no queue) ÷ the default."""
    runs = [
        ("sdk", "asyncio", 100),
        ("aiohttp", "asyncio", 100),
        ("sdk", "trio", 100),
        ("sdk", "asyncio", 500),
        ("sdk", "trio", 500),
    ]
    if floors:  # what queueing at 100 connections costs others, and no queue at all
        runs += [
            ("aiohttp", "asyncio", 500),
            ("raw", "asyncio", 100),
            ("raw", "asyncio", 500),
            ("sdk-500", "asyncio", 500),
            ("sdk-500", "trio", 500),
        ]
    got: dict[tuple[str, str, int], list[float]] = {run: [] for run in runs}
    loads = [_load()]
    with server.running(0.05) as srv:
        for i in range(rounds):
            for run in runs if i % 2 == 0 else list(reversed(runs)):
                who, backend, concurrency = run
                got[run].append(
                    anyio.run(_fan_out, who, srv.base_url, n, concurrency, False, backend=backend)
                )
            loads.append(_load())

    def ratio(a: tuple[str, str, int], b: tuple[str, str, int]) -> str:
        each = [x / y for x, y in zip(got[a], got[b])]
        shown = ", ".join(f"{r:.2f}" for r in each)
        return f"{statistics.median(each):.2f}x (rounds: {shown})"

    for run, values in got.items():
        print(f"{' '.join(map(str, run))}: median {statistics.median(values):.3f} ms")
    print("load average (1 min) after each round:", ", ".join(loads))
    print("SDK ÷ aiohttp, c=100:", ratio(("sdk", "asyncio", 100), ("aiohttp", "asyncio", 100)))
    print("trio ÷ asyncio, c=100:", ratio(("sdk", "trio", 100), ("sdk", "asyncio", 100)))
    print("c=500 ÷ c=100, asyncio:", ratio(("sdk", "asyncio", 500), ("sdk", "asyncio", 100)))
    print("c=500 ÷ c=100, trio:", ratio(("sdk", "trio", 500), ("sdk", "trio", 100)))
    if floors:
        for who in ("aiohttp", "raw"):
            print(f"c=500 ÷ c=100, {who}:", ratio((who, "asyncio", 500), (who, "asyncio", 100)))
        for backend in ("asyncio", "trio"):
            print(
                f"a pool of 500 at c=500 ÷ the default at c=100, {backend}:",
                ratio(("sdk-500", backend, 500), ("sdk", backend, 100)),
            )


def proxy(n: int, rounds: int) -> None:
    """Median calls per send, direct and through the local forwarding proxy (asyncio, c=10)."""
    got: dict[str, list[float]] = {name: [] for name in scenarios_http.CONTENDERS}
    with server.running(0.0) as srv, forward_proxy.running() as through:
        for _ in range(rounds):
            for name, (maker, proxied) in scenarios_http.CONTENDERS.items():
                url: Optional[str] = through if proxied else None
                profiler = cProfile.Profile()
                profiler.enable()
                anyio.run(scenarios_http._cpu_per_send, maker, srv.base_url, url, n, 10)
                profiler.disable()
                got[name].append(_total_calls(profiler) / n)
    med: dict[str, Any] = {name: statistics.median(values) for name, values in got.items()}
    for name, values in got.items():
        print(f"{name}: {med[name]:.0f} ({', '.join(f'{v:.0f}' for v in values)})")
    for who in ("SDK", "httpx"):
        ratio = med[f"{who}, through the proxy"] / med[f"{who}, direct"]
        print(f"{who} proxied ÷ direct: {ratio:.4f}x")


def tunnel(n: int, rounds: int) -> None:
    """HTTPS sends through the local proxy's CONNECT tunnel against direct ones, by the
    default async client (c=10), on asyncio and trio: medians of per-round CPU ratios
    (contenders interleaved in this process) and calls per send. ``httpcore's tunnel`` is
    the path tunnels took before ``textflow._http.tunnel`` (an httpcore connection, under
    trio with ``trio.SSLStream``), taken again here by giving the proxy no tunnel of the
    SDK's own. Under trio that connection now serves one request (``Shard.single_use``), so
    its figure there is that of an ``https://`` proxy's tunnel today, not of the old path."""
    import ssl
    import tempfile
    from pathlib import Path
    from unittest import mock

    from textflow import _config
    from textflow._http import convert

    contenders_ = {
        "direct": (False, False),
        "SDK's tunnel": (True, False),
        "httpcore's tunnel": (True, True),
    }
    with tempfile.TemporaryDirectory() as folder:
        cert, key = server.make_certificate(Path(folder))
        _config._ssl_context = ssl.create_default_context(cafile=str(cert))
        cpu_ratio: dict[tuple[str, str], list[float]] = {}
        calls: dict[tuple[str, str], list[float]] = {}
        with server.running(0.0, (cert, key)) as srv, forward_proxy.running() as through:
            for _ in range(rounds):
                for backend in ("asyncio", "trio"):
                    direct = 0.0
                    for name, (proxied, old) in contenders_.items():
                        url: Optional[str] = through if proxied else None
                        with (
                            mock.patch.object(convert, "Tunnel", return_value=None)
                            if old
                            else (contextlib.nullcontext())
                        ):
                            cpu = anyio.run(
                                scenarios_http._cpu_per_send,
                                scenarios_http._sdk,
                                srv.base_url,
                                url,
                                n,
                                10,
                                backend=backend,
                            )
                            profiler = cProfile.Profile()
                            profiler.enable()
                            anyio.run(
                                scenarios_http._cpu_per_send,
                                scenarios_http._sdk,
                                srv.base_url,
                                url,
                                n // 4,
                                10,
                                backend=backend,
                            )
                            profiler.disable()
                        if name == "direct":
                            direct = cpu
                        cpu_ratio.setdefault((backend, name), []).append(cpu / direct)
                        calls.setdefault((backend, name), []).append(
                            _total_calls(profiler) / (n // 4 + 10)
                        )
                print("round done, load", _load(), flush=True)
    for (backend, name), ratios in cpu_ratio.items():
        got = ", ".join(f"{r:.2f}" for r in ratios)
        print(
            f"{backend}, {name}: CPU ÷ direct {statistics.median(ratios):.2f}x ({got}); "
            f"calls per send {statistics.median(calls[(backend, name)]):.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["calls", "cpu", "proxy", "tunnel"])
    parser.add_argument("-n", type=int, default=2000, help="sends per run (2,000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument(
        "--tasks",
        action="store_true",
        help="a task per send under a semaphore of the concurrency, whose cost is counted "
        "(default: looping workers, as python -m benchmarks sends)",
    )
    parser.add_argument("--workers", action="store_true", help="looping workers (the default)")
    parser.add_argument(
        "--floors",
        action="store_true",
        help="cpu: also c=500 ÷ c=100 of bare aiohttp and raw asyncio streams, and a pool of 500",
    )
    args = parser.parse_args()
    global WORKERS
    WORKERS = not args.tasks
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load", _load())
    if args.what == "calls":
        calls(args.n, args.rounds)
    elif args.what == "cpu":
        cpu(args.n, args.rounds, args.floors)
    elif args.what == "tunnel":
        tunnel(args.n, args.rounds)
    else:
        proxy(args.n, args.rounds)
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load", _load())


if __name__ == "__main__":
    main()
