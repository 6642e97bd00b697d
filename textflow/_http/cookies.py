"""The cookie jar the SDK gives httpx (through its public ``cookies=`` argument).

httpx hands every answer to ``http.cookiejar``, whose policy checks run even when
the answer sets no cookie. This jar reads the answer's headers once and stops
there when there is no ``Set-Cookie``; cookies that are set are kept as usual.
"""

from __future__ import annotations

from http.cookiejar import CookieJar
from typing import Any


class Jar(CookieJar):
    def extract_cookies(self, response: Any, request: Any) -> None:
        headers = response.info()
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response, request)
