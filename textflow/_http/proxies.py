"""Which proxy a client's requests go through: ``proxy=``, else the environment, as httpx does.

httpx's rules, written out with public names only (httpx keeps them in private
modules): with ``trust_env`` and no ``proxy=``, ``HTTP_PROXY``, ``HTTPS_PROXY`` and
``ALL_PROXY`` (as ``urllib.request.getproxies`` reads them, upper or lower case) name a
proxy per scheme, and ``NO_PROXY`` lists the hosts that go direct, matched as httpx
matches them (curl's convention): ``example.com`` covers it and its subdomains,
``.example.com`` only its subdomains, an IP address or ``localhost`` only itself, ``*``
everything, and an entry with a scheme (``http://host:8080``) that URL's scheme, host
and port. An explicit ``proxy=`` is used for every request, whatever the environment
says (as httpx does). No httpcore here: a client reads its route once, when made.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import urllib.request
from typing import Optional, Union

import httpx

from textflow.errors import ConfigurationError

#: The request extension that carries the proxy (an ``httpx.Proxy``) to the SDK's transport.
ROUTE = "textflow.proxy"

ProxyTypes = Union[str, httpx.URL, httpx.Proxy, None]

_SCHEMES = ("http", "https", "socks5", "socks5h")


class Pattern:
    """One key of httpx's proxy mounts (``all://``, ``https://``, ``all://*example.com``)."""

    __slots__ = ("host", "host_regex", "port", "scheme")

    def __init__(self, pattern: str) -> None:
        url = httpx.URL(pattern)
        self.scheme = "" if url.scheme == "all" else url.scheme
        self.host = "" if url.host == "*" else url.host
        self.port = url.port
        self.host_regex: Optional[re.Pattern[str]] = None
        if not self.host:
            pass
        elif self.host.startswith("*."):  # subdomains only
            self.host_regex = re.compile(f"^.+\\.{re.escape(self.host[2:])}$")
        elif self.host.startswith("*"):  # the domain and its subdomains
            self.host_regex = re.compile(f"^(.+\\.)?{re.escape(self.host[1:])}$")
        else:
            self.host_regex = re.compile(f"^{re.escape(self.host)}$")

    def matches(self, url: httpx.URL) -> bool:
        if self.scheme and self.scheme != url.scheme:
            return False
        if self.host_regex is not None and not self.host_regex.match(url.host):
            return False
        return self.port is None or self.port == url.port

    def priority(self) -> tuple[int, int, int]:
        """httpx's order: a port first, then the longer host, then the longer scheme."""
        return (0 if self.port is not None else 1, -len(self.host), -len(self.scheme))


def _is_ip(host: str, version: int) -> bool:
    try:
        address = ipaddress.ip_address(host.split("/")[0])
    except ValueError:
        return False
    return address.version == version


def environment_mounts() -> list[tuple[Pattern, Optional[str]]]:
    """The environment's proxies as httpx's mounts, in the order httpx tries them."""
    found = urllib.request.getproxies()
    mounts: dict[str, Optional[str]] = {}
    for scheme in ("http", "https", "all"):
        value = found.get(scheme)
        if value:
            mounts[f"{scheme}://"] = value if "://" in value else f"http://{value}"
    for host in (entry.strip() for entry in found.get("no", "").split(",")):
        if host == "*":
            return []
        if not host:
            continue
        if "://" in host:
            mounts[host] = None
        elif _is_ip(host, 4):
            mounts[f"all://{host}"] = None
        elif _is_ip(host, 6):
            mounts[f"all://[{host}]"] = None
        elif host.lower() == "localhost":
            mounts[f"all://{host}"] = None
        else:
            mounts[f"all://*{host}"] = None
    patterns = []
    for key, value in mounts.items():
        try:
            patterns.append((Pattern(key), value))
        except httpx.InvalidURL:  # httpx would refuse the client; skip what no URL matches
            continue
    patterns.sort(key=lambda item: item[0].priority())
    return patterns


def check_proxy(proxy: ProxyTypes, *, source: str = "proxy") -> Optional[httpx.Proxy]:
    """``proxy=`` (a URL, or an ``httpx.Proxy`` with its own TLS settings) checked now."""
    if proxy is None or isinstance(proxy, httpx.Proxy):
        parsed = proxy
    elif isinstance(proxy, (str, httpx.URL)):
        try:
            parsed = httpx.Proxy(url=proxy)
        except (TypeError, ValueError, httpx.InvalidURL):
            parsed = None
        if parsed is None:
            raise ConfigurationError(
                f"{source} is not a proxy URL (http://, https://, socks5:// or socks5h://)."
            )
    else:
        raise ConfigurationError(
            f"proxy must be a URL (str or httpx.URL) or an httpx.Proxy, not {type(proxy).__name__}."
        )
    if parsed is None:
        return None
    scheme = parsed.url.scheme
    if scheme not in _SCHEMES:
        raise ConfigurationError(  # never the URL: it may carry a password
            f"{source} must be an http, https, socks5 or socks5h URL, not {scheme or 'no'} scheme."
        )
    if scheme == "https" and httpcore_version() < (1, 0, 2):
        # httpcore added https proxies in 1.0 and TLS inside TLS for sync clients in 1.0.2
        raise ConfigurationError(
            f"{source} is an https:// proxy, which needs httpcore 1.0.2 or newer: "
            'pip install -U "httpx>=0.26"'
        )
    if scheme.startswith("socks"):
        import importlib.util

        if importlib.util.find_spec("socksio") is None:
            raise ConfigurationError(f'{source} is a SOCKS proxy: pip install "httpx[socks]".')
    return parsed


def route(url: httpx.URL, proxy: ProxyTypes, trust_env: bool) -> Optional[httpx.Proxy]:
    """The proxy for requests to ``url`` (a client's base URL), or ``None``: go direct."""
    if not isinstance(trust_env, bool):
        raise ConfigurationError(f"trust_env must be True or False, not {trust_env!r}.")
    if proxy is not None:
        return check_proxy(proxy)
    if not trust_env:
        return None
    for pattern, value in environment_mounts():
        if pattern.matches(url):
            if value is None:
                return None
            return check_proxy(value, source="The proxy set in the environment")
    return None


def forwards(proxy: httpx.Proxy, scheme: Union[str, bytes]) -> bool:
    """Whether a request of ``scheme`` goes through ``proxy`` forwarded in absolute form
    on a plain connection to the proxy (the SDK's own ``convert.Forward``), rather than
    through a CONNECT tunnel or SOCKS made by the proxy's httpcore pool."""
    return proxy.url.scheme == "http" and scheme in ("http", b"http")


def httpcore_version() -> tuple[int, ...]:
    """The installed httpcore's version as numbers (``(0, 18, 0)``)."""
    from importlib.metadata import version

    numbers = []
    for part in version("httpcore").split(".")[:3]:
        digits = "".join(itertools.takewhile(str.isdigit, part))
        numbers.append(int(digits or 0))
    return tuple(numbers)
