"""Logging: silent by default, TEXTFLOW_LOG for stderr; no key, code or full number in it."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import httpx
import pytest
import respx

from textflow import _logging

from tests.core.core_support import CALLS, KEY, OK_BODIES, Harness, response


@pytest.mark.anyio
async def test_logs_never_hold_the_key_the_code_or_a_full_number(
    api: Harness, mock_api: respx.MockRouter, caplog: pytest.LogCaptureFixture, no_backoff: None
) -> None:
    for name, (path, _) in CALLS.items():
        mock_api.route(path=path).mock(
            side_effect=[httpx.ConnectError("refused"), response(200, OK_BODIES[name])]
        )
    caplog.set_level(logging.DEBUG, logger="textflow")
    for name, (_, args) in CALLS.items():
        await api.call(name, *args)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "send_sms POST /send-sms for +1123*****90" in text
    assert "send_bulk_sms POST /bulk-sms for 2 numbers" in text
    assert "get_balance -> HTTP 200" in text
    assert "retry 1 of 2" in text
    for secret in (KEY, "4045", "+11234567890", "Dummy message text"):
        assert secret not in text
    assert all(record.name == "textflow" for record in caplog.records)


def test_logger_is_silent_by_default() -> None:
    assert any(isinstance(h, logging.NullHandler) for h in _logging.logger.handlers)


@pytest.mark.parametrize(("value", "level"), [("debug", "DEBUG"), ("INFO", "INFO")])
def test_textflow_log_turns_on_a_stderr_handler(value: Any, level: str) -> None:
    code = (
        "import logging, textflow; logger = logging.getLogger('textflow'); "
        "print(logging.getLevelName(logger.level), "
        "sum(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.NullHandler) "
        "for h in logger.handlers))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"TEXTFLOW_LOG": value, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out == [level, "1"]


def test_configure_from_env_adds_one_handler_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTFLOW_LOG", "info")
    before = list(_logging.logger.handlers)
    level = _logging.logger.level
    try:
        _logging.configure_from_env()
        _logging.configure_from_env()
        added = [h for h in _logging.logger.handlers if h not in before]
        assert len(added) == 1
    finally:
        _logging.logger.handlers[:] = before
        _logging.logger.setLevel(level)


def test_import_textflow_does_not_load_extras() -> None:
    code = (
        "import sys, textflow; "
        "print([m for m in ('textflow.testing', 'textflow._cli', 'textflow.webhooks', 'respx', "
        "'pytest', 'argparse', 'http.server') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_an_unknown_textflow_log_warns_and_adds_no_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTFLOW_LOG", "verbose")
    before = list(_logging.logger.handlers)
    with pytest.warns(RuntimeWarning, match=r"TEXTFLOW_LOG='verbose' .* info or debug"):
        _logging.configure_from_env()
    assert _logging.logger.handlers == before
