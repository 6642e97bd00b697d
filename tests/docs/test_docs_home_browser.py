"""The docs home page in a real (headless) Chromium at 1280 px: no code block scrolls.

A reader on a laptop sees each example whole, without a horizontal scroll bar. The
page is the built site (tests/docs/docs_support.py), opened from disk. A screenshot
of the whole page is saved in the test's tmp dir, and in ``$TEXTFLOW_SCREENSHOT_DIR``
when set (``nox -s docs-screenshots`` writes ``docs/img/docs-home-1280.png`` so).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

WIDTH = 1280
SCREENSHOT = "docs-home-1280.png"
# Every code block of the page, with how much wider its text is than its box.
_OVERFLOWING = """
return Array.from(document.querySelectorAll("article pre, article pre > code"))
  .map(e => ({first: e.textContent.split("\\n")[0], over: e.scrollWidth - e.clientWidth}));
"""
# Screenshots are taken before the environment fixture can hide this variable.
_SCREENSHOT_DIR = os.environ.get("TEXTFLOW_SCREENSHOT_DIR")


def test_no_code_block_on_the_home_page_scrolls_at_1280_px(
    browser: Any, docs_site: Path, tmp_path: Path
) -> None:
    browser.set_window_size(WIDTH, 900)
    browser.get((docs_site / "index.html").as_uri())
    assert browser.execute_script("return window.innerWidth") == WIDTH
    blocks: list[dict[str, Any]] = browser.execute_script(_OVERFLOWING)
    assert len(blocks) >= 8  # the page's examples were found (pre and code of each)
    scrolling = [block["first"] for block in blocks if block["over"] > 0]
    assert scrolling == [], f"code blocks wider than the page at {WIDTH} px: {scrolling}"
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(WIDTH, int(height))  # the whole page in one screenshot
    shot = tmp_path / SCREENSHOT
    assert browser.save_screenshot(str(shot))
    if _SCREENSHOT_DIR:
        shutil.copy(shot, Path(_SCREENSHOT_DIR) / SCREENSHOT)
