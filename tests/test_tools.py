"""tests/tools.py: a missing tool skips with how to install it, and fails under CI=true."""

from __future__ import annotations

import os
import sys

import pytest

from tests.tools import in_ci, missing, require_tool

ABSENT = "textflow-no-such-tool-3f9c"


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_ci_true_in_any_case_is_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()


@pytest.mark.parametrize("value", [None, "", "false", "1"])
def test_anything_else_is_not_ci(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert not in_ci()


def test_outside_ci_a_missing_tool_skips_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as caught:
        require_tool(ABSENT, "apt-get install no-such-tool")
    assert ABSENT in str(caught.value)
    assert "apt-get install no-such-tool" in str(caught.value)


def test_under_ci_a_missing_tool_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as caught:
        require_tool([ABSENT, ABSENT + "-too"], "apt-get install no-such-tool")
    message = str(caught.value)
    assert f"{ABSENT} or {ABSENT}-too" in message
    assert "apt-get install no-such-tool" in message
    assert "CI=true" in message


@pytest.mark.parametrize("ci", ["true", None])
def test_a_tool_that_is_there_is_found_in_both_modes(
    monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    here = os.path.dirname(sys.executable)
    name = os.path.basename(sys.executable)
    assert require_tool([ABSENT, name], "-", path=here) == os.path.join(here, name)


def test_missing_without_a_tool_name_is_the_same_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="the pytest11 entry point is missing"):
        missing("the pytest11 entry point", "pip install -e .")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match=r"pip install -e \."):
        missing("the pytest11 entry point", "pip install -e .")
