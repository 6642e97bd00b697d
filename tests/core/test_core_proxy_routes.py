"""Proxies as httpx does them, through a real proxy on 127.0.0.1, on sync, asyncio and trio.

The API server and an ``https://`` proxy speak TLS with certificates made at test
time; the client trusts their authority through the SDK's shared TLS settings. The
aiohttp kind is left out: its client is a caller's ``http_client``, with its own
proxy settings (``proxy=`` next to one is refused, tested below).
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Iterator

import httpx
import pytest

import textflow
from textflow import _config
from textflow._http import proxies

from tests.core.core_support import Client, Harness, ScriptedServer
from tests.core.proxy_support import (
    ConnectProxy,
    TLSScriptedServer,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.not_on_aiohttp("a caller's http_client has its own proxy settings"),
]

_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy from the developer's environment; the test sets its own."""
    for name in _NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def tls_server(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[TLSScriptedServer]:
    server = TLSScriptedServer(tls[0])
    yield server
    server.close()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    server = ConnectProxy()
    yield server
    server.close()


@pytest.fixture
def tls_proxy(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[ConnectProxy]:
    server = ConnectProxy(tls=tls[0])
    yield server
    server.close()


async def _send_three(api: Harness, client: Client) -> None:
    for _ in range(3):
        result = await api.call("send_sms", "+11234567890", "hi", client=client)
        assert result.ok


async def test_a_plain_http_request_goes_through_http_proxy_in_absolute_form(
    api: Harness, server: ScriptedServer, proxy: ConnectProxy, env: pytest.MonkeyPatch
) -> None:
    env.setenv("HTTP_PROXY", proxy.url)
    await _send_three(api, api.make(base_url=server.base_url))
    assert [(m, t) for m, t, _ in proxy.asked] == [("POST", server.base_url + "/send-sms")]
    assert (proxy.connections, server.connections) == (1, 1), "one warm connection, reused"
    assert len(server.requests) == 3


async def test_an_https_request_goes_through_a_connect_tunnel_with_a_verified_handshake(
    api: Harness,
    tls_server: TLSScriptedServer,
    proxy: ConnectProxy,
    env: pytest.MonkeyPatch,
    trusted: ssl.SSLContext,
) -> None:
    env.setenv("HTTPS_PROXY", proxy.url)
    await _send_three(api, api.make(base_url=tls_server.base_url))
    assert [(m, t) for m, t, _ in proxy.asked] == [("CONNECT", f"127.0.0.1:{tls_server.port}")]
    assert len(tls_server.requests) == 3


async def test_an_https_proxy_is_spoken_to_in_tls_with_its_own_settings(
    api: Harness,
    tls_server: TLSScriptedServer,
    tls_proxy: ConnectProxy,
    env: pytest.MonkeyPatch,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    anyio_backend: str,
) -> None:
    """TLS to the proxy (its own ``ssl_context``), and TLS to the API inside the tunnel."""
    env.setattr(_config, "_ssl_context", tls[1])
    route = httpx.Proxy(tls_proxy.url, auth=("user", "pass"), ssl_context=tls[1])
    if proxies.httpcore_version() < (1, 0, 2):  # the lowest session: refused, with how to upgrade
        with pytest.raises(textflow.ConfigurationError, match=r"needs httpcore 1\.0\.2"):
            api.make(base_url=tls_server.base_url, proxy=route)
        assert tls_proxy.asked == []
        return
    if sys.version_info < (3, 11) and api.kind == "async" and anyio_backend == "asyncio":
        # asyncio's start_tls takes a TLS transport from 3.11 on: a clear error, not sent
        client = api.make(base_url=tls_server.base_url, proxy=route)
        with pytest.raises(textflow.APIConnectionError, match=r"needs Python 3\.11") as caught:
            await api.call("send_sms", "+11234567890", "Hi", client=client)
        assert caught.value.may_have_been_sent is False
        assert tls_server.requests == []
        return
    await _send_three(api, api.make(base_url=tls_server.base_url, proxy=route))
    # Reused on asyncio; on sync and trio httpcore's TLS inside TLS hides records, so each
    # request gets a tunnel of its own (textflow._http.pools, ``_hides_records``).
    tunnels = 1 if api.is_async and anyio_backend == "asyncio" else 3
    assert tls_proxy.asked == [("CONNECT", f"127.0.0.1:{tls_server.port}", True)] * tunnels
    assert len(tls_server.requests) == 3


async def test_a_direct_https_call_completes_its_handshake_on_the_sdks_streams(
    api: Harness, tls_server: TLSScriptedServer, env: pytest.MonkeyPatch, trusted: ssl.SSLContext
) -> None:
    await _send_three(api, api.make(base_url=tls_server.base_url))
    assert (tls_server.connections, len(tls_server.requests)) == (1, 3)


async def test_an_untrusted_certificate_fails_before_anything_is_sent(
    api: Harness, tls_server: TLSScriptedServer, env: pytest.MonkeyPatch
) -> None:
    client = api.make(base_url=tls_server.base_url, max_retries=0)
    with pytest.raises(textflow.APIConnectionError) as caught:
        await api.call("send_sms", "+11234567890", "hi", client=client)
    assert caught.value.may_have_been_sent is False
    assert tls_server.requests == []


async def test_no_proxy_sends_a_matching_host_direct(
    api: Harness, server: ScriptedServer, proxy: ConnectProxy, env: pytest.MonkeyPatch
) -> None:
    env.setenv("HTTP_PROXY", proxy.url)
    env.setenv("NO_PROXY", "example.org, 127.0.0.1")
    await _send_three(api, api.make(base_url=server.base_url))
    assert proxy.asked == []
    assert len(server.requests) == 3


async def test_trust_env_false_ignores_the_environment(
    api: Harness, server: ScriptedServer, proxy: ConnectProxy, env: pytest.MonkeyPatch
) -> None:
    env.setenv("ALL_PROXY", proxy.url)
    await _send_three(api, api.make(base_url=server.base_url, trust_env=False))
    assert proxy.asked == []
    assert len(server.requests) == 3


async def test_an_explicit_proxy_wins_over_no_proxy_and_with_options_shares_the_pool(
    api: Harness, server: ScriptedServer, proxy: ConnectProxy, env: pytest.MonkeyPatch
) -> None:
    env.setenv("NO_PROXY", "*")
    client = api.make(base_url=server.base_url)
    proxied = client.with_options(proxy=proxy.url)
    await api.call("send_sms", "+11234567890", "hi", client=client)
    await api.call("send_sms", "+11234567890", "hi", client=proxied)
    await api.call("send_sms", "+11234567890", "hi", client=client)
    assert [m for m, _, _ in proxy.asked] == ["POST"], "only the copy's request was proxied"
    assert len(server.requests) == 3
    direct = proxied.with_options(proxy=None, trust_env=False)
    await api.call("send_sms", "+11234567890", "hi", client=direct)
    assert len(proxy.asked) == 1


async def test_proxy_settings_next_to_a_callers_http_client_are_refused(api: Harness) -> None:
    own: httpx.Client | httpx.AsyncClient = httpx.AsyncClient() if api.is_async else httpx.Client()
    try:
        with pytest.raises(textflow.ConfigurationError, match="http_client"):
            api.make(http_client=own, proxy="http://127.0.0.1:3128")
        with pytest.raises(textflow.ConfigurationError, match="http_client"):
            api.make(http_client=own, trust_env=False)
        client = api.make(http_client=own)
        with pytest.raises(textflow.ConfigurationError, match="http_client"):
            client.with_options(proxy="http://127.0.0.1:3128")
    finally:
        if isinstance(own, httpx.AsyncClient):
            await own.aclose()
        else:
            own.close()


async def test_a_bad_proxy_is_refused_at_construction_without_echoing_it(api: Harness) -> None:
    with pytest.raises(textflow.ConfigurationError) as caught:
        api.make(proxy="ftp://user:s3cret@proxy.example:21")
    assert "s3cret" not in str(caught.value)
    with pytest.raises(textflow.ConfigurationError):
        api.make(proxy=3128)


@pytest.mark.parametrize(
    ("no_proxy", "url", "proxied"),
    [
        ("example.com", "https://example.com/api", False),
        ("example.com", "https://api.example.com/api", False),
        ("example.com", "https://notexample.com/api", True),
        (".example.com", "https://example.com/api", True),
        (".example.com", "https://api.example.com/api", False),
        ("localhost", "http://localhost:8000/api", False),
        ("127.0.0.1", "http://127.0.0.1:8000/api", False),
        ("::1", "http://[::1]:8000/api", False),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/api", False),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8001/api", True),
        ("*", "https://example.com/api", False),
        ("", "https://example.com/api", True),
    ],
)
def test_no_proxy_matches_as_httpx_matches(
    env: pytest.MonkeyPatch, no_proxy: str, url: str, proxied: bool
) -> None:
    env.setenv("ALL_PROXY", "http://proxy.example:3128")
    env.setenv("NO_PROXY", no_proxy)
    assert (proxies.route(httpx.URL(url), None, True) is not None) is proxied
