"""Failures that escape as something other than a TextFlowError.

The design: "Nothing but a TextFlowError escapes the SDK's own paths", and the
legacy functions never raise. Proxies from the environment are now read by the
SDK's own transport on the first call, so a proxy variable httpx cannot use
fails there.
"""

from __future__ import annotations

import socket
from typing import Callable

import pytest

import textflow
import textflowsms

from tests.core.core_support import KEY, Harness
from tests.core.hostile_support import Answer, RawServer, json_answer

pytestmark = pytest.mark.anyio

# Values httpx refuses whatever is installed: an unknown scheme, a broken URL.
UNUSABLE_PROXIES = ["ftp://127.0.0.1:1", "http://[::1"]


def verdict(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(json_answer({"ok": True, "valid": False, "status": 400, "message": "no"}))
    return True


def _proxy_env(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("ALL_PROXY", value)


@pytest.mark.parametrize("proxy", UNUSABLE_PROXIES)
@pytest.mark.not_on_aiohttp("aiohttp reads no proxy settings from the environment (trust_env)")
async def test_an_unusable_proxy_variable_is_a_textflow_error(
    api: Harness,
    hostile: Callable[[Answer], RawServer],
    monkeypatch: pytest.MonkeyPatch,
    proxy: str,
) -> None:
    server = hostile(verdict)
    _proxy_env(monkeypatch, proxy)
    # Read when the client is made, as httpx reads it: refused there, before any call.
    with pytest.raises(textflow.ConfigurationError):
        api.make(base_url=server.base_url)


@pytest.mark.parametrize("proxy", UNUSABLE_PROXIES)
def test_legacy_functions_return_ok_false_for_an_unusable_proxy_variable(
    hostile: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch, proxy: str
) -> None:
    server = hostile(verdict)
    monkeypatch.setenv("TEXTFLOW_BASE_URL", server.base_url)
    _proxy_env(monkeypatch, proxy)
    textflowsms.useKey(KEY)
    result = textflowsms.verifyCode("+11234567890", "1")
    assert result.ok is False
    assert result.valid is False


async def test_a_port_out_of_range_is_refused_or_a_textflow_error(api: Harness) -> None:
    try:
        client = api.make(base_url="http://127.0.0.1:99999/api", max_retries=0)
    except textflow.ConfigurationError:
        return  # refused at construction: fine
    with pytest.raises(textflow.TextFlowError):
        await api.call("get_balance", client=client)
