"""The SDK uses only public names of other packages: their next release cannot break it.

Scans textflow/'s source (``ast``) for an import of another package's ``_private``
module or name, an attribute ``_private`` read off another package's module, and a
``getattr(obj, "_private")`` string reach-in (whose object could be anyone's;
``_textflow*`` markers the SDK sets itself are its own).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import textflow

PACKAGE = Path(textflow.__file__).parent
OWN = "textflow"
OWN_MARK = "_textflow"  # attributes the SDK sets on objects itself (a log handler's marker)


#: Standard library modules documented under a name that starts with an underscore:
#: public (https://docs.python.org/3/library/_thread.html).
DOCUMENTED = frozenset({"_thread"})


def _private(name: str) -> bool:
    if name in DOCUMENTED:
        return False
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _foreign(module: str) -> bool:
    return module.split(".")[0] != OWN


def reach_ins(source: str) -> list[str]:
    """Each use of another package's private name in ``source``, as ``line: what``."""
    tree = ast.parse(source)
    modules: set[str] = set()  # local names bound to another package's module
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _foreign(alias.name):
                    if any(_private(part) for part in alias.name.split(".")):
                        found.append(f"{node.lineno}: import {alias.name}")
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _foreign(node.module or OWN):
            module = node.module or OWN
            if any(_private(part) for part in module.split(".")):
                found.append(f"{node.lineno}: from {module} import")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{node.lineno}: from {module} import {alias.name}")
                modules.add(alias.asname or alias.name)  # a module or not: checked below
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
            and not node.args[1].value.startswith(OWN_MARK)
        ):
            found.append(f"{node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    return found


def test_no_module_of_the_sdk_uses_another_packages_private_names() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{where}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for where in reach_ins(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "from httpcore._utils import is_socket_readable",
        "import httpcore._utils",
        "from httpx import _client",
        "import httpcore\nhttpcore._utils.is_socket_readable(sock)",
        "import asyncio as aio\naio._get_running_loop()",
        "sock = getattr(sock, '_sock', sock)",
        "client._cookies = jar if hasattr(client, '_cookies') else None",
        "import _thread\n_thread._count()",
    ],
)
def test_each_kind_of_reach_in_is_found(source: str) -> None:
    assert reach_ins(source)


@pytest.mark.parametrize(
    "source",
    [
        "from textflow._http import streams",
        "from . import _config",
        "import textflow._config\ntextflow._config.ssl_context()",
        "self._stream = stream",
        "getattr(obj, '__name__')",
        "getattr(handler, '_textflow_env', False)",
        "from __future__ import annotations",
        "import _thread\n_thread.start_new_thread(run, ())",
    ],
)
def test_the_sdks_own_private_names_are_not_reach_ins(source: str) -> None:
    assert reach_ins(source) == []
