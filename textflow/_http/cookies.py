"""The cookie jar the SDK gives httpx (through its public ``cookies=`` argument).

httpx hands every answer to ``http.cookiejar``, whose policy checks run even when
the answer sets no cookie. This jar reads the answer's headers once and stops
there when there is no ``Set-Cookie``; cookies that are set are kept as usual.
"""

from __future__ import annotations

from http.cookiejar import CookieJar
from typing import Any

import httpx


class Jar(CookieJar):
    def extract_cookies(self, response: Any, request: Any) -> None:
        headers = response.info()
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response, request)


_SET_COOKIE = (b"set-cookie", b"set-cookie2")


def sets_cookie(headers: httpx.Headers) -> bool:
    """Whether an answer sets a cookie: one look at each raw name (``"set-cookie" in
    headers`` normalises the name and works out the headers' text encoding each time)."""
    for name, _ in headers.raw:  # noqa: SIM110 (any() over a generator: a call per name)
        if name.lower() in _SET_COOKIE:
            return True
    return False
