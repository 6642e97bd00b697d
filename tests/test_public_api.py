"""The public API keeps every name it has, and grows only on purpose.

``public_api.txt`` lists ``dir()`` of ``textflow``, ``textflow.testing``,
``textflow.guard`` and ``textflowsms`` (one ``module: name`` a line), read in a
fresh interpreter that imports just those four. Names with a leading underscore
(but ``__version__``), and what a module only imports for itself (``typing``
helpers, other packages' modules), are not the API.

To add a name on purpose: ``python -m tests.test_public_api > tests/public_api.txt``,
and say why in the changelog.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LISTED = Path(__file__).with_name("public_api.txt")
MODULES = ("textflow", "textflow.testing", "textflow.guard", "textflowsms")

_SCRIPT = f"""
import importlib, types, typing
for module in {MODULES!r}:
    loaded = importlib.import_module(module)
    for name in dir(loaded):
        if name.startswith("_") and name != "__version__":
            continue
        value = getattr(loaded, name)
        if name == "annotations" or getattr(typing, name, object()) is value:
            continue  # what ``from __future__`` and ``typing`` lend the module
        if isinstance(value, types.ModuleType) and not value.__name__.startswith(
            ("textflow.", "textflowsms.")
        ):
            continue  # another package's module, imported for the module's own use
        print(f"{{module}}: {{name}}")
"""


def current() -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTFLOW_")}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    return sorted(done.stdout.splitlines())


def listed() -> list[str]:
    lines = LISTED.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def test_no_public_name_disappears_and_none_appears_unlisted() -> None:
    now, kept = set(current()), set(listed())
    gone = sorted(kept - now)
    assert not gone, f"public names removed: {gone} (users import them: keep them)"
    new = sorted(now - kept)
    assert not new, (
        f"public names not in {LISTED.name}: {new}. If they are meant to be public, add "
        f"them (python -m tests.test_public_api > tests/{LISTED.name}); else name them "
        "with a leading underscore"
    )


def test_the_list_is_sorted_and_without_duplicates() -> None:
    names = listed()
    assert names == sorted(set(names))


if __name__ == "__main__":
    print("# dir() of textflow, textflow.testing, textflow.guard, textflowsms: grows on purpose")
    print("\n".join(current()))
