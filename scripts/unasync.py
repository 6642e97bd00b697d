"""Write the generated files: the sync twins of the async sources, and the legacy shim.

    python scripts/unasync.py           # rewrite them
    python scripts/unasync.py --check   # change nothing; exit 1 naming each stale file

The async client and the async guard are written by hand; their sync twins are
the same source with the tokens of `TOKENS` swapped (httpcore's ``unasync``
approach). Where the two truly differ (how a call keeps its deadline, how it
sleeps, which stores a guard takes), the async source imports a small
hand-written module whose sync twin has the same names (``textflow._async_io``
and ``textflow._sync_io``; ``guard/_async_store.py`` and ``guard/_sync_store.py``),
and a token maps one import to the other.

The legacy ``tf.*`` functions (``textflow/_legacy.py``) are written from the
operation table (``textflow._operations.OPERATIONS``): each operation with a
0.1.0 name becomes a function with a real signature and docstring, calling the
client method of the same parameters on the default client.

Every generated file says so in its first line and is passed through
``ruff format``, so ``ruff format --check`` agrees with it.
"""

from __future__ import annotations

import argparse
import inspect
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path
from typing import Callable

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
    # httpx.
    (r"\bhttpx\.AsyncClient\b", "httpx.Client"),
    (r"\bAsyncBaseTransport\b", "BaseTransport"),
    (r"\baiter_raw\b", "iter_raw"),
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
]
_COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in TOKENS]

# The async sources and the sync twins written from them.
TWINS = {
    "textflow/_async_client.py": "textflow/_client.py",
    "textflow/guard/_async.py": "textflow/guard/_sync.py",
}


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


def targets() -> dict[str, Callable[[], str]]:
    """Each generated file, and how to write it."""
    found: dict[str, Callable[[], str]] = {
        target: (lambda source=source: render_twin(source)) for source, target in TWINS.items()
    }
    return found


def main(argv: typing.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=inspect.cleandoc(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file is stale"
    )
    args = parser.parse_args(argv)
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
