"""Benchmarks: textflowsms 0.1.0 (PyPI) against textflow, over the same local fake server.

Run from the repository root, in the project's dev environment::

    python benchmarks/bench_clients.py            # full run, about 1-2 minutes
    python benchmarks/bench_clients.py --quick    # smoke run, about 15 seconds
    python benchmarks/bench_clients.py --profile  # also cProfile the SDK's hot path

What it measures (see benchmarks/README.md for how to read the numbers):

a. ``textflowsms==0.1.0`` from PyPI: ``sendSMS`` N times, sequentially. It runs
   in its own worker process (``python -I -S``, sys.path = the standard library
   plus a ``pip install --target`` directory under /tmp), because it shares the
   import name ``textflowsms`` with this project. Its hard-coded
   ``https://textflow.me/api`` is rewritten to the local server by wrapping
   ``requests.post`` in that process.
b. our legacy shim ``textflowsms.sendSMS`` N times (``TEXTFLOW_BASE_URL`` set).
c. ``TextFlowClient.send_sms`` N times, sequentially.
d. ``AsyncTextFlowClient.send_sms`` N times, 20 at a time (anyio task group), and (d')
   the same POST on a bare ``httpx.AsyncClient``, to tell the SDK's cost from httpx's.
e. per-call cost without a network: ``TextFlowClient.send_sms`` against a bare
   ``httpx.Client`` POST + ``json.loads``, both over the same ``httpx.MockTransport``
   (CPU time, short blocks interleaved: robust on a busy machine).
f. ``import textflow`` against ``import httpx`` (and ``import textflowsms`` 0.1.0),
   each in fresh interpreters with ``-X importtime``.

The server is ``FakeTextFlow().serve()`` (threaded HTTP/1.1 keep-alive) in a
child process bound to 127.0.0.1, so every client (a-d) runs in a different
process from the server. Nothing leaves the machine; pip is used once to fetch
textflowsms 0.1.0 and its dependencies into the cache directory.

The contenders are interleaved round by round (a b c d d', then d' d c b a, ...) and
the medians of the rounds are reported, with ratios to (a). On a shared, noisy
machine compare ratios from one run, never absolute numbers across runs.

A full run writes benchmarks/results.md (``--output`` elsewhere, ``--output ''``
to skip); ``--quick`` only prints unless ``--output`` is given.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import json
import os
import platform
import pstats
import select
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import anyio
import httpx

import textflow
import textflowsms as shim
from textflow import AsyncTextFlowClient, TextFlowClient
from textflow.testing import FakeTextFlow

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "results.md"
DEFAULT_LEGACY_DIR = Path("/tmp/textflow-bench/textflowsms-0.1.0")
LEGACY_REQUIREMENT = "textflowsms==0.1.0"

PHONE = "+11234567890"
TEXT = "Benchmark message"
CONCURRENCY = 20
REPLY_TIMEOUT = 120.0  # seconds to wait for a child process to answer
NETWORK_BUDGET = 90.0  # seconds; no new a-d round starts after this (the run stays bounded)
PYCACHE_PREFIX = Path("/tmp/textflow-bench/pycache")  # for (f); keeps .pyc out of the project


@dataclass(frozen=True)
class Settings:
    n: int  # calls per round, contenders a-d
    rounds: int
    mock_calls: int  # calls per block, benchmark e
    mock_rounds: int  # blocks per contender, benchmark e
    import_runs: int  # fresh interpreters per module, benchmark f


FULL = Settings(n=300, rounds=9, mock_calls=250, mock_rounds=40, import_runs=9)
QUICK = Settings(n=60, rounds=3, mock_calls=250, mock_rounds=6, import_runs=3)


# --------------------------------------------------------------------------- child processes

SERVER_CODE = """
import sys
from decimal import Decimal
from textflow.testing import FakeTextFlow

fake = FakeTextFlow(credits=Decimal(10) ** 9)  # never runs out, whatever N is
with fake.serve("127.0.0.1") as base_url:
    print(fake.api_key, base_url, flush=True)
    sys.stdin.read()  # serve until the benchmark closes our stdin
"""

# Runs under `python -I -S`: sys.path is the standard library and the --target dir only.
LEGACY_WORKER_CODE = """
import importlib.metadata, importlib.util, json, sys, time

legacy_dir, base_url, api_key, phone, text = sys.argv[1:6]
sys.path.insert(0, legacy_dir)
assert importlib.util.find_spec("textflow") is None, "the project leaked onto sys.path"

import requests
import textflowsms as tf

assert tf.__file__.startswith(legacy_dir), tf.__file__
_post = requests.post

def post(url, *args, **kwargs):
    # 0.1.0 hard-codes https://textflow.me/api; send it to the local fake instead.
    # (A timeout, which 0.1.0 lacks, so that a stuck server cannot hang the benchmark.)
    kwargs.setdefault("timeout", 30)
    return _post(url.replace("https://textflow.me/api", base_url, 1), *args, **kwargs)

requests.post = post
tf.useKey(api_key)
assert tf.sendSMS(phone, text).ok  # warm up (first-call imports inside requests)
print(json.dumps({
    "textflowsms": importlib.metadata.version("textflowsms"),
    "requests": requests.__version__,
}), flush=True)

for line in sys.stdin:
    n = int(line)
    ok = 0
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(n):
        ok += tf.sendSMS(phone, text).ok
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"elapsed": elapsed, "cpu": cpu, "ok": ok}), flush=True)
"""


def _read_line(proc: subprocess.Popen[str], what: str) -> str:
    """One line from a child's stdout, or an error if it takes longer than REPLY_TIMEOUT."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], REPLY_TIMEOUT)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        raise RuntimeError(f"{what} did not answer (exit code {proc.poll()}).")
    return line


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def fake_server() -> Iterator[tuple[str, str]]:
    """A ``FakeTextFlow`` HTTP server in a child process; yields ``(api_key, base_url)``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_CODE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        api_key, base_url = _read_line(proc, "the fake server").split()
        if urlsplit(base_url).hostname != "127.0.0.1":
            raise RuntimeError(f"the fake server is not on loopback: {base_url}")
        yield api_key, base_url
    finally:
        _stop(proc)


def install_legacy(target: Path) -> None:
    """``pip install --target`` textflowsms 0.1.0 (with requests) once; reused afterwards."""
    if (target / "textflowsms" / "__init__.py").exists() and (target / "requests").is_dir():
        return
    print(f"installing {LEGACY_REQUIREMENT} into {target} ...", file=sys.stderr)
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(target),
            LEGACY_REQUIREMENT,
        ],
        check=True,
    )


class LegacyWorker:
    """textflowsms 0.1.0 in its own process, told over stdin to make N calls."""

    def __init__(self, legacy_dir: Path, base_url: str, api_key: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                "-c",
                LEGACY_WORKER_CODE,
                str(legacy_dir),
                base_url,
                api_key,
                PHONE,
                TEXT,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.versions: dict[str, str] = json.loads(_read_line(self.proc, "textflowsms 0.1.0"))

    def run(self, n: int) -> Timing:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        reply = json.loads(_read_line(self.proc, "textflowsms 0.1.0"))
        _check_ok("textflowsms 0.1.0", reply["ok"], n)
        return Timing(reply["elapsed"], reply["cpu"])

    def close(self) -> None:
        _stop(self.proc)


# --------------------------------------------------------------------------- contenders a-d


@dataclass(frozen=True)
class Timing:
    elapsed: float  # wall-clock seconds for the N calls
    cpu: float  # CPU seconds the client's process spent on them (the server is elsewhere)


def _check_ok(name: str, ok: int, n: int) -> None:
    if ok != n:
        raise RuntimeError(f"{name}: only {ok} of {n} calls succeeded; the numbers are void.")


def _timed_sync(name: str, call: Callable[[], Any], n: int) -> Timing:
    ok = 0
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(n):
        ok += call().ok
    timing = Timing(time.perf_counter() - start, time.process_time() - cpu)
    _check_ok(name, ok, n)
    return timing


Send = Callable[[], Awaitable[bool]]  # one send_sms; True if the answer was ok


@asynccontextmanager
async def _async_sender(bare: bool, api_key: str, base_url: str) -> AsyncIterator[Send]:
    """``AsyncTextFlowClient.send_sms``, or (``bare``) the same POST on a bare httpx client."""
    if not bare:
        async with AsyncTextFlowClient(api_key, base_url=base_url) as client:

            async def send() -> bool:
                return (await client.send_sms(PHONE, TEXT)).ok

            yield send
        return
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {api_key}"},
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),  # as the SDK
    ) as http:
        url = f"{base_url}/send-sms"

        async def send() -> bool:
            response = await http.post(url, json={"phone_number": PHONE, "text": TEXT})
            return bool(json.loads(response.content)["ok"])

        yield send


async def _async_round(api_key: str, base_url: str, n: int, bare: bool) -> Timing:
    """One round of (d): a fresh client (its pool warmed up untimed), N calls, CONCURRENCY at
    a time. A fresh client per round because connections belong to one event loop."""
    ok = 0

    async def worker(send: Send, calls: Iterator[int]) -> None:
        nonlocal ok
        for _ in calls:
            answered_ok = await send()
            ok += answered_ok  # not `ok += await send()`: that reads `ok` before awaiting

    async def run(send: Send, total: int) -> Timing:
        calls = iter(range(total))  # shared: each worker takes the next call
        cpu, start = time.process_time(), time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(CONCURRENCY):
                tg.start_soon(worker, send, calls)
        return Timing(time.perf_counter() - start, time.process_time() - cpu)

    async with _async_sender(bare, api_key, base_url) as send:
        await run(send, CONCURRENCY)  # warm-up: open CONCURRENCY pooled connections
        ok = 0
        timing = await run(send, n)
    _check_ok("bare httpx.AsyncClient" if bare else "AsyncTextFlowClient", ok, n)
    return timing


@dataclass
class Contender:
    key: str
    label: str
    run: Callable[[int], Timing]  # N -> timing of N calls
    rates: list[float] = field(default_factory=list)  # calls/s, one per round
    cpu_ms: list[float] = field(default_factory=list)  # client CPU ms per call, one per round

    def record(self, n: int) -> None:
        timing = self.run(n)
        self.rates.append(n / timing.elapsed)
        self.cpu_ms.append(timing.cpu / n * 1e3)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    def ratio_to(self, other: Contender) -> float:
        """Median over rounds of (my rate / other's rate in the same round)."""
        return statistics.median(mine / theirs for mine, theirs in zip(self.rates, other.rates))

    def cpu_ratio_to(self, other: Contender) -> float:
        """Median over rounds of (my CPU per call / other's in the same round)."""
        return statistics.median(mine / theirs for mine, theirs in zip(self.cpu_ms, other.cpu_ms))


def network_benchmarks(
    settings: Settings, legacy_dir: Path, deadline: float
) -> tuple[list[Contender], dict[str, str]]:
    """Contenders a-d against one fake server, interleaved round by round."""
    with fake_server() as (api_key, base_url):
        legacy = LegacyWorker(legacy_dir, base_url, api_key)
        os.environ["TEXTFLOW_BASE_URL"] = base_url  # for the shim's default client
        assert shim.sendSMS is textflow.sendSMS  # our shim (its client is built on first use)
        shim.useKey(api_key)
        client = TextFlowClient(api_key, base_url=base_url)
        try:
            contenders = [
                Contender("a", "textflowsms 0.1.0 sendSMS (requests)", legacy.run),
                Contender(
                    "b",
                    "textflow legacy shim tf.sendSMS",
                    lambda n: _timed_sync("shim", lambda: shim.sendSMS(PHONE, TEXT), n),
                ),
                Contender(
                    "c",
                    "TextFlowClient.send_sms",
                    lambda n: _timed_sync(
                        "TextFlowClient", lambda: client.send_sms(PHONE, TEXT), n
                    ),
                ),
                Contender(
                    "d",
                    f"AsyncTextFlowClient.send_sms x{CONCURRENCY}",
                    lambda n: anyio.run(_async_round, api_key, base_url, n, False),
                ),
                Contender(
                    "d'",
                    f"bare httpx.AsyncClient POST x{CONCURRENCY} (reference for d)",
                    lambda n: anyio.run(_async_round, api_key, base_url, n, True),
                ),
            ]
            for contender in contenders:  # warm up: imports, first connections
                contender.run(5)
            for round_no in range(settings.rounds):
                if round_no and time.monotonic() > deadline:
                    print(f"time budget reached after {round_no} rounds", file=sys.stderr)
                    break
                order = contenders if round_no % 2 == 0 else contenders[::-1]
                for contender in order:
                    contender.record(settings.n)
                print(
                    f"round {round_no + 1}/{settings.rounds}: "
                    + "  ".join(f"{c.key}={c.rates[-1]:.0f}/s" for c in contenders),
                    file=sys.stderr,
                )
        finally:
            client.close()
            legacy.close()
    return contenders, legacy.versions


# --------------------------------------------------------------------------- e: per-call cost

MOCK_BASE_URL = "https://textflow.invalid/api"


def _canned_send_sms_body() -> bytes:
    """A real send-sms answer from the fake (in process), replayed by the mock transport."""
    fake = FakeTextFlow()
    with httpx.Client(transport=fake.transport()) as http:
        response = http.post(
            f"{MOCK_BASE_URL}/send-sms",
            json={"phone_number": PHONE, "text": TEXT},
            headers={"Authorization": f"Bearer {fake.api_key}"},
        )
    assert response.json()["ok"] is True
    return response.content


@contextmanager
def mock_pair() -> Iterator[tuple[Callable[[], Any], Callable[[], Any]]]:
    """``(sdk_call, bare_call)``: the same POST and answer, with and without the SDK."""
    body = _canned_send_sms_body()
    headers = {"Content-Type": "application/json"}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, content=body)

    transport = httpx.MockTransport(answer)
    api_key = "tf_bench_key"
    sdk = TextFlowClient(
        api_key, base_url=MOCK_BASE_URL, http_client=httpx.Client(transport=transport)
    )
    bare = httpx.Client(
        transport=transport,
        headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
    )
    url = f"{MOCK_BASE_URL}/send-sms"

    def sdk_call() -> Any:
        return sdk.send_sms(PHONE, TEXT)

    def bare_call() -> Any:
        response = bare.post(url, json={"phone_number": PHONE, "text": TEXT})
        return json.loads(response.content)

    try:
        assert sdk_call().ok
        assert bare_call()["ok"]
        yield sdk_call, bare_call
    finally:
        sdk.close()
        sdk._http.close()  # ours, passed in: the SDK leaves it open
        bare.close()


def _per_call_us(call: Callable[[], Any], calls: int) -> float:
    """CPU microseconds per call. CPU time, not wall time: this is pure computation in one
    thread, and CPU time does not count the moments another process had the core."""
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) / calls * 1e6


def overhead_benchmark(settings: Settings) -> dict[str, float]:
    """(e): CPU microseconds per call, bare httpx vs TextFlowClient, in short blocks
    interleaved ABBA so that a burst of load from elsewhere hits both alike."""
    bare_us: list[float] = []
    sdk_us: list[float] = []
    with mock_pair() as (sdk_call, bare_call):
        _per_call_us(sdk_call, 200)  # warm up
        _per_call_us(bare_call, 200)
        for round_no in range(settings.mock_rounds):
            pairs = [(bare_us, bare_call), (sdk_us, sdk_call)]
            for results, call in pairs if round_no % 2 == 0 else pairs[::-1]:
                results.append(_per_call_us(call, settings.mock_calls))
    ratios = [s / b for s, b in zip(sdk_us, bare_us)]
    return {
        "bare_us": statistics.median(bare_us),
        "sdk_us": statistics.median(sdk_us),
        "ratio": statistics.median(ratios),  # per block pair, side by side
    }


def profile_sdk(calls: int, top: int = 25) -> None:
    """cProfile ``TextFlowClient.send_sms`` over the mock transport; print the top functions."""
    with mock_pair() as (sdk_call, _):
        _per_call_us(sdk_call, 200)
        profiler = cProfile.Profile()
        profiler.enable()
        _per_call_us(sdk_call, calls)
        profiler.disable()
    for sort in ("tottime", "cumulative"):
        print(f"\n--- cProfile, {calls} calls of TextFlowClient.send_sms, by {sort} ---")
        pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats(sort).print_stats(top)


# --------------------------------------------------------------------------- f: import time


def _import_ms(module: str, legacy_dir: Optional[Path] = None) -> float:
    """Cumulative ``-X importtime`` of ``import module`` in a fresh interpreter, in ms.

    Bytecode is cached under PYCACHE_PREFIX (even if PYTHONDONTWRITEBYTECODE is set), so
    after the warm-up every contender imports compiled modules, none of them from source.
    """
    options = ["-X", "importtime", "-X", f"pycache_prefix={PYCACHE_PREFIX}"]
    if legacy_dir is None:
        command = [sys.executable, *options, "-c", f"import {module}"]
    else:  # textflowsms 0.1.0, isolated as in (a)
        code = f"import sys; sys.path.insert(0, {str(legacy_dir)!r}); import {module}"
        command = [sys.executable, "-I", "-S", *options, "-c", code]
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("TEXTFLOW_") and name != "PYTHONDONTWRITEBYTECODE"
    }
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env, timeout=60)
    for line in done.stderr.splitlines():
        # "import time:   self [us] | cumulative | imported package"
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"no -X importtime line for {module}:\n{done.stderr[-2000:]}")


def import_benchmark(settings: Settings, legacy_dir: Path) -> dict[str, tuple[float, float]]:
    """(f): per module, the median import time (ms) and the median ratio to httpx in the
    same repetition (the modules are imported in turn, once each per repetition)."""
    contenders: dict[str, Callable[[], float]] = {
        "httpx": lambda: _import_ms("httpx"),
        "textflow": lambda: _import_ms("textflow"),
        "textflowsms 0.1.0": lambda: _import_ms("textflowsms", legacy_dir),
    }
    for measure in contenders.values():  # warm up: write .pyc files, fill the page cache
        measure()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(settings.import_runs):
        for name, measure in contenders.items():
            times[name].append(measure())
    return {
        name: (
            statistics.median(values),
            statistics.median(mine / base for mine, base in zip(values, times["httpx"])),
        )
        for name, values in times.items()
    }


# --------------------------------------------------------------------------- report


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render(
    settings: Settings,
    quick: bool,
    contenders: list[Contender],
    versions: dict[str, str],
    overhead: dict[str, float],
    imports: dict[str, tuple[float, float]],
    seconds: float,
) -> str:
    base = contenders[0]
    rounds = len(contenders[0].rates)
    network_rows = [
        [
            f"{c.key}. {c.label}",
            f"{c.median:,.0f}",
            f"{min(c.rates):,.0f}-{max(c.rates):,.0f}",
            f"{c.ratio_to(base):.2f}x",
            f"{statistics.median(c.cpu_ms):.2f}",
            f"{c.cpu_ratio_to(base):.2f}x",
        ]
        for c in contenders
    ]
    overhead_rows = [
        ["bare httpx.Client POST + json.loads", f"{overhead['bare_us']:.0f}", "1.00x"],
        ["TextFlowClient.send_sms", f"{overhead['sdk_us']:.0f}", f"{overhead['ratio']:.2f}x"],
    ]
    import_rows = [[name, f"{ms:.0f}", f"{ratio:.2f}x"] for name, (ms, ratio) in imports.items()]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = (
        f"{os.cpu_count()} CPUs (nproc), {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )
    lib_versions = (
        f"textflow {textflow.__version__}, httpx {httpx.__version__}, "
        f"textflowsms {versions['textflowsms']} with requests {versions['requests']}"
    )
    lines = [
        "# Benchmark results",
        "",
        f"- Date: {now}{' (quick run)' if quick else ''}",
        f"- Machine: {machine}; shared and noisy, so read the ratios, not absolute numbers",
        f"- Libraries: {lib_versions}",
        f"- Network runs (a-d): N = {settings.n} `send_sms` calls per round, {rounds} rounds "
        f"interleaved (a b c d d', then d' d c b a, ...), concurrency {CONCURRENCY} "
        "for (d) and (d'); "
        "server: `FakeTextFlow().serve()` in a child process on 127.0.0.1",
        f"- Whole run: {seconds:.0f} s",
        "",
        "## a-d. Sending SMS over loopback HTTP",
        "",
        "Median calls/s over the rounds; *vs a* is the median of the per-round ratios to (a) "
        "(higher is faster). Client CPU is the client process's CPU time per call (the server "
        "runs elsewhere); *CPU vs a* is its median per-round ratio (lower is cheaper).",
        "",
        *_table(
            network_rows,
            ["client", "calls/s", "range over rounds", "vs a", "client CPU ms/call", "CPU vs a"],
        ),
        "",
        f"## e. Per-call cost without a network (httpx.MockTransport, "
        f"CPU time, {settings.mock_rounds} blocks of {settings.mock_calls} calls each, "
        "interleaved)",
        "",
        *_table(overhead_rows, ["path", "CPU us/call", "ratio (median of per-block ratios)"]),
        "",
        f"SDK work per call beyond a bare httpx POST: "
        f"{overhead['sdk_us'] - overhead['bare_us']:.0f} us.",
        "",
        f"## f. Import time (`-X importtime` cumulative, median of {settings.import_runs} "
        "fresh interpreters)",
        "",
        *_table(import_rows, ["import", "ms", "vs httpx (median of per-run ratios)"]),
        "",
        "## Reproduce",
        "",
        "```",
        f"python benchmarks/bench_clients.py{' --quick' if quick else ''}",
        "```",
        "",
        "The first run pip-installs textflowsms 0.1.0 (and requests) into "
        f"`{DEFAULT_LEGACY_DIR}`; no project dependency is added.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (smoke test)")
    parser.add_argument("-n", type=int, help="calls per round for a-d")
    parser.add_argument("--rounds", type=int, help="rounds for a-d")
    parser.add_argument(
        "--output",
        help=f"where to write the markdown results (default {DEFAULT_OUTPUT.name} for a full "
        "run, none for --quick; '' for none)",
    )
    parser.add_argument(
        "--legacy-dir",
        type=Path,
        default=DEFAULT_LEGACY_DIR,
        help="pip --target directory for textflowsms 0.1.0",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of the SDK's hot path"
    )
    args = parser.parse_args(argv)

    settings = QUICK if args.quick else FULL
    settings = Settings(
        n=args.n or settings.n,
        rounds=args.rounds or settings.rounds,
        mock_calls=settings.mock_calls,
        mock_rounds=settings.mock_rounds,
        import_runs=settings.import_runs,
    )
    if args.output is not None:
        output = Path(args.output) if args.output else None
    else:
        output = None if args.quick else DEFAULT_OUTPUT

    started = time.monotonic()
    install_legacy(args.legacy_dir)
    contenders, versions = network_benchmarks(
        settings, args.legacy_dir, deadline=started + NETWORK_BUDGET
    )
    overhead = overhead_benchmark(settings)
    imports = import_benchmark(settings, args.legacy_dir)
    report = render(
        settings,
        args.quick,
        contenders,
        versions,
        overhead,
        imports,
        seconds=time.monotonic() - started,
    )
    print(report)
    if output is not None:
        output.write_text(report, encoding="utf-8")
        print(f"written to {output}", file=sys.stderr)
    if args.profile:
        profile_sdk(2000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
