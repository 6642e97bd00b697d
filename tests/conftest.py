"""The one conftest: the anyio backend, the shared fixtures and hooks, and the support
modules whose fixtures every folder can use.

* ``anyio_backend`` runs each ``@pytest.mark.anyio`` test on asyncio and on trio. A test
  or module that must run on one backend narrows it with
  ``@pytest.mark.parametrize("anyio_backend", ["asyncio"])`` and a comment saying why.
* ``_clean_env`` (autouse): no test sees the developer's own ``TEXTFLOW_*`` variables,
  and the legacy default client starts fresh.
* The fixtures of the support modules in ``pytest_plugins`` are registered here; tests
  import their helpers from those modules by full name, never from a conftest.
* tests/cli and tests/testing keep a conftest of their own: their ``server`` and ``fake``
  fixtures are not the core's or send_many's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from textflow import _legacy

pytest_plugins = [
    "tests.core.hostile_support",  # before core_support, which imports it
    "tests.core.core_support",
    "tests.many.many_support",
    "tests.guard.guard_support",
    "tests.browser.browser_support",
    "tests.integrations.otel_support",
    "tests.docs.docs_support",
]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's own key or URL; the legacy default client starts fresh."""
    for name in list(os.environ):
        if name.startswith("TEXTFLOW_"):
            monkeypatch.delenv(name)
    _legacy.default_client.reset()
    yield
    _legacy.default_client.reset()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "not_on_aiohttp(reason): the test replaces the http client, so its aiohttp case "
        "would not test aiohttp; that case is deselected",
    )


def _cases_that_cannot_run(items: list[pytest.Item]) -> list[pytest.Item]:
    """Cases that would not test what they say, deselected (pytest's summary counts them):

    * the aiohttp cases of tests marked ``not_on_aiohttp`` (they replace the http client);
    * the aiohttp cases under trio (aiohttp runs on asyncio only; test_core_aiohttp.py
      checks that trio is refused with a clear error);
    * the guard's async Redis store under trio (redis.asyncio runs on asyncio only; under
      trio the async guard takes the blocking stores, test_guard_stores.py checks that).
    """
    chosen = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        params = callspec.params
        trio = params.get("anyio_backend") == "trio"
        if params.get("api") == "aiohttp":
            if trio or item.get_closest_marker("not_on_aiohttp") is not None:
                chosen.append(item)
        elif params.get("guarded") == ("async", "redis") and trio:
            chosen.append(item)
    return chosen


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    deselected = _cases_that_cannot_run(items)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
