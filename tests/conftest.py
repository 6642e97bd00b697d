"""The one conftest: the anyio backend, the shared fixtures and hooks, and the support
modules whose fixtures every folder can use.

* ``anyio_backend`` runs each ``@pytest.mark.anyio`` test on asyncio and on trio. A test
  or module that must run on one backend narrows it with
  ``@pytest.mark.parametrize("anyio_backend", ["asyncio"])`` and a comment saying why.
* ``_clean_env`` (autouse): no test sees the developer's own ``TEXTFLOW_*`` variables
  or proxy and certificate variables, and the legacy default client starts fresh.
* Deselected at collection (pytest's summary counts them): cases that would not test
  what they say, and the sync side's trio cases, which repeat its asyncio cases.
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
    "tests.core.proxy_support",  # tls, trusted
    "tests.many.many_support",
    "tests.many.stores_support",
    "tests.guard.guard_support",
    "tests.browser.browser_support",
    "tests.integrations.otel_support",
    "tests.docs.docs_support",
]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


#: The environment variables httpx reads with ``trust_env`` (any case).
_NETWORK_VARIABLES = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"}
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's own key, URL, proxy or certificate settings; the legacy
    default client starts fresh. (The clients honour the proxy and certificate variables, as
    httpx does: on a machine behind a proxy, loopback tests would otherwise go through it.)"""
    for name in list(os.environ):
        if name.startswith("TEXTFLOW_") or name.upper() in _NETWORK_VARIABLES:
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
    _children_take_ctrl_c()


def _children_take_ctrl_c() -> None:
    """Tests send SIGINT (Ctrl-C) to child processes and expect Python's KeyboardInterrupt
    there. A child inherits an ignored SIGINT, and Python then leaves it ignored: a run
    started as a background job of a script (``nox &``) ignores SIGINT, so those children
    never saw the signal. A handled SIGINT is reset to the default at exec, which Python
    turns into its KeyboardInterrupt handler."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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


#: The parameters that choose a sync or an async side (the client kinds of tests/core,
#: tests/many and tests/testing, the guard kinds of tests/guard).
_SYNC_SIDES = {
    "api": ("sync", "in-process-sync", "http-sync"),
    "many": ("sync",),
    "kind": ("sync",),
}


def _is_sync_side(params: dict[str, object]) -> bool:
    guarded = params.get("guarded")
    if isinstance(guarded, tuple) and guarded[:1] == ("sync",):
        return True
    return any(params.get(name) in values for name, values in _SYNC_SIDES.items())


def _repeated_cases(items: list[pytest.Item]) -> list[pytest.Item]:
    """The sync side's trio cases, deselected: they repeat its asyncio cases.

    The test function is a coroutine only so that one body drives both sides; the sync
    client and the sync guard never touch the event loop, so under trio they run exactly
    the code they run under asyncio. (About 540 cases per Python: the suite runs on five.)
    """
    repeated = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        if callspec.params.get("anyio_backend") == "trio" and _is_sync_side(callspec.params):
            repeated.append(item)
    return repeated


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    deselected = _cases_that_cannot_run(items) + _repeated_cases(items)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
