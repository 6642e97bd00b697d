"""The browser tests' Chromium: the system's (``apt-get install chromium chromium-driver``).

Nothing is downloaded at test time: Selenium is pointed at the system's
``chromium`` and ``chromedriver`` and told to stay offline. Without them the
browser tests are skipped with the reason, except when ``CI=true``: there a
missing browser fails, so CI cannot pass without running them (tests/tools.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.tools import missing, require_tool

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
#: Seconds any wait in a browser test may take before it fails.
WAIT = 15.0


def start_browser() -> Any:
    """A headless Chromium driven by Selenium, phone-sized (390 x 844), offline."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download anything
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("selenium", "pip install -e '.[browser]'")
    binary = require_tool(BROWSERS, "apt-get install chromium chromium-driver")
    driver_path = require_tool("chromedriver", "apt-get install chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=390,844",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    return driver


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (phone-sized), closed after the module; skipped if missing."""
    driver = start_browser()
    try:
        yield driver
    finally:
        driver.quit()
