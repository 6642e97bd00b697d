"""The API reference, as the docs site renders it (``mkdocs build --strict``, like ``nox -s docs``).

mkdocstrings reads the source statically (griffe): what it shows is what a reader
and an IDE see. These tests build the site once (tests/docs/docs_support.py) and read
the rendered HTML: every public method of both clients and every legacy function
is there with its signature and its docstring's first line, and no signature shows
a private name where the public one (or the real default) belongs.

They need the docs extra (``pip install -e '.[docs]'``); the ``docs`` nox session
runs them. Without mkdocs they are skipped, saying so.
"""

from __future__ import annotations

import html
import inspect
import re
from pathlib import Path

import pytest

import textflow

pytest.importorskip(
    "mkdocstrings", reason="the docs extra is not installed: `nox -s docs` runs this"
)


LEGACY = ["useKey", "sendSMS", "sendVerificationSMS", "verifyCode"]
# What no signature in the reference may show: private modules and the names that stood for
# the defaults and types (the reader needs the real default and a public type).
PRIVATE = re.compile(r"(?<![\w.])_\w+\.|TimeoutTypes|HttpClientT|ResultT|\bDEFAULT_\w+")


def _text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def _signature(fragment: str) -> str:
    """A rendered signature on one line, as written in source: no breaks inside brackets."""
    return re.sub(r"\s+([\])])", r"\1", re.sub(r"([\[(])\s+", r"\1", _text(fragment)))


@pytest.fixture(scope="module")
def site(docs_site: Path) -> Path:
    return docs_site


class Page:
    """One rendered reference page, split at mkdocstrings' object headings."""

    def __init__(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        self.html = text[text.index("<article") : text.index("</article>")]

    def section(self, object_id: str) -> str:
        """The HTML of one object: its heading up to the next object's heading."""
        start = self.html.find(f'id="{object_id}"')
        assert start >= 0, f"{object_id} is not in the reference"
        heading = re.compile(r'<h\d id="[^"]*" class="doc doc-heading"')
        following = heading.search(self.html, self.html.index("</h", start))
        return self.html[start : following.start() if following else len(self.html)]

    def signatures(self) -> list[str]:
        return [
            _signature(m[1])
            for m in re.finditer(
                r'<div class="doc-signature highlight">(.*?)</div>', self.html, re.S
            )
        ]


def _signature_and_text(section: str) -> tuple[str, str]:
    signature = re.search(r'<div class="doc-signature highlight">(.*?)</div>', section, re.S)
    assert signature, "no signature rendered"
    return _signature(signature[1]), _text(section[signature.end() :])


def _first_line(obj: object) -> str:
    """The docstring's summary as rendered: Markdown code spans become plain text."""
    summary = (inspect.getdoc(obj) or "").splitlines()[0]
    return " ".join(summary.replace("``", "").replace("`", "").split())


def _public_methods(cls: type) -> list[str]:
    return [
        name
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and inspect.isfunction(member)
    ]


@pytest.mark.parametrize("cls", [textflow.TextFlowClient, textflow.AsyncTextFlowClient])
def test_every_client_method_is_in_the_reference_with_signature_and_docstring(
    site: Path, cls: type
) -> None:
    page = Page(site / "reference" / "clients" / "index.html")
    methods = _public_methods(cls)
    assert {"send_sms", "get_balance", "with_options", "send_many"} <= set(methods)
    for name in methods:
        method = getattr(cls, name)
        section = page.section(f"textflow.{cls.__name__}.{name}")
        signature, text = _signature_and_text(section)
        assert signature.startswith(f"{name}("), signature
        for parameter in list(inspect.signature(method).parameters)[1:]:
            assert parameter in signature, (name, parameter)
        assert _first_line(method) in text, name
        assert ("doc-label-async" in section) == inspect.iscoroutinefunction(method), name


def test_both_constructors_show_public_types_and_the_real_defaults(site: Path) -> None:
    page = Page(site / "reference" / "clients" / "index.html")
    for cls, http_client in [
        (textflow.TextFlowClient, "httpx.Client"),
        (textflow.AsyncTextFlowClient, "httpx.AsyncClient"),
    ]:
        signature, text = _signature_and_text(page.section(f"textflow.{cls.__name__}"))
        assert signature.startswith(f"{cls.__name__}(")
        timeout = "timeout: Union[float, httpx.Timeout, None] = httpx.Timeout(30.0, connect=5.0)"
        assert timeout in signature, signature
        assert "max_retries: int = 2" in signature
        assert f"http_client: Optional[{http_client}] = None" in signature
        assert _first_line(cls) in text
        assert "Parameters:" in text  # the Args section of each class, as a table


def test_every_legacy_function_is_in_the_reference(site: Path) -> None:
    page = Page(site / "reference" / "legacy" / "index.html")
    for name in LEGACY:
        function = getattr(textflow, name)
        signature, text = _signature_and_text(page.section(f"textflow.{name}"))
        assert signature.startswith(f"{name}("), signature
        for parameter in inspect.signature(function).parameters:
            assert parameter in signature, (name, parameter)
        assert _first_line(function) in text, name
    verify, _ = _signature_and_text(page.section("textflow.verifyCode"))
    assert "code: Union[str, int]" in verify
    sms, _ = _signature_and_text(page.section("textflow.sendSMS"))
    assert sms.endswith("-> Union[LegacySendMessageOk, SendMessageFailed]")


def test_no_signature_in_the_reference_shows_a_private_name(site: Path) -> None:
    pages = sorted((site / "reference").glob("*/index.html"))
    assert len(pages) >= 5
    signatures = [(page.parent.name, s) for page in pages for s in Page(page).signatures()]
    assert len(signatures) > 50
    shown = [(page, s) for page, s in signatures if PRIVATE.search(s)]
    assert shown == []
    # nor the tables of parameters under them (their Type and Default columns)
    clients = _text(Page(site / "reference" / "clients" / "index.html").html)
    for name in ("_config", "TimeoutTypes", "HttpClientT", "DEFAULT_TIMEOUT", "DEFAULT_MAX"):
        assert name not in clients


def test_the_private_name_check_catches_what_it_is_for() -> None:
    for bad in (
        "timeout: TimeoutTypes = _config.DEFAULT_TIMEOUT",
        "http_client: Optional[HttpClientT] = None",
        "concurrency: int = DEFAULT_CONCURRENCY",
    ):
        assert PRIVATE.search(bad), bad
    for good in (
        "timeout: Union[float, httpx.Timeout, None] = httpx.Timeout(30.0, connect=5.0)",
        "phone_field: str = 'phone_number'",
        "send_many(recipients: Recipients, *, keep_outcomes: bool = True) -> SendReport",
    ):
        assert not PRIVATE.search(good), good
