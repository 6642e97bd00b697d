"""Lint, type-check and test: ``pip install nox && nox`` runs every session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
# With CI=true nothing is missing silently: a Python of 3.9-3.13 that is not there fails.
CI = os.environ.get("CI", "").lower() == "true"
nox.options.error_on_missing_interpreters = CI

PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]
# Every Python that is installed here: nox skips the missing ones, but at least one must run.
# Under CI every one of them (a missing one fails, above).
INSTALLED = PYTHONS if CI else [v for v in PYTHONS if shutil.which(f"python{v}")] or ["3"]
# mypy checks the oldest and the newest Python, each in its own venv: dependencies such as
# anyio ship code for newer Pythons only, so "--python-version 3.9" needs 3.9's own install.
TYPECHECK = sorted({INSTALLED[0], INSTALLED[-1]})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting; and no generated file is stale."""
    session.install("ruff>=0.17,<0.18")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # scripts/unasync.py reads the operation table: it imports textflow.
    session.install("-e", ".")
    session.run("python", "scripts/unasync.py", "--check")


@nox.session(default=False)
def generate(session: nox.Session) -> None:
    """Rewrite the generated files (the sync client and guard, the legacy shim): CONTRIBUTING."""
    session.install("ruff>=0.17,<0.18")
    session.install("-e", ".")
    session.run("python", "scripts/unasync.py")


@nox.session(python=TYPECHECK)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package and its tests, for the oldest (3.9) and the newest Python."""
    # The optional parts are type-checked against what they import: trio (the async
    # transport's loop check), the aiohttp and redis extras; the tests against the tests
    # and browser extras (installed in two steps, as in the tests session).
    session.install("-e", ".[tests,aiohttp,redis]", "mypy>=1.10")
    session.install("-e", ".[browser]")
    version = session.run(
        "python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])", silent=True
    )
    args = ["--python-version", str(version).strip()]
    session.run("mypy", "--strict", *args, "-p", "textflow", "-p", "textflowsms", "-p", "tests")


@nox.session(python=INSTALLED)
def tests(session: nox.Session) -> None:
    """pytest with branch coverage of textflow/, on every installed Python 3.9-3.13."""
    # With the aiohttp extra: the core client tests run on its transport too. (Not in the
    # tests extra: httpx-aiohttp needs httpx >= 0.27, above the lowest session's httpx.)
    # Editable (here and in lowest): tests/ is a package, so pytest puts the project root on
    # sys.path and `import textflow` reads the source tree; editable, that is what is installed.
    session.install("-e", ".[tests,aiohttp]")
    session.install("-e", ".[browser]")  # a second step: see the browser extra in pyproject
    session.run("coverage", "erase")
    # The tests marked "workers" (worker processes for tens of seconds each) run on the
    # newest Python only, so that five Pythons stay within the suite's time.
    newest = session.python == INSTALLED[-1]
    args = session.posargs or ([] if newest else ["-m", "not workers"])
    session.run("coverage", "run", "-m", "pytest", *args)
    session.run("coverage", "combine", success_codes=[0, 1])
    session.run("coverage", "report", "--fail-under=95")


# The lowest versions pyproject.toml admits: the core must work on them too.
LOWEST = ["httpx==0.25.1", "httpcore==1.0.9", "h11==0.16.0", "anyio==4.0.0", "pydantic==2.5.0"]


@nox.session(python=INSTALLED[0])
def lowest(session: nox.Session) -> None:
    """The core and webhook tests on the oldest Python with the lowest dependency versions."""
    session.install(*LOWEST)
    session.install("-e", ".[tests]", *LOWEST)
    session.run("python", "-m", "pytest", "-q", "tests/core", "tests/webhooks")


@nox.session(name="release-check", python=INSTALLED[0])
def release_check(session: nox.Session) -> None:
    """Build the sdist and wheel, twine check them, check the wheel's contents, install the
    wheel (not editable, no extras) in a clean venv and run the demo and the README there."""
    session.install("build>=1.0", "twine>=5.0")
    tmp = Path(session.create_tmp()).resolve()
    dist, venv = tmp / "dist", tmp / "clean-venv"
    shutil.rmtree(dist, ignore_errors=True)
    shutil.rmtree(venv, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), ".")
    session.run("twine", "check", "--strict", *map(str, sorted(dist.iterdir())))
    session.run("python", "scripts/release_check.py", "wheel", str(dist))
    # A venv of its own: the session's has build and twine; this one the wheel alone.
    session.run("python", "-m", "venv", str(venv))
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python, textflow = str(bin_dir / "python"), str(bin_dir / "textflow")
    [wheel] = dist.glob("*.whl")
    session.run(python, "-m", "pip", "install", "-q", str(wheel), external=True)
    # Away from the checkout, so that `import textflow` is the installed one.
    check = str(Path("scripts/release_check.py").resolve())
    readme = str(Path("README.md").resolve())
    with session.chdir(tmp):
        session.run(textflow, "demo", external=True)
        session.run(python, "-I", check, "readme", readme, external=True)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built into site/ (mkdocs build --strict), and its tests: the
    rendered API reference, and the home page in Chromium at 1280 px (its examples run in
    the tests session)."""
    # The tests extra too: the root conftest registers every folder's fixtures (respx, ...).
    session.install("-e", ".[tests,docs]")
    session.install("-e", ".[browser]")  # a second step: see the browser extra in pyproject
    session.env["NO_MKDOCS_2_WARNING"] = "1"  # material's end-of-life banner about MkDocs 2
    site = Path("site").resolve()
    printed = session.run(
        "python", "-m", "mkdocs", "build", "--strict", "--site-dir", str(site), silent=True
    )
    if "end of life" in str(printed).lower():
        session.error(f"the docs build printed a banner:\n{printed}")
    session.log(f"the site is in {site} (open {site / 'index.html'})")
    # The tests read that build (tests/docs/docs_support.py); the tests session skips them
    # (no docs extra there).
    session.env["DOCS_SITE_DIR"] = str(site)
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "tests/docs/test_docs_reference.py",
        "tests/docs/test_docs_home_browser.py",
    )


@nox.session(name="docs-screenshots", default=False)
def docs_screenshots(session: nox.Session) -> None:
    """Regenerate docs/img/sandbox-inbox.png and docs/img/docs-home-1280.png from the browser
    tests (needs Chromium; not default)."""
    session.install("-e", ".[tests,docs]")
    session.install("-e", ".[browser]")
    session.env["TEXTFLOW_SCREENSHOT_DIR"] = str(Path("docs/img").resolve())
    session.env["NO_MKDOCS_2_WARNING"] = "1"
    session.run("python", "-m", "pytest", "-q", "tests/browser", "-k", "live")
    session.run("python", "-m", "pytest", "-q", "tests/docs/test_docs_home_browser.py")


# Not in the default run (default=False): it takes minutes, installs the contenders from
# PyPI and measures, asserting nothing. `nox -s bench -- --quick` is the short version.
BENCH_CONTENDERS = ["aiohttp", "httpx-aiohttp", "trio", "cryptography"]


@nox.session(default=False, reuse_venv=True)
def bench(session: nox.Session) -> None:
    """The benchmarks (benchmarks/README.md); writes benchmarks/results.md and the docs table."""
    session.install("-e", ".[aiohttp]", *BENCH_CONTENDERS)
    # textflowsms 0.1.0 has this project's import name: it gets a folder of its own, and the
    # benchmark runs it in a separate interpreter.
    legacy = f"{session.create_tmp()}/textflowsms-0.1.0"
    if not os.path.isdir(f"{legacy}/textflowsms"):
        session.run(
            "python", "-m", "pip", "install", "-q", "--target", legacy, "textflowsms==0.1.0"
        )
    session.run("python", "-m", "benchmarks", "--legacy-dir", legacy, *session.posargs)
