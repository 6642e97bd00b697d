"""The benchmark package cannot rot: it imports, its server answers, its report writer works.

Nothing here measures anything or asserts a timing (``nox -s bench`` does the measuring).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/ is not a package of the distribution: its modules, imported in the fixture
Bench = tuple[ModuleType, ModuleType, ModuleType, ModuleType, ModuleType]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Bench:
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.chdir(ROOT)
    from benchmarks import contenders, report, runner, scenarios, server

    return contenders, report, runner, scenarios, server


def _fake_results(report: ModuleType, scenarios: ModuleType) -> Any:
    fan = scenarios.FanOut("asyncio", 100, 1000, 0.05, floor="raw asyncio streams (floor)")
    for wall, label in [(0.9, report.SDK), (0.6, report.SDK_AIOHTTP), (0.52, fan.floor)]:
        fan.wall.add(label, wall)
        fan.cpu.add(label, wall / 10)
    fan.server_busy = 0.12
    imports = scenarios.Runs()
    imports.add("import httpx, pydantic", 100.0)
    imports.add("import textflow", 150.0)
    tls = scenarios.Runs()
    tls.add("TextFlowClient.send_sms", 1.0)
    tls.add("textflowsms 0.1.0 sendSMS", 6.0)
    return report.Results(
        about=["Date: fake"],
        fan_outs=[fan],
        cheap={"TextFlowClient": {"first_ms": 20.0, "next_ms": 0.5, "next_kib": 80.0}},
        imports=imports,
        tls_wall=tls,
        tls_cpu=tls,
        tls_n=500,
    )


def test_the_report_shows_ratios_to_the_ideal_the_floor_and_the_goals(bench: Bench) -> None:
    _, report, _, scenarios, _ = bench
    text = report.render(_fake_results(report, scenarios))
    # 1000 sends, 100 at a time, 50 ms each: ideal 0.5 s; the SDK took 0.9 s
    assert "| AsyncTextFlowClient | 1.80x | 1.73x | 0.09 |" in text
    assert "| fan-out, default, asyncio, concurrency 100 | ≤ 2x ideal | 1.80x | met |" in text
    assert "| fan-out, aiohttp extra, asyncio, 100 | ≤ 1.25x ideal | 1.20x | met |" in text
    assert "| a second TextFlowClient: memory | ≤ 50 KiB | 80 KiB | not met |" in text
    assert "| `import textflow` ÷ `import httpx, pydantic` | ≤ 1.3x | 1.50x | not met |" in text
    assert "| sequential over TLS: 0.1.0 time ÷ ours | ≥ 5x | 6.00x | met |" in text
    assert "at most 12%" in text


def test_a_rerun_replaces_the_block_in_the_docs_page(bench: Bench, tmp_path: Path) -> None:
    _, report, _, _, _ = bench
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n\nProse stays.\n", encoding="utf-8")
    report.write_into_page(page, "## Measured\n\nfirst run\n")
    report.write_into_page(page, "## Measured\n\nsecond run\n")
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Performance\n\nProse stays.\n")
    assert "second run" in text
    assert "first run" not in text
    assert text.count(report.START) == text.count(report.END) == 1
    results = tmp_path / "results.md"
    report.write_results(results, "## Measured\n")
    assert results.read_text(encoding="utf-8").startswith("# Benchmark results")


def test_the_docs_page_has_the_markers(bench: Bench) -> None:
    _, report, runner, _, _ = bench
    text = runner.PAGE.read_text(encoding="utf-8")
    assert text.count(report.START) == text.count(report.END) == 1


def test_the_server_answers_a_send_and_counts_it(bench: Bench) -> None:
    _, _, _, _, server = bench
    with server.running(0.0) as srv:
        before, _ = srv.stats()
        request = urllib.request.Request(
            f"{srv.base_url}/send-sms",
            data=json.dumps({"phone_number": "+11234567890", "text": "x"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.loads(answer.read())["ok"] is True
        after, cpu = srv.stats()
    assert (before, after) == (0, 1)
    assert cpu > 0


def test_a_quick_run_of_one_scenario_goes_end_to_end(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, runner, _, _ = bench
    written = runner.RESULTS.read_bytes(), runner.PAGE.read_bytes()
    # without --no-write: a part of the scenarios prints and leaves the whole run's results
    assert runner.main(["--quick", "--only", "per-call"]) == 0
    out = capsys.readouterr().out
    assert "CPU per call over httpx.MockTransport" in out
    assert "TextFlowClient.send_sms" in out
    assert (runner.RESULTS.read_bytes(), runner.PAGE.read_bytes()) == written


def test_every_first_send_of_the_import_scenario_runs(bench: Bench) -> None:
    # each side of each pair must do its send (an answer the SDK refused would fail here,
    # not as a figure): over MockTransport, and to the benchmark's local server
    _, _, _, scenarios, server = bench
    with server.running(0.0) as srv:
        before, _ = srv.stats()
        for kind, labels in scenarios.FIRST_SENDS.items():
            for label in labels:
                code = scenarios.IMPORTS.get(label)
                if code is None:
                    code = scenarios.SERVER_IMPORTS[label].replace("{url}", srv.base_url)
                cpu_seconds = float(scenarios._python(["-c", scenarios._timed_code(code)]))
                assert cpu_seconds > 0, (kind, label)
        after, _ = srv.stats()
    assert after - before == 6  # the local-server sides each sent once, to this server
