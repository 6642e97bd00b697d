"""The core tests' fixtures and hooks. The fixtures live in core_support.py and
hostile_support.py beside the helpers they use; importing them here registers them.

Test modules import helpers from their support module (``from tests.core.core_support
import KEY``), never from ``conftest``.
"""

import pytest

from tests.core.core_support import (
    _clean_env,
    anyio_backend,
    api,
    mock_api,
    no_backoff,
    not_on_aiohttp_items,
    server,
)
from tests.core.hostile_support import hostile

__all__ = ["_clean_env", "anyio_backend", "api", "hostile", "mock_api", "no_backoff", "server"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "not_on_aiohttp(reason): the test replaces the http client, so its aiohttp case "
        "would not test aiohttp; that case is deselected",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    deselected = not_on_aiohttp_items(items)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
