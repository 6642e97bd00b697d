"""Generated files are up to date, and the hand-written twins stay in step.

The sync client, the sync guard and the legacy shim are written by
scripts/unasync.py (CONTRIBUTING: "Generated files"); ``send_many``'s two drivers
are written by hand (threads against tasks), so a test holds their signatures
and the clients' ``send_many`` methods together.
"""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import textflow
from textflow._many import _async, _sync

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "unasync.py"
GENERATED = ["textflow/_client.py", "textflow/guard/_sync.py", "textflow/_legacy.py"]


def _unasync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_generated_files_are_up_to_date() -> None:
    done = _unasync("--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_generated_file_says_so_in_its_first_line() -> None:
    for path in GENERATED:
        first = (ROOT / path).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# Generated from "), path
        assert "scripts/unasync.py" in first
        assert "do not edit by hand" in first


def test_check_names_a_stale_file_and_changes_nothing(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "textflow", tmp_path / "textflow")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    stale = tmp_path / "textflow" / "_client.py"
    edited = stale.read_text(encoding="utf-8").replace("Send one SMS.", "Send an SMS.")
    stale.write_text(edited, encoding="utf-8")
    done = _unasync("--check", "--root", str(tmp_path))
    assert done.returncode == 1
    assert "textflow/_client.py is stale" in done.stdout
    assert "_legacy.py" not in done.stdout
    assert "guard" not in done.stdout
    assert stale.read_text(encoding="utf-8") == edited
    # and without --check it writes the twin back
    assert _unasync("--root", str(tmp_path)).returncode == 0
    assert stale.read_bytes() == (ROOT / "textflow" / "_client.py").read_bytes()


# Where the two drivers' parameters differ (annotation, or the sleep's default), and why;
# every other parameter has the same kind, default and annotation.
_DRIVER_DIFFERENCES = {
    "client": "the client of the driver's kind",
    "recipients": "the async driver also takes async iterables",
    "_sleep": "one awaits anyio.sleep, the other blocks in time.sleep",
}


def test_the_send_many_drivers_take_the_same_parameters() -> None:
    async_params = inspect.signature(_async.send_many).parameters
    sync_params = inspect.signature(_sync.send_many).parameters
    assert list(async_params) == list(sync_params)
    for name, parameter in async_params.items():
        twin = sync_params[name]
        assert parameter.kind == twin.kind, name
        if name not in _DRIVER_DIFFERENCES:
            assert parameter.default == twin.default, name
            assert parameter.annotation == twin.annotation, name


def test_the_clients_send_many_is_the_drivers_public_part() -> None:
    for client, driver in (
        (textflow.AsyncTextFlowClient, _async.send_many),
        (textflow.TextFlowClient, _sync.send_many),
    ):
        method = inspect.signature(client.send_many).parameters
        public = {
            name: parameter
            for name, parameter in inspect.signature(driver).parameters.items()
            if not name.startswith("_")
        }
        assert list(method) == ["self", *list(public)[1:]]  # the driver's first is the client
        for name in list(public)[1:]:
            assert method[name].kind == public[name].kind, name
            assert method[name].default == public[name].default, name
