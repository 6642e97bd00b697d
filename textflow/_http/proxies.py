"""Proxies from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``)."""

from __future__ import annotations

import importlib.util
import urllib.request
from typing import Any, Optional

import httpcore
import httpx

from textflow import _config
from textflow.errors import ConfigurationError


class ProxyRules:
    """Which proxy a URL goes through, read from the environment on first use."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._proxies: Optional[dict[str, str]] = None

    def url_for(self, url: httpx.URL) -> Optional[str]:
        if self._proxies is None:
            self._proxies = {
                scheme: value
                for scheme, value in urllib.request.getproxies_environment().items()
                if scheme in ("http", "https", "all", "no")
            }
        if not self._proxies:
            return None
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if proxy is None or urllib.request.proxy_bypass(url.host):
            return None
        return proxy

    def options(self, proxy: str) -> tuple[str, dict[str, Any]]:
        """The kind of proxy (``http`` or ``socks``) and its pool's arguments, as httpx
        builds them, but over the SDK's network streams (deadline, clean reuse)."""
        try:
            parsed = httpx.Proxy(url=proxy)
        except (TypeError, ValueError, httpx.InvalidURL):
            raise ConfigurationError(
                "The proxy set in the environment (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY) is "
                "not an http, https, socks5 or socks5h URL."
            ) from None
        scheme = parsed.url.scheme
        if scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
            raise ConfigurationError(
                'A SOCKS proxy is set in the environment: pip install "httpx[socks]".'
            )
        options: dict[str, Any] = {
            "proxy_url": httpcore.URL(
                scheme=parsed.url.raw_scheme,
                host=parsed.url.raw_host,
                port=parsed.url.port,
                target=parsed.url.raw_path,
            ),
            "proxy_auth": parsed.raw_auth,
            "ssl_context": _config.ssl_context(),
            "max_connections": self._limits.max_connections,
            "max_keepalive_connections": self._limits.max_keepalive_connections,
            "keepalive_expiry": self._limits.keepalive_expiry,
        }
        if not scheme.startswith("socks"):
            options["proxy_headers"] = parsed.headers.raw
        return ("socks" if scheme.startswith("socks") else "http"), options
