"""Every public name of ``textflow`` is exported exactly once, and resolves.

A name of ``__all__`` is either imported when ``textflow`` is (the exceptions)
or loaded on first use through the lazy map (``_LAZY``), never both; the lazy
map agrees with the imports type checkers read (under ``TYPE_CHECKING``); and
each operation's models, named in the operation table, are among the names.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import textflow
from textflow._operations import OPERATIONS

LAZY: dict[str, str] = textflow._LAZY


def _eager_names() -> set[str]:
    """The names ``import textflow`` binds, in a fresh interpreter (nothing loaded lazily yet)."""
    code = "import json, textflow; print(json.dumps(sorted(vars(textflow))))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout))


def _type_checking_imports() -> dict[str, str]:
    """Name -> module of the ``from M import N`` under ``if TYPE_CHECKING:`` in __init__."""
    tree = ast.parse(Path(textflow.__file__).read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                assert stmt.module is not None
                for alias in stmt.names:
                    found[alias.asname or alias.name] = stmt.module
    return found


def test_every_public_name_is_listed_once_and_exported_one_way() -> None:
    names = textflow.__all__
    assert len(names) == len(set(names)), "a name is listed twice in __all__"
    eager = _eager_names() & set(names)
    assert not eager & set(LAZY), f"both imported and lazy: {sorted(eager & set(LAZY))}"
    assert set(names) == eager | set(LAZY)


def test_every_lazy_name_resolves_to_the_object_of_its_module() -> None:
    for name, module in LAZY.items():
        assert getattr(textflow, name) is getattr(importlib.import_module(module), name), name


def test_the_lazy_map_is_what_type_checkers_read() -> None:
    static = _type_checking_imports()
    static.pop("models")  # ``from textflow import models as models``: the module itself
    assert static == LAZY


def test_each_operations_models_are_public_names() -> None:
    for op in OPERATIONS.values():
        for name in (op.model_name, op.failed_model_name):
            assert name in textflow.__all__
            assert getattr(textflow, name) is getattr(textflow.models, name)
        assert op.model is getattr(textflow.models, op.model_name)
        assert op.failed_model is getattr(textflow.models, op.failed_model_name)
