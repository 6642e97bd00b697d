"""A plain-http request through a plain-http proxy: absolute form, built once by the SDK.

The SDK's transport sends it over a plain connection to the proxy (``convert.Forward``)
instead of httpcore's forwarding connection, which rebuilt every request. The proxy
must receive exactly what httpx's own transport sends it: the same request line and
the same headers in the same order, Proxy-Authorization from the proxy URL's userinfo
included, on the sync transport and the async one (asyncio and trio).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpcore
import httpx
import pytest

from textflow._http.convert import Forward
from textflow._http.proxies import ROUTE
from textflow._http.transport import AsyncTextFlowTransport, TextFlowTransport

from tests.core.core_support import Harness, ScriptedServer
from tests.core.proxy_support import ConnectProxy

pytestmark = pytest.mark.anyio

AUTH = b"Basic " + base64.b64encode(b"user:p@ss word")


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    server = ConnectProxy()
    yield server
    server.close()


def _route(proxy: ConnectProxy) -> httpx.Proxy:
    url = proxy.url.replace("http://", "http://user:p%40ss%20word@")
    return httpx.Proxy(url, headers={"X-Proxy-Only": "1", "X-Both": "proxy"})


def _request(server: ScriptedServer, route: httpx.Proxy, override: bool) -> httpx.Request:
    headers = {"Authorization": "Bearer not-a-key", "X-Both": "request"} if override else {}
    request = httpx.Client().build_request(
        "POST", server.base_url + "/send-sms?x=1", json={"to": "+11234567890"}, headers=headers
    )
    request.extensions[ROUTE] = route  # the SDK's client puts its route here
    return request


@pytest.mark.parametrize("override", [False, True], ids=["plain", "request-overrides"])
def test_sync_proxy_gets_what_httpx_sends(
    server: ScriptedServer, proxy: ConnectProxy, override: bool
) -> None:
    route = _route(proxy)
    for transport in (TextFlowTransport(), httpx.HTTPTransport(proxy=route)):
        with transport:
            response = transport.handle_request(_request(server, route, override))
            response.read()
            response.close()
    _assert_same(proxy, server, override)


@pytest.mark.parametrize("override", [False, True], ids=["plain", "request-overrides"])
async def test_async_proxy_gets_what_httpx_sends(
    server: ScriptedServer, proxy: ConnectProxy, override: bool
) -> None:
    route = _route(proxy)
    ours = AsyncTextFlowTransport()
    theirs = httpx.AsyncHTTPTransport(proxy=route)
    for transport in (ours, theirs):
        async with transport:
            response = await transport.handle_async_request(_request(server, route, override))
            await response.aread()
            await response.aclose()
    _assert_same(proxy, server, override)


def _assert_same(proxy: ConnectProxy, server: ScriptedServer, override: bool) -> None:
    target = server.base_url + "/send-sms?x=1"
    assert [(m, t) for m, t, _ in proxy.asked] == [("POST", target)] * 2
    ours, theirs = proxy.heads
    assert ours == theirs
    assert (b"Proxy-Authorization", AUTH) in ours
    names = [name.lower() for name, _ in ours]
    assert names.count(b"x-both") == 1
    assert (b"X-Both", b"request" if override else b"proxy") in ours
    assert len(server.requests) == 2


@pytest.mark.not_on_aiohttp("a caller's http_client has its own proxy settings")
async def test_a_client_with_a_proxy_url_sends_its_userinfo_as_proxy_auth(
    api: Harness, server: ScriptedServer, proxy: ConnectProxy
) -> None:
    route = proxy.url.replace("http://", "http://user:p%40ss%20word@")
    client = api.make(base_url=server.base_url, proxy=route, trust_env=False)
    for _ in range(2):
        assert (await api.call("send_sms", "+11234567890", "hi", client=client)).ok
    assert [(m, t) for m, t, _ in proxy.asked] == [("POST", server.base_url + "/send-sms")]
    assert (b"Proxy-Authorization", AUTH) in proxy.heads[0]
    assert proxy.connections == 1, "one warm connection to the proxy, reused"
    assert len(server.requests) == 2


def test_an_ipv6_origin_is_written_in_brackets_in_the_absolute_form() -> None:
    forward = Forward(httpx.Proxy("http://127.0.0.1:3128"))
    request = forward.request(httpx.Request("GET", "http://[::1]:8080/api?x=1"))
    assert request.url.target == b"http://[::1]:8080/api?x=1"
    assert request.url.origin == httpcore.Origin(b"http", b"127.0.0.1", 3128)
