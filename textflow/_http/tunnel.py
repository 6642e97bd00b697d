"""CONNECT tunnels through a plain-http proxy, on the SDK's own connection.

An ``https://`` API behind an ``http://`` proxy (the common corporate setup): the
connection (``textflow._http.connection``) dials the proxy, asks it for a tunnel to the
API's origin (``Tunnel.request``, `answer_head`), and the connection then does
TLS with the API over that same stream and speaks HTTP/1.1 as on a direct one. So a
tunnelled request keeps everything a direct one has: the strict codec (``h1``), the
clean-reuse checks (under trio, TLS by ``trio_tls``, whose buffer the connection sees:
``trio.SSLStream``, which httpcore's tunnel used, hid an unasked answer sent in a TLS
record of its own), the call's one deadline, and "may it have been sent?".

The exchange itself is ``AsyncConnection._tunnel`` (``textflow._http.async_connection``,
whose sync twin is generated), over the same streams as the request: the sync ones cut
every read and write at the call's deadline, the async client's cancel scope the async
ones. Here: the CONNECT request, reading its answer, and what each failure is.

The CONNECT exchange is part of connecting (``textflow._http.sent``): nothing of the
request goes out until the tunnel is up, so every failure here (the proxy refuses,
closes, stalls past the deadline, answers malformed, or sends bytes after its ``200``
that no TLS server could have sent yet) is "not sent". Its answer is read by ``h1``, as
an answer without a body (RFC 9110 9.3.6: a 2xx to CONNECT has none; the tunnel starts
right after its head).

An ``https://`` proxy (TLS to the proxy, TLS to the API inside) and SOCKS stay on
httpcore's connections (``textflow._http.pools``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from textflow._http import h1, net

Origin = tuple[bytes, bytes, int]


class Tunnel:
    """How tunnels go through one plain-http proxy: its origin and the headers it gets
    (Proxy-Authorization from its URL's userinfo first), as httpcore sends them."""

    __slots__ = ("_headers", "proxy")

    def __init__(self, proxy: Origin, headers: list[tuple[bytes, bytes]]) -> None:
        self.proxy = proxy
        self._headers = headers

    def request(self, origin: Origin) -> bytes:
        """The ``CONNECT`` request for a tunnel to ``origin``."""
        _, host, port = origin
        if b":" in host:  # an IPv6 address goes in brackets in an authority
            host = b"[" + host + b"]"
        target = b"%b:%d" % (host, port)
        headers = [(b"Host", target), (b"Accept", b"*/*"), *self._headers]
        try:
            return h1.request_bytes(b"CONNECT", target, headers, b"")
        except h1.Unwritable as exc:  # its message names no value (a header may be a secret)
            raise net.ProxyError(f"the CONNECT request to the proxy: {exc}") from None


def _answered(answer: h1.Answer) -> None:
    """The proxy's answer to CONNECT (its head read whole): the tunnel is up, or why not."""
    if not 200 <= answer.status < 300:
        hint = " (check the proxy's credentials)" if answer.status == 407 else ""
        raise net.ProxyError(
            f"the proxy refused the tunnel to the API: it answered {answer.status}{hint}"
        )
    if answer.extra:
        raise net.ProxyError(
            "the proxy sent bytes after its answer to CONNECT, before the TLS handshake began"
        )


@contextmanager
def connecting() -> Iterator[None]:
    """Failures of the CONNECT exchange come out as failures to connect (never sent)."""
    try:
        yield
    except (net.ReadTimeout, net.WriteTimeout) as exc:
        raise net.ConnectTimeout(str(exc) or "the proxy did not answer CONNECT in time") from None
    except (net.ReadError, net.WriteError) as exc:
        raise net.ConnectError(f"the connection to the proxy failed: {exc}") from None
    except h1.ProtocolError as exc:
        raise net.ProxyError(f"the proxy's answer to CONNECT is malformed: {exc}") from None


#: The proxy ended the connection before the head of its answer to CONNECT.
CLOSED = "the proxy closed the connection before answering CONNECT"


def answer_head(answer: h1.Answer, data: bytes) -> bool:
    """``data`` read from the proxy (``b""``: its end) fed to ``answer`` (made with
    ``head_request=True``: a 2xx to CONNECT has no body); whether the head is complete,
    then whether the tunnel is up (else why not)."""
    if not data:
        raise net.ProxyError(CLOSED)
    answer.feed(data)
    if not answer.head():
        return False
    _answered(answer)
    return True
