"""Benchmark: ``send_many`` throughput against a server that answers each send 50 ms late.

Run from the repository root, in the project's dev environment::

    python benchmarks/bench_send_many.py            # 10,000 sends, concurrency 100
    python benchmarks/bench_send_many.py --quick    # 1,000 sends

The server is ``FakeTextFlow().serve()`` in a child process on 127.0.0.1; every
send is processed at once and answered ``--latency`` seconds later (the fake's
``fail_next(..., delay=...)``), like a distant API. With ``concurrency`` sends in
flight the ideal wall time is ``n * latency / concurrency``; the benchmark
reports the measured wall time of each client's ``send_many`` and its ratio to
that ideal (1.00 is perfect; the rest is client and server CPU on a shared
machine). Not a test: nothing fails when it is slow.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

import anyio

import textflow

SERVER_CODE = """
import sys
from decimal import Decimal
from textflow.testing import FakeTextFlow

n, latency = int(sys.argv[1]), float(sys.argv[2])
fake = FakeTextFlow(credits=Decimal(10) ** 9)
with fake.serve("127.0.0.1") as base_url:
    print(fake.api_key, base_url, flush=True)
    for line in sys.stdin:  # one line per round: queue that round's late answers
        for _ in range(n):
            fake.fail_next("send_sms", delay=latency)
        print(len(fake.messages), flush=True)
"""


@contextmanager
def server(n: int, latency: float) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_CODE, str(n), str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        api_key, base_url = proc.stdout.readline().split()
        yield proc, api_key, base_url
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def arm(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    proc.stdout.readline()


def numbers(n: int) -> list[str]:
    return [f"+1202{index:07d}" for index in range(n)]


def run_sync(api_key: str, base_url: str, n: int, concurrency: int) -> float:
    with textflow.TextFlowClient(api_key, base_url=base_url) as client:
        started = time.perf_counter()
        report = client.send_many(numbers(n), "Hi", concurrency=concurrency, keep_outcomes=False)
        wall = time.perf_counter() - started
    assert report.sent == n, report
    return wall


def run_async(api_key: str, base_url: str, n: int, concurrency: int) -> float:
    async def main() -> float:
        async with textflow.AsyncTextFlowClient(api_key, base_url=base_url) as client:
            started = time.perf_counter()
            report = await client.send_many(
                numbers(n), "Hi", concurrency=concurrency, keep_outcomes=False
            )
            wall = time.perf_counter() - started
        assert report.sent == n, report
        return wall

    return anyio.run(main)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 sends instead of 10,000")
    parser.add_argument("-n", type=int, help="sends per run")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per answer")
    args = parser.parse_args(argv)
    n = args.n or (1_000 if args.quick else 10_000)
    ideal = n * args.latency / args.concurrency
    print(
        f"send_many: {n} sends, {args.latency * 1000:.0f} ms latency, "
        f"concurrency {args.concurrency}; ideal wall {ideal:.2f} s"
    )
    print("| client | wall s | sends/s | wall ÷ ideal |")
    print("|---|---|---|---|")
    with server(n, args.latency) as (proc, api_key, base_url):
        for name, run in (("TextFlowClient", run_sync), ("AsyncTextFlowClient", run_async)):
            arm(proc)
            wall = run(api_key, base_url, n, args.concurrency)
            print(f"| {name}.send_many | {wall:.2f} | {n / wall:,.0f} | {wall / ideal:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
