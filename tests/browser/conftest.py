"""The ``browser`` fixture: see browser_support for where the browser comes from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.browser_support import start_browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (phone-sized), closed after the module; skipped if missing."""
    driver = start_browser()
    try:
        yield driver
    finally:
        driver.quit()
