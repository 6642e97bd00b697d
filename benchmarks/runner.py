"""The command line: ``python -m benchmarks [--quick] [--legacy-dir DIR] [--only NAME ...]``.

Runs every scenario, prints the report, and writes benchmarks/results.md and the
results block of docs/performance.md (``--no-write`` to only print; a run of some
scenarios with ``--only`` only prints, so that it never replaces a whole run's results
with a part of them). Asserts no timing: a contender that fails a send stops the
run, since its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from benchmarks import forward_proxy, report, scenarios, scenarios_http, server

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"
PAGE = HERE.parent / "docs" / "performance.md"
SCENARIOS = ("fan-out", "cheap", "imports", "per-call", "tls", "busy-loop", "proxy")


@dataclass(frozen=True)
class Settings:
    n: int  # sends per fan-out run
    rounds: int  # interleaved rounds per fan-out scenario
    latency: float  # seconds the server waits before each answer
    concurrencies: tuple[int, ...]
    trio_concurrencies: tuple[int, ...]
    cheap_runs: int
    cheap_k: int  # further clients made per run
    import_runs: int
    mock_blocks: int
    tls_n: int
    tls_rounds: int


FULL = Settings(1000, 3, 0.05, (100, 500), (100, 500), 5, 50, 9, 30, 500, 3)
QUICK = Settings(200, 1, 0.05, (100,), (100,), 1, 20, 3, 6, 100, 1)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def about(settings: Settings, quick: bool, legacy_dir: Optional[Path]) -> list[str]:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    libs = ", ".join(
        f"{name} {_version(name)}"
        for name in ("textflowsms", "httpx", "httpcore", "pydantic", "aiohttp", "httpx-aiohttp")
    )
    return [
        f"Date: {now}{' (quick run: fewer sends and rounds)' if quick else ''}",
        f"Machine: {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; shared and noisy, so read the ratios",
        f"Libraries: {libs}; textflowsms 0.1.0 "
        + ("from PyPI, in its own process" if legacy_dir else "not measured (no --legacy-dir)"),
        f"Server: `benchmarks/server.py` (asyncio, HTTP/1.1 keep-alive) in its own process on "
        f"127.0.0.1; fan-out: {settings.n} sends per run, {settings.rounds} interleaved "
        "round(s); every client may hold 100 connections (the SDK's default pool), but the "
        "one labelled with a larger pool",
    ]


def run(settings: Settings, quick: bool, legacy_dir: Optional[Path], only: set[str]) -> str:
    results = report.Results(about=about(settings, quick, legacy_dir))
    if "fan-out" in only:
        with server.running(settings.latency) as srv:
            for backend, concurrencies in [
                ("asyncio", settings.concurrencies),
                ("trio", settings.trio_concurrencies),
            ]:
                for concurrency in concurrencies:
                    _say(f"fan-out {backend} x{concurrency}")
                    threads = backend == "asyncio" and concurrency <= 100
                    results.fan_outs.append(
                        scenarios.fan_out(
                            srv, backend, concurrency, settings.n, settings.rounds, threads
                        )
                    )
    if "cheap" in only:
        _say("cheap clients")
        results.cheap = scenarios.cheap_clients(settings.cheap_k, settings.cheap_runs)
    if "imports" in only:
        _say("import time")
        results.imports, results.processes = scenarios.imports(settings.import_runs)
    if "per-call" in only:
        _say("per-call CPU")
        results.per_call = scenarios.per_call_cpu(settings.mock_blocks, 250)
    if "tls" in only:
        _say("sequential over TLS")
        with tempfile.TemporaryDirectory() as folder:
            cert, key = server.make_certificate(Path(folder))
            with server.running(0.0, (cert, key)) as srv:
                results.tls_wall, results.tls_cpu = scenarios.sequential_tls(
                    srv, cert, settings.tls_n, settings.tls_rounds, legacy_dir
                )
                results.tls_n = settings.tls_n
    return report.render(results) + _http_scenarios(quick, only)


def _http_scenarios(quick: bool, only: set[str]) -> str:
    """The HTTP layer's memory and proxy scenarios (``benchmarks.scenarios_http``)."""
    text = ""
    if "busy-loop" in only:
        _say("a loop that never yields")
        sends = 2_000 if quick else 10_000
        text += scenarios_http.render_busy_loop(scenarios_http.busy_loop(sends), sends)
    if "proxy" in only:
        _say("proxied sends")
        n, rounds = (200, 1) if quick else (1000, 3)
        with server.running(0.0) as srv, forward_proxy.running() as proxy:
            cpu = scenarios_http.proxied(srv.base_url, proxy, n, rounds)
        text += scenarios_http.render_proxied(cpu, n, rounds)
    return text


def _say(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what} ...", file=sys.stderr, flush=True)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer sends and rounds (< 1 min)")
    parser.add_argument("--legacy-dir", type=Path, help="where textflowsms 0.1.0 is installed")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("-n", type=int, help="sends per fan-out run")
    parser.add_argument("--import-runs", type=int, help="rounds of the import scenario")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.n:
        settings = dataclasses.replace(settings, n=args.n)
    if args.import_runs:
        settings = dataclasses.replace(settings, import_runs=args.import_runs)
    legacy = None if args.legacy_dir is None else args.legacy_dir.resolve()
    if legacy is not None and not (legacy / "textflowsms").is_dir():
        parser.error(f"textflowsms 0.1.0 is not in {legacy}")
    started = time.monotonic()
    text = run(settings, args.quick, legacy, set(args.only))
    command = "nox -s bench" + (" -- --quick" if args.quick else "")
    text += f"\nWhole run: {time.monotonic() - started:.0f} s (`{command}`).\n"
    print(text)
    partial = set(args.only) != set(SCENARIOS)
    if partial and not args.no_write:
        _say("only some scenarios ran: printed, not written (a whole run writes the results)")
    if not (args.no_write or partial):
        report.write_results(RESULTS, text)
        report.write_into_page(PAGE, text)
        _say(f"written to {RESULTS.name} and {PAGE.relative_to(HERE.parent)}")
    return 0
