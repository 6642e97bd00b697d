"""Check a built release as a user gets it: ``nox -s release-check`` runs this.

Two commands, each standard library plus the installed ``textflowsms`` only:

``python scripts/release_check.py wheel DIST``
    The wheel and the sdist in DIST hold what they should: in the wheel the two
    packages, ``py.typed``, the ``textflow`` console script and the pytest11 plugin
    entry point, and no tests, benchmarks, scripts or docs; in the sdist the sources
    and ``pyproject.toml``.

``python -I scripts/release_check.py readme README.md``
    Run in a venv where the wheel is installed (``-I``: the checkout is not on
    ``sys.path``, so ``import textflow`` is the installed one): every ```python block
    of the README, exactly as written, against a fake TextFlow served on 127.0.0.1 (the
    sandbox the README's "Try it without an account" starts), with only the keyboard
    simulated, as ``tests/docs/test_docs_examples.py`` runs them; and
    ``import textflowsms as tf``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

DOCS_KEY = "YOUR_KEY"  # the placeholder the README shows; the fake accepts it
WHEEL_MUST_HAVE = ("textflow/__init__.py", "textflow/py.typed", "textflowsms/__init__.py")
WHEEL_MUST_NOT_START = ("tests/", "benchmarks/", "scripts/", "docs/", "site/", ".ci/")
ENTRY_POINTS = {
    "console_scripts": "textflow = textflow._cli:main",
    "pytest11": "textflow = textflow.testing.pytest_plugin",
}
_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.M | re.S)


def fail(message: str) -> None:
    raise SystemExit(f"release check: {message}")


def _entry_points(text: str) -> dict[str, set[str]]:
    sections: dict[str, set[str]] = {}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif line:
            name, _, target = line.partition("=")
            sections.setdefault(current, set()).add(f"{name.strip()} = {target.strip()}")
    return sections


def check_wheel(dist: Path) -> None:
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        for name in WHEEL_MUST_HAVE:
            if name not in names:
                fail(f"the wheel lacks {name}")
        stray = [n for n in names if n.startswith(WHEEL_MUST_NOT_START) or "conftest" in n]
        if stray:
            fail(f"the wheel holds files users do not need: {stray[:5]}")
        [entry_file] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        found = _entry_points(wheel.read(entry_file).decode("utf-8"))
        for section, entry in ENTRY_POINTS.items():
            if entry not in found.get(section, set()):
                fail(f"the wheel's entry points lack [{section}] {entry}: {found}")
    with tarfile.open(sdists[0]) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        for name in ("pyproject.toml", "README.md", "textflow/__init__.py", "textflow/py.typed"):
            if f"{top}/{name}" not in sdist.getnames():
                fail(f"the sdist lacks {name}")
    print(f"release check: {wheels[0].name} and {sdists[0].name} hold what they should")


def _readme_blocks(readme: Path) -> list[str]:
    return _BLOCK.findall(readme.read_text(encoding="utf-8"))


class _Keyboard:
    """A stdin where the user types the live code the fake last sent, one line per read."""

    def __init__(self, fake: Any) -> None:
        self._fake = fake

    def readline(self, size: int = -1) -> str:
        sent = [m for m in self._fake.messages if m.kind == "code"]
        if not sent:
            fail("a README block called input() before any verification code was sent")
        return self._fake.last_code(sent[-1].phone_number) + "\n"


def check_readme(readme: Path) -> None:
    import textflow
    import textflowsms as tf
    from textflow import _legacy
    from textflow.testing import FakeTextFlow

    if "site-packages" not in Path(textflow.__file__).parts:
        fail(f"textflow was imported from {textflow.__file__}, not from the installed wheel")
    if not callable(tf.sendSMS):
        fail("textflowsms.sendSMS is missing")
    blocks = _readme_blocks(readme)
    if not blocks:
        fail(f"no ```python block in {readme}")
    fake = FakeTextFlow(api_key=DOCS_KEY)
    with fake.serve() as base_url:
        for number, block in enumerate(blocks, 1):
            fake.reset()
            os.environ.update(TEXTFLOW_API_KEY=DOCS_KEY, TEXTFLOW_BASE_URL=base_url)
            stdin, sys.stdin = sys.stdin, _Keyboard(fake)  # type: ignore[assignment]
            printed = io.StringIO()
            try:
                code = compile(block, f"README.md block {number}", "exec", dont_inherit=True)
                with contextlib.redirect_stdout(printed):
                    exec(code, {"__name__": "__main__"})  # noqa: S102  # the README's own code
            finally:
                sys.stdin = stdin
                _legacy.default_client.reset()
            first = (printed.getvalue().splitlines() or ["(nothing printed)"])[0]
            print(f"release check: README block {number} ran: {first}")
    print(f"release check: {len(blocks)} README blocks ran on textflow {textflow.__version__}")


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] not in ("wheel", "readme"):
        fail("usage: release_check.py wheel DIST | readme README.md")
    (check_wheel if argv[0] == "wheel" else check_readme)(Path(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
