"""Where the browser tests' Chromium comes from: without it they skip outside CI, saying
how to install it, and fail under ``CI=true`` (the rule of tests/tools.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.browser_support import start_browser


def test_without_chromium_the_browser_tests_skip_outside_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to find
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        start_browser()


def test_without_chromium_the_browser_tests_fail_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="CI must run this test"):
        start_browser()
