"""Write the generated files: the sync twins of the async sources, and the legacy shim.

    python scripts/unasync.py           # rewrite them
    python scripts/unasync.py --check   # change nothing; exit 1 naming each stale file

The async client, the async guard and the HTTP layer's async connection and shard
are written by hand; their sync twins are the same source with the tokens of
`TOKENS` swapped (httpcore's ``unasync`` approach). Where the two truly differ (how
a call keeps its deadline, how it sleeps, which stores a guard takes, whether a
close is shielded), the async source imports a small hand-written module whose sync
twin has the same names (``textflow._async_io`` and ``textflow._sync_io``;
``guard/_async_store.py`` and ``guard/_sync_store.py``; ``_http/async_io.py`` and
``_http/sync_io.py``), and a token maps one import to the other.

The legacy ``tf.*`` functions (``textflow/_legacy.py``) are written from the
operation table (``textflow._operations.OPERATIONS``): each operation with a
0.1.0 name becomes a function with a real signature and docstring, calling the
client method of the same parameters on the default client.

Every generated file says so in its first line and is passed through
``ruff format``, so ``ruff format --check`` agrees with it.

One script (just over 300 lines): the token rules and the shim writer share
its command line and its check, and a contributor reads it in one place.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import re
import shutil
import subprocess
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent

# (pattern, replacement), applied in this order to every line of an async source. The
# specific ones come first: a whole import or phrase, before the tokens inside it.
TOKENS: list[tuple[str, str]] = [
    # Prose that says which twin it is.
    (
        r"^Written by hand, async first: scripts/unasync\.py generates the sync twin from it\.$",
        "Generated from the async twin by scripts/unasync.py: edit that one, not this.",
    ),
    (r"\basynchronously \(asyncio or trio\)", "synchronously"),
    (r"\bAny iterable or async iterable\b", "Any iterable"),
    # Imports whose sync side is not the token-for-token twin.
    (
        r"^(\s*)from textflow\._many\._async import Recipients$",
        r"\1from textflow._many._recipients import Recipients",
    ),
    (
        r"^from textflow\.guard\._store import AsyncGuardStore, GuardStore$",
        "from textflow.guard._store import GuardStore",
    ),
    (r"\bUnion\[GuardStore, AsyncGuardStore, None\]", "Optional[GuardStore]"),
    # The language.
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\bAsyncIterator\b", "Iterator"),
    # httpx.
    (r"\bhttpx\.AsyncClient\b", "httpx.Client"),
    (r"\bAsyncBaseTransport\b", "BaseTransport"),
    (r"\baiter_raw\b", "iter_raw"),
    (r"\bhttpx\.AsyncByteStream\b", "httpx.SyncByteStream"),
    (r"\baread\b", "read"),
    # httpcore.
    (r"\bhttpcore\.AsyncHTTPConnection\b", "httpcore.HTTPConnection"),
    (r"\bhandle_async_request\b", "handle_request"),
    (r"\baclose\b", "close"),
    # This package: classes, then modules.
    (r"\bAsyncTextFlowClient\b", "TextFlowClient"),
    (r"\bAsyncTextFlowTransport\b", "TextFlowTransport"),
    (r"\bAsyncVerificationGuard\b", "VerificationGuard"),
    (r"\bAsyncGuardStore\b", "GuardStore"),
    (r"\btextflow\._async_client\b", "textflow._client"),
    (r"\btextflow\._async_io\b", "textflow._sync_io"),
    (r"\b_many\._async\b", "_many._sync"),
    (r"\bguard\._async_store\b", "guard._sync_store"),
    # The HTTP layer (textflow._http): its twins, and the pair where they differ.
    (r"\bAsyncConnection\b", "SyncConnection"),
    (r"\bAsyncBody\b", "SyncBody"),
    (r"\bAsyncShard\b", "SyncShard"),
    (r"\b_http\.async_io\b", "_http.sync_io"),
    (r"\b_http\.async_connection\b", "_http.sync_connection"),
]
_COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in TOKENS]

# The async sources and the sync twins written from them.
TWINS = {
    "textflow/_async_client.py": "textflow/_client.py",
    "textflow/guard/_async.py": "textflow/guard/_sync.py",
    "textflow/_http/async_connection.py": "textflow/_http/sync_connection.py",
    "textflow/_http/async_shard.py": "textflow/_http/sync_shard.py",
}
LEGACY = "textflow/_legacy.py"


def header(source: str) -> str:
    """The first line of a generated file."""
    return f"# Generated from {source} by scripts/unasync.py: do not edit by hand.\n"


def unasync(text: str) -> str:
    """The sync twin of an async source: every line with `TOKENS` swapped."""
    lines = []
    for line in text.splitlines(keepends=True):
        for pattern, replacement in _COMPILED:
            line = pattern.sub(replacement, line)
        lines.append(line)
    return "".join(lines)


def _ruff(arguments: list[str], text: str, path: str) -> str:
    ruff = shutil.which("ruff")
    command = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    done = subprocess.run(  # noqa: S603 (our own command line: ruff on generated text)
        [*command, *arguments, "--stdin-filename", path, "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"ruff {arguments[0]} failed on the generated {path}:\n{done.stderr}")
    return done.stdout


def formatted(text: str, path: str) -> str:
    """``text`` as ruff wants it at ``path``, with the project's settings: imports sorted
    (a swapped import may sort elsewhere), then formatted (lines may join once shorter)."""
    text = _ruff(["check", "--fix-only", "--select", "I001", "--exit-zero"], text, path)
    return _ruff(["format"], text, path)


def render_twin(source: str) -> str:
    return header(source) + unasync((ROOT / source).read_text(encoding="utf-8"))


LEGACY_DOC = '''"""The ``textflowsms`` 0.1.0 functions, over a default ``TextFlowClient``.

``import textflowsms as tf; tf.useKey(KEY); tf.sendSMS(...)`` keeps working,
with the same paths, JSON bodies and ``Authorization: Bearer`` header as 0.1.0,
but over a pooled, timed-out client. The functions never raise for API,
network or input failures: they return the result model with ``ok=False`` and

* the API's own ``status`` and ``message`` when it answered;
* ``status=400`` and a clear sentence for a bad argument or a missing key;
* ``status=0`` and a sentence naming the failure when no answer came;

and, for ``verifyCode``, ``valid=False``.

One function per operation of ``textflow._operations.OPERATIONS`` that has a
0.1.0 name, written out (static signatures and docstrings, for readers, IDEs
and the API reference) by scripts/unasync.py; what they run on is
``textflow._legacy_runtime``, written by hand.
"""
'''


def _wrap(text: str, indent: str, hanging: str = "") -> str:
    return textwrap.fill(text, width=96, initial_indent=indent, subsequent_indent=indent + hanging)


def _section(doc: str, title: str) -> str:
    """A Google-style section's body (``Args:``), as written in ``doc`` (dedented)."""
    body = doc.split(f"{title}:\n", 1)[1].split("\n\n", 1)[0]
    return textwrap.dedent(body)


def legacy_function(op: Any, constant: str, method: Any) -> str:
    """The source of one legacy function: ``op``'s 0.1.0 name over the client ``method``."""
    doc = unasync(inspect.getdoc(method) or "")
    signature = inspect.signature(method)
    parameters = list(signature.parameters.values())[1:]  # not self
    written = ", ".join(
        f"{p.name}: {p.annotation}" + ("" if p.default is p.empty else f" = {p.default!r}")
        for p in parameters
    )
    model, failed = op.legacy_model.__name__, op.failed_model.__name__
    returns = model if op.legacy_model is op.failed_model else f"Union[{model}, {failed}]"
    valid = "valid" in op.failed_model.model_fields
    summary = re.split(r"\. |: |\.$", doc.splitlines()[0])[0]
    example = next(line for line in doc.splitlines() if f"client.{op.name}(" in line)
    example_args = example[example.index(f"client.{op.name}(") + len(f"client.{op.name}") :]
    how = (
        "Runs on the default client (the key of ``useKey``, else ``TEXTFLOW_API_KEY``) and "
        "never raises for API, network or input failures: it returns a result with "
        + ("``ok=False`` and ``valid=False`` instead." if valid else "``ok=False`` instead.")
    )
    if op.legacy_aliases:
        how += " Also importable as " + ", ".join(f"``{a}``" for a in op.legacy_aliases) + "."
    if op.legacy_model is op.failed_model:
        answer = (
            f"The API's answer, a `{model}`; when the call failed, one with ``ok=False``"
            + (", ``valid=False``" if valid else "")
            + ", ``status`` and ``message`` (400 for bad input or no key, 0 for no answer)."
        )
    else:
        answer = (
            f"The API's answer, a `{model}`; or, when the call failed, a `{failed}` with "
            "``ok=False``, ``status`` and ``message`` (400 for bad input or no key, 0 for no "
            "answer). After ``if result.ok:`` a type checker knows ``result.data`` is there."
        )
    args = textwrap.indent(_section(doc, "Args"), "        ")
    call = ", ".join(p.name for p in parameters)
    lines = [
        f"def {op.legacy_name}({written}) -> {returns}:",
        f'    """{summary} (0.1.0 API): `TextFlowClient.{op.name}`.',
        "",
        _wrap(how, "    "),
        "",
        "    Args:",
        args,
        "",
        "    Returns:",
        _wrap(answer, "        ", "    "),
        "",
        "    Examples:",
        "        >>> import textflowsms as tf",
        f"        >>> result = tf.{op.legacy_name}{example_args}",
        "        >>> print(result.ok, result.status, result.message)",
        '    """',
        "    return never_raising(",
        f"        {constant}, {model}, {failed}, lambda: default_client.get().{op.name}({call})",
        "    )",
    ]
    lines += ["", ""] + [f"{alias} = {op.legacy_name}" for alias in op.legacy_aliases]
    return "\n".join(lines) + "\n"


def render_legacy() -> str:
    """``textflow/_legacy.py``, from the operation table and the async client's methods.

    Imports ``textflow`` (this checkout's): a new 0.1.0 name is a field of the table.
    """
    sys.path.insert(0, str(ROOT))
    from textflow import _operations
    from textflow._async_client import AsyncTextFlowClient

    constants = {
        id(value): name
        for name, value in vars(_operations).items()
        if isinstance(value, _operations.Operation)
    }
    ops = [op for op in _operations.OPERATIONS.values() if op.legacy_name]
    models = sorted({m.__name__ for op in ops for m in (op.legacy_model, op.failed_model)})
    names = sorted(
        [
            "default_client",
            "useKey",
            *(n for op in ops for n in (op.legacy_name, *op.legacy_aliases)),
        ]
    )
    head = [
        LEGACY_DOC,
        "from __future__ import annotations",
        "",
        "from typing import Union",
        "",
        "from textflow._legacy_runtime import default_client, never_raising, useKey",
        "from textflow._operations import " + ", ".join(sorted(constants[id(op)] for op in ops)),
        "from textflow.models import " + ", ".join(models),
        "",
        "__all__ = [" + ", ".join(f'"{name}"' for name in names) + "]",
        "",
        "",
    ]
    functions = [
        legacy_function(op, constants[id(op)], getattr(AsyncTextFlowClient, op.name)) for op in ops
    ]
    return "\n".join(head) + "\n\n".join(functions)


def targets() -> dict[str, Callable[[], str]]:
    """Each generated file, and how to write it."""
    found: dict[str, Callable[[], str]] = {
        target: functools.partial(render_twin, source) for source, target in TWINS.items()
    }
    found[LEGACY] = lambda: header("textflow/_operations.py") + render_legacy()
    return found


def main(argv: typing.Optional[list[str]] = None) -> int:
    global ROOT
    parser = argparse.ArgumentParser(description=inspect.cleandoc(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file is stale"
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the checkout to work on (default: this one)"
    )
    args = parser.parse_args(argv)
    ROOT = args.root.resolve()
    stale = []
    for path, render in targets().items():
        wanted = formatted(render(), path)
        file = ROOT / path
        current = file.read_text(encoding="utf-8") if file.exists() else None
        if current == wanted:
            continue
        if args.check:
            stale.append(path)
        else:
            file.write_text(wanted, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        for path in stale:
            print(f"{path} is stale: run `python scripts/unasync.py` (or `nox -s generate`)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
