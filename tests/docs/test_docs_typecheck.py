"""A new app written from the README and the guides passes ``mypy --strict`` as written.

The ```python blocks of the pages in `APP_PAGES` become the modules of a small
app, next to ``typed_app_probe.py`` (every client method's result, both clients,
the legacy functions); ``mypy --strict`` checks them all in one run, without the
project's configuration (no pydantic plugin: an app does not have it). Blocks are
taken as they are, with two allowances for snippets that show part of a script,
as tests/docs/test_docs_examples.py runs them:

* a block with a top-level ``await`` / ``async with`` is checked as the body of an
  ``async def`` (as in a notebook or ``python -m asyncio``);
* the names that runner provides (``client``, ``user_entered_code``) are declared
  with their types when a block uses them without defining them.

A negative control checks that the run reports what it must (a legacy result's
``data`` before ``ok`` was checked, an unknown ``with_options`` name).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from textflow.testing import FakeTextFlow

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PROBE = HERE / "typed_app_probe.py"

#: The pages a new user writes an app from: the README, the quick start and every guide
#: with python blocks (cli.md has none; changelog.md and the reference are not guides).
APP_PAGES = [
    "README.md",
    "docs/index.md",
    "docs/async.md",
    "docs/sending.md",
    "docs/verification.md",
    "docs/errors.md",
    "docs/testing.md",
    "docs/webhooks.md",
    "docs/migration.md",
    "docs/sending-to-many.md",
    "docs/configuration.md",
    "docs/guard.md",
    "docs/performance.md",
]
#: Third-party packages some blocks import (the FastAPI example); tests extra.
OPTIONAL = ("fastapi",)
#: Libraries without type information that recipes show an app with (a celery task queue,
#: a Flask app): an app type-checks those parts with stubs or ignores of its own, so their
#: blocks are left out; every other block of those pages is checked.
UNTYPED = ("celery", "flask")
MYPY_TIMEOUT = 600  # seconds: a cold run on two busy cores takes well under a minute

_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>.*)$")

# What test_docs_examples.py's runner gives a block that uses it without defining it.
_PROVIDED = {
    "client": "client: textflow.TextFlowClient = textflow.TextFlowClient()",
    "user_entered_code": 'user_entered_code: str = "000000"',
}


@dataclass
class Block:
    page: str
    line: int  # of the opening fence
    code: str

    @property
    def module(self) -> str:
        stem = re.sub(r"\W", "_", self.page.rsplit("/", 1)[-1].removesuffix(".md")).lower()
        return f"{stem}_l{self.line}"

    def imports(self) -> set[str]:
        roots: set[str] = set()
        for node in ast.walk(ast.parse(self.code)):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots.add(node.module.split(".")[0])
        return roots


def python_blocks(page: str) -> list[Block]:
    """The ```python blocks of ``page`` (pytest files, titled ``test_*.py``, excepted)."""
    blocks: list[Block] = []
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match and match["info"].strip().startswith("python"):
            start = index
            index += 1
            while not lines[index].startswith(match["fence"]):
                index += 1
            if 'title="test_' not in match["info"]:
                blocks.append(Block(page, start + 1, "\n".join(lines[start + 1 : index]) + "\n"))
        index += 1
    return blocks


def _needs_async_def(code: str) -> bool:
    try:
        compile(code, "<block>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return "outside" in str(exc) and ("await" in str(exc) or "async" in str(exc))
    return False


def _unbound(code: str) -> list[str]:
    tree = ast.parse(code)
    bound: set[str] = set()
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
    return sorted(name for name in _PROVIDED if name in used and name not in bound)


def module_source(block: Block) -> tuple[str, int]:
    """The block as a module, and how many lines come before its first line."""
    header = [f"# {block.page}, the block at line {block.line}"]
    provided = _unbound(block.code)
    if provided:
        header.append("import textflow")
        header.extend(_PROVIDED[name] for name in provided)
    body = block.code
    if _needs_async_def(body):
        header.append("async def _block() -> None:")
        body = textwrap.indent(body, "    ")
    return "\n".join(header) + "\n" + body, len(header)


@dataclass
class MypyRun:
    output: str
    where: dict[str, tuple[str, int]]  # file name -> (page or file, line offset)

    def errors(self, name: str) -> list[str]:
        """mypy's errors in ``name``, with their lines as lines of the page."""
        found = []
        for line in self.output.splitlines():
            match = re.match(r"^(?P<file>[^:]+\.py):(?P<line>\d+): error: (?P<msg>.*)$", line)
            if match and Path(match["file"]).name == name:
                page, offset = self.where[name]
                found.append(f"{page}:{int(match['line']) + offset}: {match['msg']}")
        return found


NEGATIVE = """\
import textflowsms as tf
from textflow import TextFlowClient

r = tf.sendSMS("+11234567890", "hi")
print(r.data.price)  # error: data is None when ok is False
client = TextFlowClient(api_key="k")
client.with_options(retries=3)  # error: no such option
client.verify_code("+11234567890", 12.5)  # error: a code is a str or an int
print(client.send_sms("+11234567890", "hi").data.price)
"""


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory: pytest.TempPathFactory) -> MypyRun:
    folder = tmp_path_factory.mktemp("new_app")
    config = folder / "mypy.ini"
    config.write_text("[mypy]\n")
    where: dict[str, tuple[str, int]] = {}
    for page in APP_PAGES:
        for block in python_blocks(page):
            missing = [m for m in OPTIONAL if m in block.imports() and not _installed(m)]
            if missing:
                continue  # test_the_fastapi_example_type_checks says so
            if any(module in block.imports() for module in UNTYPED):
                continue
            source, before = module_source(block)
            (folder / f"{block.module}.py").write_text(source, encoding="utf-8")
            where[f"{block.module}.py"] = (block.page, block.line - before)
    (folder / PROBE.name).write_text(PROBE.read_text(encoding="utf-8"), encoding="utf-8")
    where[PROBE.name] = (f"tests/docs/{PROBE.name}", 0)
    (folder / "negative_control.py").write_text(NEGATIVE, encoding="utf-8")
    where["negative_control.py"] = ("negative_control.py", 0)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(config),
            "--cache-dir",
            str(folder / ".mypy_cache"),
            "--no-color-output",
            "--no-error-summary",
            *sorted(where),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=MYPY_TIMEOUT,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stderr  # 2: mypy itself failed
    return MypyRun(completed.stdout, where)


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def test_the_pages_have_the_snippets_an_app_is_written_from() -> None:
    blocks = {page: python_blocks(page) for page in APP_PAGES}
    assert len(blocks["README.md"]) >= 3
    assert any("AsyncTextFlowClient" in block.code for block in blocks["README.md"])
    assert any("fastapi" in block.imports() for block in blocks["docs/async.md"])


@pytest.mark.parametrize("page", APP_PAGES)
def test_the_snippets_type_check_as_written(mypy_run: MypyRun, page: str) -> None:
    names = [name for name, (source, _) in mypy_run.where.items() if source == page]
    assert names, f"no python block of {page} was checked"
    errors = [error for name in names for error in mypy_run.errors(name)]
    assert errors == [], "\n".join(errors)


def test_the_fastapi_example_type_checks(mypy_run: MypyRun) -> None:
    pytest.importorskip("fastapi", reason="FastAPI comes with the tests extra")
    blocks = [b for b in python_blocks("docs/async.md") if "fastapi" in b.imports()]
    assert blocks
    for block in blocks:
        assert mypy_run.errors(f"{block.module}.py") == []


def test_every_client_method_result_type_checks(mypy_run: MypyRun) -> None:
    errors = mypy_run.errors(PROBE.name)
    assert errors == [], "\n".join(errors)


def test_the_check_reports_what_it_must(mypy_run: MypyRun) -> None:
    errors = mypy_run.errors("negative_control.py")
    lines = sorted({int(error.split(":")[1]) for error in errors})
    expected = [n for n, text in enumerate(NEGATIVE.splitlines(), 1) if "# error" in text]
    assert lines == expected, "\n".join(errors)
    assert any('Item "None"' in e and 'has no attribute "price"' in e for e in errors)
    assert any('"retries"' in error for error in errors)


def test_the_probe_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe is a real app: it works against a fake TextFlow, not only on paper."""
    import anyio

    from textflow import _legacy

    from tests.docs import typed_app_probe as probe

    fake = FakeTextFlow()
    with fake.client() as client:
        sync = probe.sync_app(client, fake)
    assert (sync["to"], sync["valid"], sync["wrong"], sync["old_style"]) == (
        probe.PHONE,
        True,
        False,
        True,
    )
    assert sync["price"] > 0
    assert sync["sent_at"] is not None
    assert sync["expires_at"] is not None

    async def run_async() -> dict[str, object]:
        async with fake.async_client() as client:
            return await probe.async_app(client, fake)

    result = anyio.run(run_async)
    assert result["valid"] is True
    assert result["code_in_text"] is True
    assert result["again_to"] == probe.PHONE

    legacy_fake = FakeTextFlow(api_key="YOUR_KEY")
    with legacy_fake.serve() as base_url:
        monkeypatch.setenv("TEXTFLOW_BASE_URL", base_url)
        try:
            legacy = probe.legacy_app()
        finally:
            _legacy.default_client.reset()
    assert type(legacy["price"]) is float  # as 0.1.0 returned it; the clients give a Decimal
    assert type(sync["price"]) is Decimal
    assert legacy["price"] == float(sync["price"])
    assert legacy["refused"] == (False, 400, True)
    assert legacy["expires"] is not None
    assert legacy["verified"] is False
