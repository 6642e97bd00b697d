"""scripts/release_check.py, which ``nox -s release-check`` runs on the built wheel, finds
what a broken wheel lacks or holds (the session itself runs it on the real build)."""

from __future__ import annotations

import importlib.util
import io
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "release_check.py"
ENTRY_POINTS = (
    "[console_scripts]\ntextflow = textflow._cli:main\n\n"
    "[pytest11]\ntextflow = textflow.testing.pytest_plugin\n"
)
GOOD = {
    "textflow/__init__.py": "",
    "textflow/py.typed": "",
    "textflowsms/__init__.py": "",
    "textflowsms-1.0.0.dist-info/entry_points.txt": ENTRY_POINTS,
}


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_check", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dist(tmp_path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(tmp_path / "textflowsms-1.0.0-py3-none-any.whl", "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    with tarfile.open(tmp_path / "textflowsms-1.0.0.tar.gz", "w:gz") as sdist:
        for name in ("pyproject.toml", "README.md", "textflow/__init__.py", "textflow/py.typed"):
            info = tarfile.TarInfo(f"textflowsms-1.0.0/{name}")
            sdist.addfile(info, io.BytesIO(b""))
    return tmp_path


def test_a_good_wheel_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _script().check_wheel(_dist(tmp_path, GOOD))
    assert "hold what they should" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"textflow/py.typed": None}, "lacks textflow/py.typed"),
        ({"tests/test_core.py": ""}, "files users do not need"),
        ({"benchmarks/run.py": ""}, "files users do not need"),
        (
            {"textflowsms-1.0.0.dist-info/entry_points.txt": ENTRY_POINTS.split("[pytest11]")[0]},
            "[pytest11]",
        ),
    ],
)
def test_a_broken_wheel_fails_naming_why(
    tmp_path: Path, change: dict[str, object], named: str
) -> None:
    files = {**GOOD, **{k: v for k, v in change.items() if isinstance(v, str)}}
    files = {k: v for k, v in files.items() if change.get(k, "") is not None}
    with pytest.raises(SystemExit) as info:
        _script().check_wheel(_dist(tmp_path, files))
    assert named in str(info.value)
