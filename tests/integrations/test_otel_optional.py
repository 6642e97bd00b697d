"""OpenTelemetry is optional: without it nothing imports it and nothing breaks; the
``opentelemetry_instrumentor`` entry point loads the instrumentor; a real guard's
decisions are counted."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integrations.otel_support import Telemetry

ROOT = Path(__file__).resolve().parents[2]

# Any attempt to import OpenTelemetry fails, as if it were not installed, and is noted.
_ABSENT = """
import sys
from importlib.abc import MetaPathFinder

tried = []

class Absent(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            tried.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, Absent())

import textflow
from textflow.testing import FakeTextFlow

fake = FakeTextFlow()
with fake.client() as client:
    assert client.send_sms("+11234567890", "hello").ok
assert tried == [], tried
assert not [m for m in sys.modules if m.startswith("opentelemetry")]
try:
    textflow.instrument()
except textflow.ConfigurationError as exc:
    assert "textflowsms[otel]" in str(exc), exc
else:
    raise AssertionError("instrument() without OpenTelemetry did not refuse")
print("ok")
"""


def test_without_opentelemetry_nothing_imports_it_and_a_send_works() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_ABSENT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,  # a guard against a hang: the script takes about a second
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_entry_point_names_an_instrumentor(telemetry: Telemetry) -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the older Pythons
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    target = project["project"]["entry-points"]["opentelemetry_instrumentor"]["textflow"]
    module, _, name = target.partition(":")
    instrumentor = getattr(importlib.import_module(module), name)()
    assert instrumentor.instrumentation_dependencies() == ()
    instrumentor.uninstrument()
    assert not instrumentor.is_instrumented_by_opentelemetry
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    assert instrumentor.is_instrumented_by_opentelemetry


def test_guard_decisions_are_span_events_and_counted(telemetry: Telemetry) -> None:
    from textflow import VerificationRefused
    from textflow.guard import VerificationGuard
    from textflow.integrations.opentelemetry import record_decision
    from textflow.testing import FakeTextFlow

    fake = FakeTextFlow()
    tracer = telemetry.tracer_provider.get_tracer("app")
    with fake.client() as client, tracer.start_as_current_span("login"):
        guard = VerificationGuard(client, on_decision=record_decision)
        guard.send_code("+11234567890", service_name="Acme")
        for _ in range(2):  # at once again: the cooldown refuses, and nothing is sent
            with pytest.raises(VerificationRefused):
                guard.send_code("+11234567890", service_name="Acme")
    assert len(fake.messages) == 1
    [login] = [span for span in telemetry.spans() if span.name == "login"]
    assert [dict(e.attributes or {}) for e in login.events] == [
        {"textflow.guard.reason": "allowed", "textflow.guard.allowed": True},
        {"textflow.guard.reason": "cooldown", "textflow.guard.allowed": False},
        {"textflow.guard.reason": "cooldown", "textflow.guard.allowed": False},
    ]
    counted = sorted(
        (a["textflow.guard.reason"], n) for a, n in telemetry.metrics()["textflow.guard.decisions"]
    )
    assert counted == [("allowed", 1), ("cooldown", 2)]
