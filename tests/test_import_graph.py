"""The house has no import circles and no import back up its layers.

Every module of ``textflow`` and ``textflowsms`` is parsed (not imported) with
`ast`: imports at module level, inside functions and under ``TYPE_CHECKING``
count alike, since any of them can close a circle when it runs (or when mypy
reads it). ``from textflow import _config`` is an edge to ``textflow._config``;
``from textflow import X`` of a name that is not a module is an edge to
``textflow`` itself. A package's ``__init__`` that Python runs on the way to a
submodule is not counted: only what the code names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("textflow", "textflowsms")

#: Top to bottom: a module may import its own layer and those below, never one above.
#: A name covers the module and, for a package, everything in it; the longest name wins.
LAYERS: tuple[tuple[str, ...], ...] = (
    # the faces: command line, test kit, optional extras, public names
    (
        "textflow._cli",
        "textflow.__main__",
        "textflow.testing",
        "textflow.contrib",
        "textflow.integrations",
        "textflowsms",
        "textflow",
    ),
    ("textflow.guard",),
    ("textflow._legacy", "textflow._legacy_runtime"),  # generated, over a hand-written runtime
    # the clients and the pieces only they use
    (
        "textflow._client",
        "textflow._async_client",
        "textflow._http.aiohttp_client",
        "textflow.webhooks",
    ),
    ("textflow._many",),  # send_many: uses a client through a protocol (_many._client)
    # the HTTP layer
    (
        "textflow._base_client",
        "textflow._async_io",  # where the two clients differ: deadline and sleep
        "textflow._sync_io",
        "textflow._http",
    ),
    # decisions without I/O
    (
        "textflow._operations",
        "textflow._wire",
        "textflow._config",
        "textflow._retry",
        "textflow._http.body",
        "textflow._http.deadline",
        "textflow._http.sent",
        "textflow._logging",
        "textflow._segments",
        "textflow._hooks",  # the hooks' events and their dispatch to hooks and observers
    ),
    # pure leaves (the report is data that SendManyStopped carries)
    (
        "textflow.errors",
        "textflow.models",
        "textflow._redact",
        "textflow._validation",
        "textflow._version",
        "textflow._report",
    ),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _imported(node: ast.AST, here: str, is_package: bool) -> Iterator[str]:
    """The module names one import statement names (ours or not)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = here.split(".")
            base = base[: len(base) - node.level + (1 if is_package else 0)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            yield f"{source}.{alias.name}"  # a submodule, if it is one
            yield source


def _ours(name: str) -> Optional[str]:
    """``name`` if it is one of our modules, else its nearest module of ours, else None."""
    known = modules()
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def graph() -> dict[str, frozenset[str]]:
    """Module -> the modules of ours it imports (anywhere in its code)."""
    edges: dict[str, frozenset[str]] = {}
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets: set[str] = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            named = list(_imported(node, name, path.name == "__init__.py"))
            if isinstance(node, ast.ImportFrom):
                # ``from a import b``: b if it is a module, else a (named last of each pair)
                for submodule, source in zip(named[::2], named[1::2]):
                    target = submodule if submodule in modules() else _ours(source)
                    if target is not None:
                        targets.add(target)
            else:
                targets.update(t for t in map(_ours, named) if t is not None)
        targets.discard(name)
        edges[name] = frozenset(targets)
    return edges


def layer_of(module: str) -> Optional[int]:
    """The index of the module's layer (0 is the top), by its longest declared name."""
    best: Optional[tuple[int, int]] = None  # (length of the name, layer)
    for index, names in enumerate(LAYERS):
        for declared in names:
            covers = module == declared or (
                declared != "textflow" and module.startswith(declared + ".")
            )
            if covers and (best is None or len(declared) > best[0]):
                best = (len(declared), index)
    return None if best is None else best[1]


def circles() -> list[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def _files(cycle: tuple[str, ...]) -> str:
    return " <-> ".join(str(modules()[m].relative_to(ROOT)) for m in cycle)


def test_the_graph_sees_every_kind_of_import() -> None:
    edges = graph()
    assert "textflow._config" in edges["textflow._base_client"]  # from textflow import _config
    assert "textflow.errors" in edges["textflow._validation"]  # from textflow.errors import X
    assert "textflow._client" in edges["textflow"]  # under TYPE_CHECKING
    assert "textflow._many._sync" in edges["textflow._client"]  # inside a method
    assert "textflow" in edges["textflowsms"]  # from textflow import useKey


def test_no_import_circles() -> None:
    found = circles()
    assert not found, "import circles:\n" + "\n".join(_files(cycle) for cycle in found)


def test_every_module_has_a_layer() -> None:
    missing = sorted(name for name in modules() if layer_of(name) is None)
    assert not missing, f"declare the layer of {missing} in LAYERS"


def test_no_import_runs_back_up_the_layers() -> None:
    upward = sorted(
        f"{modules()[source].relative_to(ROOT)} imports {target} (a layer above it)"
        for source, targets in graph().items()
        for target in targets
        if (layer_of(source) or 0) > (layer_of(target) or 0)
    )
    assert not upward, "\n".join(upward)
