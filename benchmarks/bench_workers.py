"""Benchmark: one campaign on 1, 2 and 4 worker processes sharing a Redis or Postgres journal.

Run from the repository root, in the project's dev environment, on a machine with
``redis-server`` and PostgreSQL (the ``postgresql`` package)::

    python -m benchmarks.bench_workers                 # 10,000 recipients
    python -m benchmarks.bench_workers --recipients 2000

The server is ``benchmarks.server`` (answers every send ``--latency`` seconds
late, like a distant API) in a child process; Redis and PostgreSQL are
throwaway servers on 127.0.0.1 (started as the tests start them). Every worker
process runs ``TextFlowClient.send_many`` over the whole list with
``--concurrency`` sends in flight and the shared journal; the journal decides
who sends whom. Wall time is from the first worker's start to the last one's
end (interpreter start-up excluded). The ideal is ``n * latency / (workers *
concurrency)``. The server's request count shows each recipient was sent once.
Not a test: nothing fails when it is slow.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent


def worker(journal: str, base_url: str, count: int, concurrency: int) -> None:
    """One worker process: send to everyone not yet claimed; print start, end, sent."""
    from textflow import TextFlowClient

    numbers = [f"+1202{index:07d}" for index in range(count)]
    with TextFlowClient("bench-key", base_url=base_url, max_retries=0) as client:
        client.send_sms(numbers[0], "warm-up")  # connect before the clock starts
        start = time.time()
        report = client.send_many(numbers, "Hi", concurrency=concurrency, journal=journal or None)
        end = time.time()
    print(json.dumps({"start": start, "end": end, "sent": report.sent}), flush=True)


def run(
    workers: int, journal: str, base_url: str, count: int, concurrency: int
) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.bench_workers", "--worker", journal, base_url]
    command += [str(count), str(concurrency)]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(workers)
    ]
    results = [json.loads(proc.communicate()[0]) for proc in procs]
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    return {"wall": wall, "sent": sum(r["sent"] for r in results)}


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        journal, base_url, count, concurrency = args.worker
        worker(journal, base_url, int(count), int(concurrency))
        return

    sys.path.insert(0, str(ROOT))
    from benchmarks.server import running

    from tests.many.stores_support import PostgresServer, RedisServer

    redis = RedisServer(tempfile.mkdtemp(prefix="textflow-bench-redis-"))
    redis.start()
    postgres = PostgresServer()
    postgres.start()
    n, latency, concurrency = args.recipients, args.latency, args.concurrency
    rows = []
    try:
        with running(latency) as server:
            stores = {
                "none": lambda: "",
                "Redis": lambda: f"{redis.url}?campaign={uuid.uuid4().hex}",
                "Postgres": lambda: f"{postgres.url()}?campaign={uuid.uuid4().hex}",
            }
            baseline = None
            for store, journal in stores.items():
                for workers in (1,) if store == "none" else (1, 2, 4):
                    before, _ = server.stats()
                    result = run(workers, journal(), server.base_url, n, concurrency)
                    after, _ = server.stats()
                    requests = after - before - workers  # less the warm-up sends
                    ideal = n * latency / (workers * concurrency)
                    if store == "none":
                        baseline = result["wall"]
                    rows.append((store, workers, result["wall"], ideal, requests, result["sent"]))
                    print(rows[-1], file=sys.stderr, flush=True)
    finally:
        postgres.stop()
        postgres.remove()
        redis.stop()
    assert baseline is not None
    print(
        f"\n{n:,} recipients, {latency * 1000:.0f} ms latency, concurrency {concurrency} "
        "per worker, no rate limit\n"
    )
    print(
        "| journal | workers | wall (s) | sends/s | wall ÷ ideal | vs. 1 worker | "
        "journal cost | requests |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    one: dict[str, float] = {}
    for store, workers, wall, ideal, requests, _sent in rows:
        one.setdefault(store, wall)
        speedup = one[store] / wall
        cost = "" if store == "none" or workers != 1 else f"{(wall / baseline - 1) * 100:+.0f} %"
        print(
            f"| {store} | {workers} | {wall:.2f} | {n / wall:,.0f} | {wall / ideal:.2f} | "
            f"{speedup:.2f}x | {cost} | {requests:,} |"
        )


if __name__ == "__main__":
    main()
