"""Every ```python block in docs/ and README.md runs here, against a fake TextFlow.

So the docs cannot rot: an example that stops working fails the suite. Nothing
reaches the network; the fake serves HTTP on 127.0.0.1.

How a block runs (test id ``page.md:LINE``, the line of the opening fence):

* as a script of its own: a fresh namespace with ``__name__ == "__main__"``;
  top-level ``await`` is allowed (compiled with ``PyCF_ALLOW_TOP_LEVEL_AWAIT``
  and run under ``asyncio.run``);
* with the environment of a configured app: ``TEXTFLOW_API_KEY=YOUR_KEY`` and
  ``TEXTFLOW_BASE_URL`` pointing at a ``FakeTextFlow(api_key="YOUR_KEY")``
  served over HTTP (reset before each block: fresh balance, no messages);
* with this small preamble of names, for snippets that show part of an app:

  - ``client``: a ``TextFlowClient()`` built from that environment, closed
    after the block (for snippets that use ``client`` without making one);
  - ``user_entered_code``: ``"0000"``, a code "the user typed" (a wrong one:
    the fake's codes have 6 digits);
  - ``input(prompt)``: returns the live code the fake last sent, as a user
    reading the SMS would type it (so ``code = input("Code: ")`` verifies).

  Environment variables, the ``textflow`` logger and the legacy functions'
  default client are restored after each block.

  README.md blocks get no preamble: they run exactly as written, as a reader
  following the README's "Try it without an account" would run them (the
  environment above is that sandbox). Only the keyboard is simulated: a block's
  ``input()`` reads from stdin, where "the user" types the live code the fake
  last sent.

Markers in the Markdown (put them in the docs, not here):

* ``<!-- not-run: REASON -->`` on the line right before a fence: the block is
  not run; it is reported as skipped with REASON, and
  ``test_not_run_blocks_are_the_expected_ones`` lists every such block, so none
  is skipped silently.
* ```` ```python title="test_NAME.py" ````: the block is a pytest file; it is
  written to a temporary folder and run by pytest in a subprocess (with the
  ``textflow.testing`` and anyio plugins only), and every test in it must pass.
  Beside it are written the modules the docs define: every block titled
  ``NAME.py`` (not ``test_``), on any page, so ``from app import app`` in a test
  file imports the app a guide shows in ```` ```python title="app.py" ````.
* ```` ```text title="Output" ```` right after a python block (blank lines
  between are allowed): what the block prints must equal it (trailing spaces
  ignored).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

import textflow
from textflow import _legacy
from textflow.testing import FakeTextFlow

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]

DOCS_KEY = "YOUR_KEY"  # the placeholder the docs show; the fake accepts it
WRONG_CODE = "0000"

# Every block that is deliberately not run, as "page:line". Adding one is a
# deliberate change: this list must be updated with it.
EXPECTED_NOT_RUN = {
    "configuration.md": 1,  # a proxy and HTTP/2: needs a proxy server and h2
    "guard.md": 2,  # Flask, and a Redis server
    "sending-to-many.md": 2,  # a Redis server; Celery workers and their broker
}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_NOT_RUN = re.compile(r"^\s*<!--\s*not-run:\s*(?P<reason>.+?)\s*-->\s*$")
_TITLE = re.compile(r"""title\s*=\s*["'](?P<title>[^"']*)["']""")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown page."""

    page: str  # path relative to docs/ (or "README.md")
    line: int  # 1-based line of the opening fence
    lang: str
    title: Optional[str]
    code: str
    not_run: Optional[str] = None  # the reason, when marked <!-- not-run: ... -->
    output: Optional[str] = None  # the expected output, from a following ```text title="Output"

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def parse_blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path``, in order; python blocks carry their markers."""
    docs = ROOT / "docs"
    page = path.relative_to(docs).as_posix() if docs in path.parents else path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    raw: list[tuple[int, str, Optional[str], str, Optional[str], int]] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        lang = info.split()[0].lower() if info else ""
        title_match = _TITLE.search(info)
        marker = _NOT_RUN.match(lines[i - 1]) if i > 0 else None
        raw.append(
            (
                i + 1,
                lang,
                title_match["title"] if title_match else None,
                "\n".join(body) + "\n",
                marker["reason"] if marker else None,
                j,
            )
        )
        i = j + 1
    blocks = []
    for index, (line, lang, title, code, not_run, end) in enumerate(raw):
        if lang != "python":
            continue
        output = None
        if index + 1 < len(raw):
            next_line, next_lang, next_title, next_code, _, _ = raw[index + 1]
            between = lines[end + 1 : next_line - 1]
            adjacent = not any(text.strip() for text in between)
            if next_lang == "text" and next_title == "Output" and adjacent:
                output = next_code
        blocks.append(Block(page, line, lang, title, code, not_run, output))
    return blocks


BLOCKS = [block for page in PAGES for block in parse_blocks(page)]
# The modules the docs define, for the pytest-file blocks to import (see the header).
MODULES = {
    b.title: b.code
    for b in BLOCKS
    if b.title and b.title.endswith(".py") and not b.title.startswith("test_") and b.not_run is None
}


# --- the environment every block runs in -------------------------------------------------


@pytest.fixture(scope="module")
def docs_fake() -> Iterator[tuple[FakeTextFlow, str]]:
    """One fake for the module, served over HTTP on 127.0.0.1, accepting ``YOUR_KEY``."""
    fake = FakeTextFlow(api_key=DOCS_KEY)
    with fake.serve() as base_url:
        yield fake, base_url


@contextlib.contextmanager
def _restored_state() -> Iterator[None]:
    """Undo what a block may change globally: env vars, the textflow logger, legacy client."""
    environ = dict(os.environ)
    logger = logging.getLogger("textflow")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    _legacy.default_client.reset()
    try:
        yield
    finally:
        _legacy.default_client.reset()
        os.environ.clear()
        os.environ.update(environ)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        root.handlers[:] = root_handlers
        root.setLevel(root_level)


def _typed_code(fake: FakeTextFlow) -> str:
    """What a user reading the fake's last verification SMS would type."""
    sent = [m for m in fake.messages if m.kind == "code"]
    assert sent, "input() was called before any verification code was sent"
    return fake.last_code(sent[-1].phone_number)  # NoCodeError if no longer live


class _Keyboard:
    """A stdin where the user types the live code they received, one line per read."""

    def __init__(self, fake: FakeTextFlow) -> None:
        self._fake = fake

    def readline(self, size: int = -1) -> str:
        return _typed_code(self._fake) + "\n"


def _run_as_written(block: Block, fake: FakeTextFlow, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a README ``block`` with no preamble at all; returns what it printed."""
    code = compile(block.code, block.id, "exec", dont_inherit=True)
    printed = io.StringIO()
    monkeypatch.setattr(sys, "stdin", _Keyboard(fake))
    with contextlib.redirect_stdout(printed):
        exec(code, {"__name__": "__main__"})  # the README's own code, on purpose
    return printed.getvalue()


def _run_script(block: Block, fake: FakeTextFlow) -> str:
    """Run ``block`` with the preamble; returns what it printed."""
    code = compile(
        block.code, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )

    def typed_code(prompt: str = "") -> str:
        return _typed_code(fake)

    printed = io.StringIO()
    with textflow.TextFlowClient() as client:
        namespace: dict[str, Any] = {
            "__name__": "__main__",
            "client": client,
            "user_entered_code": WRONG_CODE,
            "input": typed_code,
        }
        with contextlib.redirect_stdout(printed):
            result = eval(code, namespace)  # the docs' own code, on purpose
            if inspect.iscoroutine(result):
                asyncio.run(result)
    return printed.getvalue()


def _run_pytest_file(block: Block, tmp_path: Path) -> None:
    """Run ``block`` as the pytest file it says it is; every test in it must pass."""
    assert block.title is not None
    for name, code in MODULES.items():
        (tmp_path / name).write_text(code, encoding="utf-8")
    (tmp_path / block.title).write_text(block.code, encoding="utf-8")
    # Only the plugins the docs rely on: quicker, and independent of what else is installed.
    plugins = ["-p", "textflow.testing.pytest_plugin", "-p", "anyio.pytest_plugin"]
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugins, block.title]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TEXTFLOW_"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    done = subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"pytest on {block.id} failed:\n{done.stdout}\n{done.stderr}"


def _normalised(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_doc_example(
    block: Block,
    docs_fake: tuple[FakeTextFlow, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if block.not_run is not None:
        pytest.skip(f"{block.id} not-run: {block.not_run}")
    fake, base_url = docs_fake
    fake.reset()
    if block.title is not None and block.title.startswith("test_"):
        _run_pytest_file(block, tmp_path)
        return
    with _restored_state():
        os.environ["TEXTFLOW_API_KEY"] = DOCS_KEY
        os.environ["TEXTFLOW_BASE_URL"] = base_url
        os.environ.pop("TEXTFLOW_LOG", None)
        monkeypatch.chdir(tmp_path)  # a block that writes a file writes it here
        if block.page == "README.md":
            printed = _run_as_written(block, fake, monkeypatch)
        else:
            printed = _run_script(block, fake)
    if block.output is not None:
        assert _normalised(printed) == _normalised(block.output)


# --- the collection itself ----------------------------------------------------------------


def test_every_page_is_collected() -> None:
    assert (ROOT / "docs" / "index.md") in PAGES
    pages_with_python = {block.page for block in BLOCKS}
    assert "README.md" in pages_with_python
    assert "index.md" in pages_with_python


def test_not_run_blocks_are_the_expected_ones() -> None:
    """Every skipped block is listed, so none is skipped silently."""
    counted: dict[str, int] = {}
    for block in BLOCKS:
        if block.not_run is not None:
            counted[block.page] = counted.get(block.page, 0) + 1
    skipped = [f"{b.id} ({b.not_run})" for b in BLOCKS if b.not_run is not None]
    assert counted == EXPECTED_NOT_RUN, f"blocks marked not-run: {skipped}"


def test_module_blocks_have_unique_names() -> None:
    """Two pages defining the same module would shadow one another in the test files."""
    titles = [b.title for b in BLOCKS if b.title and b.title in MODULES]
    assert sorted(titles) == sorted(MODULES)
    assert "app.py" in MODULES


def test_parser_reads_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "<!-- not-run: needs a web server -->\n"
        "```python\nimport fastapi\n```\n\n"
        "!!! note\n    ```python\n    print('indented')\n    ```\n\n"
        '    ```text title="Output"\n    indented\n    ```\n\n'
        '```python title="test_x.py"\ndef test_x(): pass\n```\n'
        "```bash\necho not python\n```\n",
        encoding="utf-8",
    )
    blocks = parse_blocks(page)
    assert [(b.line, b.not_run, b.title) for b in blocks] == [
        (4, "needs a web server", None),
        (9, None, None),
        (17, None, "test_x.py"),
    ]
    assert blocks[1].code == "print('indented')\n"
    assert blocks[1].output == "indented\n"


def test_readme_runs_as_written(
    docs_fake: tuple[FakeTextFlow, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's sync example verifies the phone with the code "the user" typed."""
    fake, base_url = docs_fake
    fake.reset()
    [sync] = [b for b in BLOCKS if b.page == "README.md" and "input(" in b.code]
    assert "user_entered_code" not in sync.code
    with _restored_state():
        monkeypatch.setenv("TEXTFLOW_API_KEY", DOCS_KEY)
        monkeypatch.setenv("TEXTFLOW_BASE_URL", base_url)
        monkeypatch.chdir(tmp_path)
        printed = _run_as_written(sync, fake, monkeypatch)
    assert printed.splitlines()[0] == "0.15"
    assert printed.rstrip().endswith("phone verified")
    assert [m.kind for m in fake.messages] == ["sms", "code"]


def test_readme_blocks_are_python_files() -> None:
    """Each README block is a valid file: no top-level await or async with."""
    readme = [b for b in BLOCKS if b.page == "README.md"]
    assert len(readme) >= 4
    for block in readme:
        compile(block.code, block.id, "exec", dont_inherit=True)


def test_fastapi_app_of_the_async_guide(
    docs_fake: tuple[FakeTextFlow, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/async.md's app, lifespan included, through httpx.ASGITransport against the fake."""
    import httpx

    fake, base_url = docs_fake
    fake.reset()
    monkeypatch.setenv("TEXTFLOW_API_KEY", DOCS_KEY)
    monkeypatch.setenv("TEXTFLOW_BASE_URL", base_url)
    namespace: dict[str, Any] = {"__name__": "app"}
    exec(compile(MODULES["app.py"], "docs/async.md:app.py", "exec"), namespace)
    app = namespace["app"]
    phone = {"phone_number": "+11234567890"}
    answers: list[tuple[int, Any]] = []

    async def scenario() -> None:
        async with app.router.lifespan_context(app):  # what the ASGI server runs
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
                in_the_url = await http.post("/verify/start", params=phone)
                started = await http.post("/verify/start", json=phone)
                code = fake.last_code(phone["phone_number"])
                assert code is not None
                for body in [
                    {**phone, "code": code},  # right
                    {**phone, "code": code},  # used up
                    {"phone_number": "12345", "code": code},  # not a phone number
                ]:
                    finished = await http.post("/verify/finish", json=body)
                    answers.append((finished.status_code, finished.json()))
                bad = await http.post("/verify/start", json={"phone_number": "12345"})
                answers.append((bad.status_code, bad.json()))
            assert in_the_url.status_code == 422  # the body is required: no number in a URL
            assert started.status_code == 200
            assert started.json() == {"sent": True}
            assert not app.state.textflow._http.is_closed
        assert app.state.textflow._http.is_closed  # the lifespan closed its client

    asyncio.run(scenario())
    assert answers[0] == (200, {"verified": True})
    assert answers[1] == (200, {"verified": False})
    for status, body in answers[2:]:
        assert status == 422, body  # InputValidationError: the caller's input, not a 500
        assert body["argument"] == "phone_number"
        assert "phone_number" in body["detail"]
    assert [m.kind for m in fake.messages] == ["code"]  # the bad number was never sent


def test_fastapi_app_of_the_guard_guide(
    docs_fake: tuple[FakeTextFlow, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/guard.md's app: a refusal is 403/429 with Retry-After, bad input 400, never 500."""
    import httpx

    fake, base_url = docs_fake
    fake.reset()
    monkeypatch.setenv("TEXTFLOW_API_KEY", DOCS_KEY)
    monkeypatch.setenv("TEXTFLOW_BASE_URL", base_url)
    namespace: dict[str, Any] = {"__name__": "guard_app"}
    exec(compile(MODULES["guard_app.py"], "docs/guard.md:guard_app.py", "exec"), namespace)
    app = namespace["app"]
    answers: list[httpx.Response] = []

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
                for number in ["+11234567890", "+11234567890", "+381611231234", "12345"]:
                    answer = await http.post("/verify/start", json={"phone_number": number})
                    answers.append(answer)
                code = fake.last_code("+11234567890")
                assert code is not None
                body = {"phone_number": "+11234567890", "code": code}
                answers.append(await http.post("/verify/finish", params=body))  # not read
                answers.append(await http.post("/verify/finish", json=body))

    asyncio.run(scenario())
    first, again, abroad, bad, in_the_url, finished = answers
    assert in_the_url.status_code == 422  # the body is required; the query string is ignored
    assert (first.status_code, first.json()) == (200, {"sent": True})
    assert again.status_code == 429  # the cooldown per number
    assert int(again.headers["Retry-After"]) >= 1
    assert (abroad.status_code, abroad.json()) == (403, {"detail": "country"})
    assert (bad.status_code, bad.json()) == (400, {"detail": "bad phone_number"})
    assert (finished.status_code, finished.json()) == (200, {"verified": True})
    assert [m.phone_number for m in fake.messages] == ["+11234567890"]
