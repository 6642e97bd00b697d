"""Defaults, environment variables and the checks on a client's settings."""

from __future__ import annotations

import ipaddress
import os
import platform
import re
import ssl
import threading
from collections.abc import Mapping
from typing import Optional, Union

import httpx

from textflow._version import __version__
from textflow.errors import ConfigurationError

ENV_API_KEY = "TEXTFLOW_API_KEY"
ENV_BASE_URL = "TEXTFLOW_BASE_URL"

DEFAULT_BASE_URL = "https://textflow.me/api"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: The overall bound of a call (every attempt, wait and read) unless ``timeout`` is a number.
DEFAULT_DEADLINE = 60.0
DEFAULT_MAX_RETRIES = 2

#: Sends in flight at once in ``send_many`` unless ``concurrency=`` says otherwise.
DEFAULT_CONCURRENCY = 20
# An idle connection is given up after 4 s: under the 5 s after which Node and uvicorn
# servers close idle connections, so that a request is not written into a closing one.
DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=100, keepalive_expiry=4.0
)

_KEY_CHARACTERS = re.compile(r"[\x21-\x7e]+")  # visible ASCII: a header value as is

TimeoutTypes = Union[float, int, httpx.Timeout, None]

USER_AGENT = (
    f"textflow-python/{__version__} httpx/{httpx.__version__} "
    f"{platform.python_implementation()}/{platform.python_version()}"
)


def resolve_api_key(api_key: Optional[str]) -> str:
    """The key given, else ``TEXTFLOW_API_KEY``; a missing or blank key is an error."""
    if api_key is None:
        api_key = os.environ.get(ENV_API_KEY)
        if api_key is None:
            raise ConfigurationError(
                f"No API key: pass api_key=... or set the {ENV_API_KEY} environment variable "
                "(get a key from the API console at https://textflow.me/api).",
                missing="api_key",
            )
    if not isinstance(api_key, str):
        raise ConfigurationError(f"api_key must be a str, not {type(api_key).__name__}.")
    api_key = api_key.strip()
    if not api_key:
        raise ConfigurationError("The API key is blank.", missing="api_key")
    if not _KEY_CHARACTERS.fullmatch(api_key):
        # Never echo it: a key with a stray newline must not end up in a log either.
        raise ConfigurationError(
            "The API key has characters no key has (whitespace inside, control or "
            "non-ASCII characters): check how it was copied."
        )
    return api_key


def _encodable(text: str) -> bool:
    """Whether ``text`` can go on the wire (lone surrogates cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_base_url(base_url: Union[str, httpx.URL, None]) -> httpx.URL:
    """The URL given, else ``TEXTFLOW_BASE_URL``, else the hosted API; checked.

    Plain ``http`` is allowed only to a loopback host: the bearer key must not
    cross a network in clear.
    """
    if base_url is None:
        base_url = os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
    if isinstance(base_url, str) and not _encodable(base_url):
        raise ConfigurationError(
            "base_url is not valid text: it holds a lone surrogate, as undecodable bytes "
            "become; decode it with the right encoding."
        )
    try:
        url = httpx.URL(base_url)
    except (TypeError, httpx.InvalidURL) as exc:
        raise ConfigurationError(f"base_url is not a URL: {exc}") from None
    if url.userinfo:
        # httpx would send it as Basic auth in place of the key; never echo the password.
        raise ConfigurationError(
            "base_url must not carry a user name or password (user:pass@): the API key "
            "is the only credential; pass a proxy's credentials to your own http_client."
        )
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"base_url must be an http(s) URL with a host, like {DEFAULT_BASE_URL!r}; "
            f"got {str(url)!r}."
        )
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ConfigurationError(
            f"Refusing plain http to {url.host!r}: the API key would cross the network "
            "unencrypted. Use https, or http only to localhost/127.0.0.1/::1."
        )
    if url.query or url.fragment:
        raise ConfigurationError("base_url must not have a query string or a fragment.")
    if url.port is not None and not 0 < url.port < 65536:
        raise ConfigurationError(f"base_url's port must be from 1 to 65535, not {url.port}.")
    # Paths are joined onto it: keep exactly one trailing slash off.
    return url.copy_with(path=url.path.rstrip("/"))


#: The longest timeout accepted (one day): longer ones overflow the OS's timers.
MAX_TIMEOUT = 86_400.0


def resolve_timeout(timeout: TimeoutTypes) -> httpx.Timeout:
    """A float (seconds for everything), an ``httpx.Timeout``, or ``None`` for none.

    Every number, and every phase of an ``httpx.Timeout``, must be a finite number of
    seconds above 0 and up to `MAX_TIMEOUT` (or ``None``): checked here, not on the
    first call.
    """
    if isinstance(timeout, httpx.Timeout):
        for phase, value in timeout.as_dict().items():
            if value is not None and not _is_seconds(value):
                raise ConfigurationError(
                    f"timeout's {phase} phase must be None or a number of seconds above 0 "
                    f"and up to {MAX_TIMEOUT:g}; got {value!r}."
                )
        return timeout
    if timeout is None:
        return httpx.Timeout(None)
    if not _is_seconds(timeout):
        raise ConfigurationError(
            f"timeout must be a number of seconds above 0 and up to {MAX_TIMEOUT:g}, an "
            f"httpx.Timeout or None (no timeout); got {timeout!r}."
        )
    return httpx.Timeout(float(timeout))


def _is_seconds(value: object) -> bool:
    """A finite int or float in (0, MAX_TIMEOUT]: nan, inf and 1e300 are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return 0 < value <= MAX_TIMEOUT  # nan compares False


def resolve_deadline(timeout: TimeoutTypes) -> Optional[float]:
    """The overall bound of a call: a number of seconds bounds it whole; ``None``, nothing."""
    if timeout is None:
        return None
    if isinstance(timeout, httpx.Timeout):
        return DEFAULT_DEADLINE
    return float(timeout)


_ssl_lock = threading.Lock()
_ssl_context: Optional[ssl.SSLContext] = None


def ssl_context() -> ssl.SSLContext:
    """The TLS settings every client the SDK builds shares, made once: loading the CA
    bundle costs ~17 ms and ~0.8 MiB per context. A caller's ``http_client`` keeps its own."""
    global _ssl_context
    if _ssl_context is None:
        with _ssl_lock:
            if _ssl_context is None:
                _ssl_context = httpx.create_ssl_context()
    return _ssl_context


def resolve_max_retries(max_retries: int) -> int:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries must be an int >= 0; got {max_retries!r}.")
    return max_retries


def build_headers(
    api_key: str,
    base: Mapping[str, str],
    extra: Optional[Mapping[str, str]],
    *,
    accept_encoding: str,
) -> httpx.Headers:
    """The headers every request carries, computed once per client (``extra`` checked).

    ``accept_encoding``: what the body reader decodes itself (``_http.body``), so this
    module of settings imports nothing of the HTTP layer.
    """
    headers = httpx.Headers(base)
    headers["User-Agent"] = USER_AGENT
    headers["Accept"] = "application/json"
    headers["Accept-Encoding"] = accept_encoding
    if extra:
        headers.update(extra)
    headers["Authorization"] = f"Bearer {api_key}"
    return headers


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an HTTP token
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")  # visible ASCII, spaces and tabs


def check_headers(headers: object) -> dict[str, str]:
    """``default_headers``: a mapping of str names (HTTP tokens) to printable ASCII str
    values. A value is never echoed in the error: it may be a credential."""
    if not isinstance(headers, Mapping):
        raise ConfigurationError(
            "default_headers must be a mapping of header names to values, "
            f"not {type(headers).__name__}."
        )
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ConfigurationError(
                f"default_headers has a name that is not an HTTP header name: {name!a} "
                "(letters, digits and !#$%&'*+-.^_`|~ only)."
            )
        if not isinstance(value, str):
            raise ConfigurationError(
                f"default_headers[{name!r}] must be a str, not {type(value).__name__}."
            )
        if not _HEADER_VALUE.fullmatch(value):
            raise ConfigurationError(
                f"default_headers[{name!r}] has characters a header cannot carry (control "
                "or non-ASCII characters, a newline): encode it first."
            )
        checked[name] = value
    return checked


def merge_headers(current: Mapping[str, str], given: object) -> dict[str, str]:
    """``with_options``' ``default_headers``: ``given`` (checked as `check_headers` does;
    ``None`` adds nothing) added to, or replacing, the ``current`` ones."""
    return {**current, **check_headers(given or {})}
