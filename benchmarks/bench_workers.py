"""Benchmark: one campaign on 1, 2 and 4 worker processes sharing a Redis or Postgres journal.

Run from the repository root, in the project's dev environment, on a machine with
``redis-server`` and PostgreSQL (the ``postgresql`` package)::

    python -m benchmarks.bench_workers                 # 10,000 recipients, 3 rounds
    python -m benchmarks.bench_workers --recipients 2000 --rounds 1
    python -m benchmarks.bench_workers --only Postgres
    python -m benchmarks.bench_workers --claim-ahead     # claiming ahead against not

The server is ``benchmarks.server`` (answers every send ``--latency`` seconds
late, like a distant API) in a child process; Redis and PostgreSQL are
throwaway servers on 127.0.0.1 (started as the tests start them). Every worker
process runs ``send_many`` over the whole list with ``--concurrency`` sends in
flight and the shared journal; the journal decides who sends whom. ``sync``
workers use ``TextFlowClient``, ``async`` ones ``AsyncTextFlowClient`` (whose
journal calls run in worker threads). Wall time is from the first worker's
start to the last one's end (interpreter start-up excluded). The ideal is
``n * latency / (workers * concurrency)``.

CPU is counted for everything the run needs on this machine: the workers
(their process time), Redis (``INFO cpu``), PostgreSQL (its processes, from
/proc) and the answering server. ``CPU ms/recipient`` times the recipients,
divided by the cores, is the least wall time the machine allows whatever the
code's concurrency: ``CPU floor`` in the table. When it is close to the wall,
the run was CPU-bound, not latency-bound. ``store calls/recipient`` counts the
journal's round trips: Redis's scripts and transactions or Postgres's
transactions (each statement is one), all workers together, per recipient.

Configurations run interleaved, round after round, and the table shows the
median of the rounds; the load average is printed with each run, since other
work on the machine slows every contender. Not a test: nothing fails when it
is slow.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent


def worker(journal: str, base_url: str, count: int, concurrency: int, mode: str) -> None:
    """One worker process: send to everyone not yet claimed; print start, end, sent, CPU."""
    numbers = [f"+1202{index:07d}" for index in range(count)]
    if mode == PER_RECORD:
        per_record()
    if mode == NO_AHEAD:
        no_claim_ahead()
    if mode in ("async", PER_RECORD):
        import anyio

        from textflow import AsyncTextFlowClient

        async def main() -> tuple[float, float, float, int]:
            async with AsyncTextFlowClient(
                "bench-key", base_url=base_url, max_retries=0
            ) as aclient:
                await aclient.send_sms(numbers[0], "warm-up")  # connect before the clock starts
                start, cpu = time.time(), time.process_time()
                areport = await aclient.send_many(
                    numbers, "Hi", concurrency=concurrency, journal=journal or None
                )
                return start, time.time(), time.process_time() - cpu, areport.sent

        start, end, cpu, sent = anyio.run(main)
    else:
        from textflow import TextFlowClient

        with TextFlowClient("bench-key", base_url=base_url, max_retries=0) as client:
            client.send_sms(numbers[0], "warm-up")
            start, cpu = time.time(), time.process_time()
            report = client.send_many(
                numbers, "Hi", concurrency=concurrency, journal=journal or None
            )
            end, cpu, sent = time.time(), time.process_time() - cpu, report.sent
    print(json.dumps({"start": start, "end": end, "sent": sent, "cpu": cpu}), flush=True)


#: The async driver as it was before records went in batches: one thread hop per record.
PER_RECORD = "async, a hop per record"


def per_record() -> None:
    """Make this process's async driver hand each record to its own thread hop."""
    from textflow._many import _async

    async def ended(self: object, run: Any, io: Any, end: Any) -> None:
        await io(run, run.ended, [end])

    _async.Records.ended = ended  # type: ignore[method-assign]


#: The sync driver as it was before it claimed ahead: each step asks for its free slots.
NO_AHEAD = "sync, no claim-ahead"


def no_claim_ahead() -> None:
    """Make this process's drivers ask each claim step for their free slots only."""
    from textflow._many._run import Run

    def ahead(self: object, spread: float, tried: int, claimed: int) -> float:
        return 1.0

    Run.ahead = ahead  # type: ignore[method-assign]


def run(
    workers: int, journal: str, base_url: str, count: int, concurrency: int, mode: str
) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.bench_workers", "--worker", journal, base_url]
    command += [str(count), str(concurrency), mode]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(workers)
    ]
    results = [json.loads(proc.communicate()[0]) for proc in procs]
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    return {
        "wall": wall,
        "sent": sum(r["sent"] for r in results),
        "cpu": sum(r["cpu"] for r in results),
    }


def redis_cpu(url: str) -> float:
    import redis

    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def redis_calls(url: str) -> int:
    """The journal's round trips to Redis: its scripts (EVALSHA, EVAL) and transactions
    (EXEC); the commands a script runs inside count as none."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats: Any = client.info("commandstats")
    finally:
        client.close()
    names = ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_exec")
    return sum(int(stats[name]["calls"]) for name in names if name in stats)


def postgres_calls(url: str) -> int:
    """Transactions the cluster has run (the journal's statements, in autocommit: one
    round trip each), once the workers' ended sessions have reported them."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        for _ in range(50):  # a session reports its counts as it ends, within a second
            if not db.execute(
                "SELECT 1 FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND pid <> pg_backend_pid()"
            ).fetchone():
                break
            time.sleep(0.05)
        db.execute("SELECT pg_stat_clear_snapshot()")
        row = db.execute("SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def postgres_cpu(data: str) -> float:
    """CPU seconds of the cluster: the postmaster, its children that ended and those alive."""
    ticks = os.sysconf("SC_CLK_TCK")
    with open(os.path.join(data, "postmaster.pid")) as handle:
        master = int(handle.readline())
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(entry), int(fields[1])
        if pid == master:
            total += sum(int(value) for value in fields[11:15])  # own and reaped children's
        elif parent == master:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recipients", type=int, default=10_000, help="recipients per campaign (10,000)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds the server takes per send (0.05)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=20, help="sends in flight per worker (20)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; the table is their median (3)"
    )
    parser.add_argument("--only", help="run only this journal's rows (none, Redis, Postgres)")
    parser.add_argument(
        "--async-records",
        action="store_true",
        help="only the async driver on one worker, its records in batches against "
        "one thread hop per record (as before)",
    )
    parser.add_argument(
        "--claim-ahead",
        action="store_true",
        help="only the sync driver, 1 and 4 workers, claiming ahead against not (as before)",
    )
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        journal, base_url, count, concurrency, mode = args.worker
        worker(journal, base_url, int(count), int(concurrency), mode)
        return

    sys.path.insert(0, str(ROOT))
    from benchmarks.server import running

    from tests.many.stores_support import PostgresServer, RedisServer

    redis = RedisServer(tempfile.mkdtemp(prefix="textflow-bench-redis-"))
    redis.start()
    postgres = PostgresServer()
    postgres.start()
    n, latency, concurrency = args.recipients, args.latency, args.concurrency
    cores = os.cpu_count() or 1
    stores: dict[str, Callable[[], str]] = {
        "none": lambda: "",
        "Redis": lambda: f"{redis.url}?campaign={uuid.uuid4().hex}",
        "Postgres": lambda: f"{postgres.url()}?campaign={uuid.uuid4().hex}",
    }
    configs = [("none", "sync", 1), ("none", "async", 1)]
    configs += [(store, "sync", w) for store in ("Redis", "Postgres") for w in (1, 2, 4)]
    configs += [(store, "async", w) for store in ("Redis", "Postgres") for w in (1, 4)]
    modes = ("async", PER_RECORD)
    if args.async_records:  # the async driver's records in batches against one hop each
        configs = [("none", "async", 1)]
        configs += [(store, mode, 1) for store in ("Redis", "Postgres") for mode in modes]
    if args.claim_ahead:  # claims ahead of the free slots against each step its slots
        configs = [("none", "sync", 1)]
        for store in ("Redis", "Postgres"):
            configs += [(store, "sync", 1), (store, "sync", 4), (store, NO_AHEAD, 4)]
    if args.only:  # with the no-journal rows, which the journal cost is measured against
        configs = [c for c in configs if c[0] in (args.only, "none")]
    found: dict[tuple[str, str, int], list[dict[str, float]]] = {c: [] for c in configs}
    loads: list[float] = []
    try:
        with running(latency) as server:
            for round_ in range(args.rounds):
                for store, mode, workers in configs:
                    calls_before = (
                        redis_calls(redis.url)
                        if store == "Redis"
                        else postgres_calls(postgres.url())
                        if store == "Postgres"
                        else 0
                    )
                    before, server_before = server.stats()
                    store_before = (
                        redis_cpu(redis.url)
                        if store == "Redis"
                        else postgres_cpu(postgres.data)
                        if store == "Postgres"
                        else 0.0
                    )
                    result = run(workers, stores[store](), server.base_url, n, concurrency, mode)
                    after, server_after = server.stats()
                    store_after = (
                        redis_cpu(redis.url)
                        if store == "Redis"
                        else postgres_cpu(postgres.data)
                        if store == "Postgres"
                        else 0.0
                    )
                    calls_after = (
                        redis_calls(redis.url)
                        if store == "Redis"
                        else postgres_calls(postgres.url())
                        if store == "Postgres"
                        else 0
                    )
                    load = os.getloadavg()[0]
                    loads.append(load)
                    cpu = result["cpu"] + (store_after - store_before)
                    cpu += server_after - server_before
                    result.update(
                        requests=after - before - workers,  # less the warm-up sends
                        cpu_total=cpu,
                        calls=calls_after - calls_before,
                        load=load,
                    )
                    found[(store, mode, workers)].append(result)
                    print(round_, store, mode, workers, result, file=sys.stderr, flush=True)
    finally:
        postgres.stop()
        postgres.remove()
        redis.stop()
        shutil.rmtree(redis.workdir, ignore_errors=True)
    print(
        f"\n{n:,} recipients, {latency * 1000:.0f} ms latency, concurrency {concurrency} "
        f"per worker, no rate limit; median of {args.rounds} rounds; {cores} cores; load "
        f"average (1 min) during the runs {min(loads):.1f} to {max(loads):.1f}\n"
    )
    print(
        "| journal | driver | workers | wall (s) | sends/s | wall ÷ ideal | vs. 1 worker | "
        "journal cost | CPU ms/recipient | CPU floor (s) | store calls/recipient | requests |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    median: dict[tuple[str, str, int], float] = {
        config: statistics.median(r["wall"] for r in runs) for config, runs in found.items()
    }
    for store, mode, workers in configs:
        runs = found[(store, mode, workers)]
        wall = median[(store, mode, workers)]
        ideal = n * latency / (workers * concurrency)
        base = "async" if mode == PER_RECORD else "sync" if mode == NO_AHEAD else mode
        speedup = median[(store, mode if (store, mode, 1) in median else base, 1)] / wall
        cost = (
            f"{(wall / median[('none', base, 1)] - 1) * 100:+.0f} %"
            if store != "none" and workers == 1
            else ""
        )
        cpu_ms = statistics.median(r["cpu_total"] for r in runs) / n * 1000
        floor = cpu_ms / 1000 * n / cores
        requests = max(int(r["requests"]) for r in runs)
        calls = f"{statistics.median(r['calls'] for r in runs) / n:.2f}" if store != "none" else ""
        print(
            f"| {store} | {mode} | {workers} | {wall:.2f} | {n / wall:,.0f} | {wall / ideal:.2f} | "
            f"{speedup:.2f}x | {cost} | {cpu_ms:.2f} | {floor:.2f} | {calls} | {requests:,} |"
        )


if __name__ == "__main__":
    main()
