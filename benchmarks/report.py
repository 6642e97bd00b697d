"""The tables: ratios to the ideal, to the floor and to the goals; written to results.md and
into docs/performance.md between two marker comments, so that a rerun replaces them."""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from benchmarks.scenarios import FIRST_SENDS, FanOut, Runs

START = "<!-- benchmark results: start (written by python -m benchmarks) -->"
END = "<!-- benchmark results: end -->"

SDK = "AsyncTextFlowClient"

# Bare httpx's first send to a server imports httpcore, which imports trio when it is
# installed; the SDK's does not: the reading depends on it, so the row says which it was.
_TRIO = (
    " (trio installed: bare httpx's httpcore imports it, the SDK does not)"
    if importlib.util.find_spec("trio") is not None
    else " (trio not installed)"
)
SDK_AIOHTTP = "AsyncTextFlowClient over DefaultAioHttpClient"


@dataclass
class Results:
    about: list[str] = field(default_factory=list)  # the run: date, machine, versions
    fan_outs: list[FanOut] = field(default_factory=list)
    cheap: dict[str, dict[str, float]] = field(default_factory=dict)
    imports: Optional[Runs] = None
    processes: Optional[Runs] = None
    per_call: Optional[Runs] = None
    tls_wall: Optional[Runs] = None
    tls_cpu: Optional[Runs] = None
    tls_n: int = 0


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _x(value: float) -> str:
    return f"{value:.2f}x"


def _fan_out_table(f: FanOut) -> list[str]:
    rows = []
    for label in f.wall.values:
        wall = f.wall.median(label)
        vs_floor = _x(f.wall.ratio(label, f.floor)) if f.floor in f.wall.values else "-"
        cpu_ms = f.cpu.median(label) / f.n * 1e3
        rows.append([label, _x(wall / f.ideal), vs_floor, f"{cpu_ms:.2f}"])
    title = (
        f"### Fan-out on {f.backend}: {f.n} sends, {f.latency * 1e3:.0f} ms latency, "
        f"concurrency {f.concurrency}"
    )
    note = (
        f"Ideal {f.ideal:.2f} s (at most {f.concurrency} sends, and 100 connections, at a "
        f"time). The server was on CPU at most {f.server_busy:.0%} of a run: far from "
        "saturated if well under 100 %."
    )
    if f.load:
        note += (
            f" Load average (1 min, {os.cpu_count()} CPUs) during the runs: "
            f"{min(f.load):.1f} to {max(f.load):.1f}."
        )
    header = ["client", "wall ÷ ideal", "wall ÷ floor", "client CPU ms/send"]
    return [title, "", note, "", *_table(header, rows), ""]


def _goal(measured: Optional[float], limit: float, at_most: bool = True) -> str:
    if measured is None:
        return "not measured"
    met = measured <= limit if at_most else measured >= limit
    return "met" if met else "not met"


AIOHTTP = "aiohttp.ClientSession"


def _cpu_goals(r: Results) -> list[list[str]]:
    """Issue 20's CPU goals at concurrency 100: the default async client against bare
    aiohttp in the same runs, and trio against asyncio."""
    rows: list[list[str]] = []
    cpu: dict[str, float] = {}
    for f in r.fan_outs:
        if f.concurrency != 100 or SDK not in f.cpu.values:
            continue
        cpu[f.backend] = f.cpu.median(SDK)
        if AIOHTTP in f.cpu.values:
            ratio = f.cpu.ratio(SDK, AIOHTTP)
            rows.append(
                [
                    f"CPU per send, default async client ÷ bare aiohttp ({f.backend}, 100)",
                    "≤ 2.0x",
                    _x(ratio),
                    _goal(ratio, 2.0),
                ]
            )
    if "asyncio" in cpu and "trio" in cpu:
        ratio = cpu["trio"] / cpu["asyncio"]
        rows.append(
            [
                "CPU per send, trio ÷ asyncio (default, 100)",
                "≤ 1.15x",
                _x(ratio),
                _goal(ratio, 1.15),
            ]
        )
    return rows


def goals(r: Results) -> list[list[str]]:
    """One row per goal of the issue: what it asks, what was measured, met or not."""
    rows: list[list[str]] = []
    at_100: dict[str, float] = {}
    for f in r.fan_outs:
        if SDK in f.wall.values:
            ratio = f.wall.median(SDK) / f.ideal
            if f.concurrency == 100:
                at_100[f.backend] = ratio
            target = "≤ 2x ideal" if f.concurrency == 100 else "no worse than at 100"
            limit = 2.0 if f.concurrency == 100 else at_100.get(f.backend, 2.0) * 1.1
            rows.append(
                [
                    f"fan-out, default, {f.backend}, concurrency {f.concurrency}",
                    target,
                    _x(ratio),
                    _goal(ratio, limit),
                ]
            )
        if SDK_AIOHTTP in f.wall.values and f.concurrency == 100:
            ratio = f.wall.median(SDK_AIOHTTP) / f.ideal
            rows.append(
                [
                    "fan-out, aiohttp extra, asyncio, 100",
                    "≤ 1.25x ideal",
                    _x(ratio),
                    _goal(ratio, 1.25),
                ]
            )
    rows.extend(_cpu_goals(r))
    client = r.cheap.get("TextFlowClient")
    if client:
        rows.append(
            [
                "a second TextFlowClient: time",
                "≤ 1 ms",
                f"{client['next_ms']:.2f} ms",
                _goal(client["next_ms"], 1.0),
            ]
        )
        rows.append(
            [
                "a second TextFlowClient: memory",
                "≤ 50 KiB",
                f"{client['next_kib']:.0f} KiB",
                _goal(client["next_kib"], 50.0),
            ]
        )
    if r.imports is not None and "import textflow" in r.imports.values:
        ratio = r.imports.ratio("import textflow", "import httpx, pydantic")
        rows.append(
            ["`import textflow` ÷ `import httpx, pydantic`", "≤ 1.3x", _x(ratio), _goal(ratio, 1.3)]
        )
    for clients in (
        "from textflow import AsyncTextFlowClient",
        "from textflow import TextFlowClient, AsyncTextFlowClient",
    ):
        if r.imports is not None and clients in r.imports.values:  # names load on first use
            ratio = r.imports.ratio(clients, "import httpx, pydantic")
            rows.append([f"`{clients}` ÷ the same", "≤ 1.3x", _x(ratio), _goal(ratio, 1.3)])
    if r.processes is not None and "textflow --help" in r.processes.values:
        ratio = r.processes.ratio("textflow --help", 'python -c "import httpx"')
        rows.append(
            [
                '`textflow --help` ÷ `python -c "import httpx"`',
                "≤ 1.3x",
                _x(ratio),
                _goal(ratio, 1.3),
            ]
        )
    for kind, (first, bare_first, floor) in FIRST_SENDS.items():
        if r.imports is not None and first in r.imports.values and bare_first in r.imports.values:
            ratio = r.imports.ratio(first, bare_first)
            rows.append(
                [
                    f"{kind}: import + client + first send ÷ the same with bare httpx"
                    + (_TRIO if "local server" in kind else ""),
                    "≤ 1.2x",
                    _x(ratio),
                    _goal(ratio, 1.2),
                ]
            )
        if r.imports is not None and first in r.imports.values and floor in r.imports.values:
            ratio = r.imports.ratio(first, floor)  # not a goal: the SDK's share beyond pydantic's
            rows.append(
                [f"{kind}: the same ÷ bare httpx + a pydantic model", "(none)", _x(ratio), "-"]
            )
    if r.per_call is not None:
        ratio = r.per_call.ratio("TextFlowClient.send_sms", "bare httpx.Client.post + json.loads")
        rows.append(
            [
                "CPU per send_sms ÷ bare httpx post + json.loads",
                "≤ 1.0x",
                _x(ratio),
                _goal(ratio, 1.0),
            ]
        )
    if r.tls_wall is not None and "textflowsms 0.1.0 sendSMS" in r.tls_wall.values:
        ratio = r.tls_wall.ratio("textflowsms 0.1.0 sendSMS", "TextFlowClient.send_sms")
        rows.append(
            [
                "sequential over TLS: 0.1.0 time ÷ ours",
                "≥ 5x",
                _x(ratio),
                _goal(ratio, 5.0, at_most=False),
            ]
        )
    return rows


def render(r: Results) -> str:
    """The whole report as Markdown (starting at a level-2 heading)."""
    lines = ["## Measured", "", *(f"- {line}" for line in r.about), ""]
    lines += ["### Goals", "", *_table(["goal", "target", "measured", ""], goals(r)), ""]
    for f in r.fan_outs:
        lines += _fan_out_table(f)
    if r.cheap:
        rows = [
            [name, f"{v['first_ms']:.1f}", f"{v['next_ms']:.2f}", f"{v['next_kib']:.0f}"]
            for name, v in r.cheap.items()
        ]
        lines += ["### Cheap clients", "", "Medians over fresh processes.", ""]
        lines += _table(["client", "first (ms)", "each further (ms)", "each further (KiB)"], rows)
        lines += [""]
    for title, runs, base in [
        (
            "Import time (CPU ms), in fresh interpreters with warm bytecode",
            r.imports,
            "import httpx, pydantic",
        ),
        ("Whole processes (wall ms)", r.processes, 'python -c "import httpx"'),
        (
            "CPU per call over httpx.MockTransport (µs)",
            r.per_call,
            "bare httpx.Client.post + json.loads",
        ),
    ]:
        if runs is None:
            continue
        rows = [
            [
                label,
                f"{runs.median(label):.1f}",
                f"{runs.min(label):.1f}",
                _x(runs.ratio(label, base)),
            ]
            for label in runs.values
        ]
        header = ["what", "median", "min", f"÷ {base} (median of per-round ratios)"]
        lines += [f"### {title}", "", *_table(header, rows), ""]
    if r.tls_wall is not None and r.tls_cpu is not None:
        ours = "TextFlowClient.send_sms"
        rows = [
            [
                label,
                f"{r.tls_wall.median(label) / r.tls_n * 1e3:.2f}",
                f"{r.tls_cpu.median(label) / r.tls_n * 1e3:.2f}",
                _x(r.tls_wall.ratio(label, ours)),
            ]
            for label in r.tls_wall.values
        ]
        lines += [f"### {r.tls_n} sequential sends over local TLS", ""]
        lines += _table(["client", "ms/send", "client CPU ms/send", "time ÷ ours"], rows)
        lines += [""]
    return "\n".join(lines)


def write_results(path: Path, report: str) -> None:
    path.write_text("# Benchmark results\n\n" + report, encoding="utf-8")


def write_into_page(path: Path, report: str) -> None:
    """Replace what lies between the markers in ``path`` (appended if there are none)."""
    text = path.read_text(encoding="utf-8")
    block = f"{START}\n\n{report}\n{END}"
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
