"""Without Chromium the browser tests skip, except under CI=true, where they must fail."""

from __future__ import annotations

import pytest

from tests.browser.browser_support import missing_browser


def test_amissing_browser_browser_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        missing_browser("Chromium not found (apt-get install chromium chromium-driver)")


def test_amissing_browser_browser_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        missing_browser("Chromium not found")
