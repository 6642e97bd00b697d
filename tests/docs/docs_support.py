"""The docs site, built once per test session: ``mkdocs build --strict``, as ``nox -s docs``.

``nox -s docs`` builds the site into ``site/`` and names it in ``DOCS_SITE_DIR``;
the tests then read that build instead of making their own. Without the docs extra
(mkdocs), the tests that need the site are skipped, saying so: the docs session runs
them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 300  # seconds: ~15 s on an idle machine; generous for two busy CPUs
#: The variable ``nox -s docs`` sets to the site it built.
SITE_VARIABLE = "DOCS_SITE_DIR"


def build_site(site_dir: Path) -> str:
    """Build the docs into ``site_dir`` as ``nox -s docs`` does; returns what mkdocs printed."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # material's end-of-life banner
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stderr[-4000:]}"
    return build.stdout + build.stderr


@pytest.fixture(scope="session")
def docs_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site: ``$DOCS_SITE_DIR`` when ``nox -s docs`` built it, else a new build."""
    pytest.importorskip(
        "mkdocstrings", reason="the docs extra is not installed: `nox -s docs` runs this"
    )
    built = os.environ.get(SITE_VARIABLE)
    if built:
        return Path(built).resolve()
    site_dir = tmp_path_factory.mktemp("site")
    build_site(site_dir)
    return site_dir
