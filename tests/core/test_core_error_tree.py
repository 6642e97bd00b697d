"""The exception tree is drawn once (errors.py's docstring), matches the classes, and the
docs show the same drawing; no exception class lives elsewhere unless it never reaches users."""

from __future__ import annotations

import ast
import importlib
import pickle
import re
import textwrap
from pathlib import Path
from typing import Any, Optional

import pytest

import textflow
from textflow import errors
from textflow._report import Outcome, SendReport
from textflow.models import SendMessageOk

ROOT = Path(__file__).resolve().parent.parent.parent
DOCS = ROOT / "docs" / "errors.md"

#: Exception classes defined outside errors.py, each one never raised to the SDK's users.
ALLOWED_ELSEWHERE = {
    # a signal inside httpx's decoding of a body over the cap; became MalformedResponseError
    "textflow._http.body:AnswerTooLarge",
    # the HTTP/1.1 codec's, sans I/O: its connection maps them to httpx's exceptions
    # (RemoteProtocolError, LocalProtocolError), which the client turns into the SDK's
    "textflow._http.h1:ProtocolError",
    "textflow._http.h1:Unwritable",
    # the SDK's network streams', named as httpcore names its own: the transport maps them
    # to httpx's exceptions of the same names (convert.httpx_errors), then the client's
    "textflow._http.net:NetError",
    "textflow._http.net:TimeoutException",
    "textflow._http.net:ConnectTimeout",
    "textflow._http.net:ReadTimeout",
    "textflow._http.net:WriteTimeout",
    "textflow._http.net:NetworkError",
    "textflow._http.net:ConnectError",
    "textflow._http.net:ReadError",
    "textflow._http.net:WriteError",
    "textflow._http.net:ProxyError",
    # a webhook body with a key twice; became WebhookError
    "textflow.webhooks:_DuplicateKey",
    # the command line's bad usage: printed with the usage, exit status 2
    "textflow._cli.parser:UsageError",
    # the test kit's own (FakeTextFlow.last_code), a LookupError; not the SDK talking to
    # TextFlow, so it stays with textflow.testing
    "textflow.testing._fake:NoCodeError",
    # the fake API's and the sandbox server's answers to a bad request, inside the test kit
    "textflow.testing._reply:Rejected",
    "textflow.testing._server:BadRequest",
}

_LINE = re.compile(r"^(?P<lead>[│ ]*(?:[├└]── )?)(?P<name>[A-Za-z]\w*)(?: \((?P<also>[\w, ]+)\))?")


def drawn(block: str) -> dict[str, tuple[Optional[str], tuple[str, ...]]]:
    """Each class the tree names -> (its parent in the tree, the other bases in brackets)."""
    found: dict[str, tuple[Optional[str], tuple[str, ...]]] = {}
    parents: list[str] = []  # the open branch, one name per depth
    for line in block.splitlines():
        match = _LINE.match(line)
        if match is None or (match["lead"].strip(" │") == "" and match["lead"]):
            continue  # a blank line, or a description continued under a branch
        depth = len(match["lead"]) // 4
        del parents[depth:]
        also = tuple(name.strip() for name in (match["also"] or "").split(",") if name.strip())
        found[match["name"]] = (parents[-1] if parents else None, also)
        parents.append(match["name"])
    return found


def tree_of_docstring() -> str:
    doc = errors.__doc__ or ""
    start = doc.index("    TextFlowError\n")
    end = doc.index("\n\n", doc.index("    KeyboardInterrupt\n"))
    return textwrap.dedent(doc[start:end])


def tree_of_docs() -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("```text\nTextFlowError\n") + len("```text\n")
    return text[start : text.index("```", start)].rstrip("\n")


def test_the_drawn_tree_is_the_class_hierarchy() -> None:
    tree = drawn(tree_of_docstring())
    assert tree["SendManyInterrupted"] == ("KeyboardInterrupt", ())
    assert tree["JournalBusyError"] == ("JournalError", ("RuntimeError",))
    for name, (parent, also) in tree.items():
        if parent is None:
            continue
        cls = getattr(errors, name)
        bases = {base.__name__ for base in cls.__bases__}
        assert bases == {parent, *also}, f"{name} derives from {sorted(bases)}"
    classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    assert classes == set(tree) - {"KeyboardInterrupt"}, "draw every class of errors.py"
    assert set(errors.__all__) >= classes


def test_the_docs_show_the_docstrings_tree() -> None:
    assert tree_of_docs() == tree_of_docstring(), (
        "copy the tree of textflow/errors.py's docstring into docs/errors.md"
    )


def test_send_many_interrupted_is_not_swallowed_by_except_exception() -> None:
    assert issubclass(textflow.SendManyInterrupted, KeyboardInterrupt)
    assert not issubclass(textflow.SendManyInterrupted, Exception)
    assert textflow.SendManyInterrupted is errors.SendManyInterrupted


def test_the_moved_names_are_the_same_objects_everywhere() -> None:
    assert textflow.JournalBusyError is errors.JournalBusyError
    assert textflow.SendManyStopped is errors.SendManyStopped
    assert textflow.JournalError is errors.JournalError
    assert textflow.GuardStoreError is errors.GuardStoreError


def _defined_exceptions() -> set[str]:
    found: set[str] = set()
    for path in sorted((ROOT / "textflow").rglob("*.py")):
        if path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
        if not names:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        try:
            loaded = importlib.import_module(module)
        except Exception:  # e.g. Django models before settings: read the bases instead
            found.update(f"{module}:{name}" for name in _exception_like(tree))
            continue
        for name in names:
            cls = getattr(loaded, name)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                found.add(f"{module}:{name}")
    return found


def _exception_like(tree: ast.Module) -> list[str]:
    """Classes whose written bases look like exceptions (for a module that cannot load)."""
    suffixes = ("Error", "Exception", "Interrupt", "Exit")
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(base).endswith(suffixes) for base in node.bases)
    ]


def test_exception_classes_live_in_errors_py_unless_allowed() -> None:
    elsewhere = {name for name in _defined_exceptions() if not name.startswith("textflow.errors:")}
    new = sorted(elsewhere - ALLOWED_ELSEWHERE)
    assert not new, (
        f"{new}: an exception raised to users belongs in textflow/errors.py; an internal "
        "one goes on ALLOWED_ELSEWHERE with a comment saying why it never reaches users"
    )
    assert not ALLOWED_ELSEWHERE - elsewhere, "drop the allowed names that are gone"


PHONE = "+11234567890"


def _report() -> SendReport:
    answer = SendMessageOk.model_validate(
        {
            "ok": True,
            "status": 200,
            "message": "Message sent successfully",
            "data": {
                "to": PHONE,
                "content": "Your code is 40451",
                "country_code": "US",
                "price": 0.05,
                "timestamp": 1,
            },
        }
    )
    sent = Outcome(0, PHONE, "sent", "Your code is 40451", result=answer)
    refused = Outcome(1, "+15555550100", "refused", "Your code is 40451", error=ValueError("x"))
    return SendReport(outcomes=[sent, refused], sent=1, refused=1)


@pytest.mark.parametrize(
    "exc",
    [
        errors.SendManyStopped("send_many stopped after 2 recipients", _report()),
        errors.SendManyInterrupted("send_many was interrupted", _report()),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_a_stopped_run_pickles_with_its_report_masked(exc: Any) -> None:
    data = pickle.dumps(exc)
    for secret in (PHONE, PHONE[1:], "40451", "+15555550100"):
        assert secret.encode() not in data, secret
    back = pickle.loads(data)
    assert type(back) is type(exc)
    assert str(back) == str(exc)
    assert (back.report.sent, back.report.refused) == (1, 1)
    assert [o.phone_number for o in back.report.outcomes] == ["+1123*****90", "+1555*****00"]
    assert back.report.outcomes[0].result.data.to == "+1123*****90"
    assert exc.report.outcomes[0].phone_number == PHONE  # the live one is the caller's


@pytest.mark.parametrize(
    "exc",
    [
        errors.JournalError("The journal j.db cannot be used: DatabaseError: x"),
        errors.JournalBusyError("The journal j.db is in use by another run"),
        errors.GuardStoreError("The guard's Redis store failed: ConnectionError: x"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_the_store_errors_pickle(exc: textflow.TextFlowError) -> None:
    back = pickle.loads(pickle.dumps(exc))
    assert (type(back), str(back), back.may_have_been_sent) == (type(exc), str(exc), False)
