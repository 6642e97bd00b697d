"""What a test needs from the machine, and what happens when it is not there.

Outside CI a test whose tool is missing is skipped, with a reason that says how to
install it. With ``CI=true`` it fails instead: CI cannot pass without running it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import NoReturn, Optional, Union

import pytest


def in_ci() -> bool:
    """``CI=true`` (any case), as CI services set it."""
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str, install: str) -> NoReturn:
    """Skip (or under ``CI=true`` fail): ``what`` is missing; ``install`` says how to get it."""
    reason = f"{what} is missing: {install}"
    if in_ci():
        pytest.fail(f"{reason} (CI=true: CI must run this test)", pytrace=False)
    pytest.skip(reason)


def require_tool(
    names: Union[str, Sequence[str]], install: str, *, path: Optional[str] = None
) -> str:
    """The path of the first of ``names`` found on ``path`` (default: PATH); if none is,
    ``missing(...)`` with how to ``install`` it."""
    candidates = [names] if isinstance(names, str) else list(names)
    for name in candidates:
        found = shutil.which(name, path=path)
        if found is not None:
            return found
    missing(" or ".join(candidates), install)
