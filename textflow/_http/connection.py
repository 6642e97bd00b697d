"""The SDK's own HTTP/1.1 connections for direct requests: one request at a time.

What both connections share is here; ``AsyncConnection`` is in ``async_connection``
(written by hand) and ``SyncConnection`` in ``sync_connection`` (generated from it by
scripts/unasync.py).

In place of httpcore's ``HTTPConnection`` / ``HTTP11Connection`` and h11 (their locks,
state objects, per-header validation and exception mapping were most of the function
calls of a send): the request is written in one piece by ``textflow._http.h1``, the
answer's head is parsed there in a few regular expressions, and the answer is handed
up as an ``httpx.Response`` whose body streams from the connection. A shard
(``textflow._http.pools``) holds one. It also carries requests forwarded to a plain-http
proxy, and requests through a plain-http proxy's CONNECT tunnel (``textflow._http.tunnel``);
an ``https://`` proxy's tunnels and SOCKS go through httpcore.

What each connection keeps, as the httpcore connections with the SDK's streams did:

* "may it have been sent?" (``textflow._http.sent``): connecting, TLS, writing,
  waiting, reading, reported where they happen;
* a reused connection that the server closed (or wrote to) while it sat idle is given
  up before a byte is written to it, and the request goes on a new one; a new plain
  connection that the server closed before the request went out fails as "not sent";
* a connection with bytes past its answer, an answer framed by the connection's end,
  ``Connection: close``, an answer read only in part, or a failure or cancellation in
  the middle of a cycle is closed, never reused;
* the deadline: the sync connection cuts every connect, read and write at the call's
  deadline (``textflow._http.deadline``); the async client's cancel scope cuts the
  async one;
* fork safety: connections are listed in their pools' ``opened``, and let go without
  a word to the server (``abandon``) when their process or event loop is gone.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import httpx

from textflow._http import h1
from textflow._http.body import CLOSE_CONNECTION
from textflow._http.convert import Forwarded
from textflow._http.net import Opened, close_socket_copy
from textflow._http.sent import Point, reached
from textflow._http.tunnel import Tunnel

READ = 64 * 1024  # bytes asked of the socket per read

NEW, IDLE, ACTIVE, CLOSED = range(4)

Origin = tuple[bytes, bytes, int]


def origin_of(url: httpx.URL) -> Origin:
    """``(scheme, host, port)`` of ``url``; the scheme is http or https (else refused)."""
    scheme = url.raw_scheme
    port = url.port
    if port is None:
        if scheme == b"https":
            port = 443
        elif scheme == b"http":
            port = 80
    if scheme not in (b"http", b"https"):
        raise httpx.UnsupportedProtocol(
            "Request URL is missing an 'http://' or 'https://' protocol."
            if not scheme
            else f"Request URL has an unsupported protocol '{scheme.decode()}://'."
        )
    return scheme, url.raw_host, port  # type: ignore[return-value]


def request_bytes(
    request: httpx.Request, body: bytes, forwarded: Optional[Forwarded] = None
) -> bytes:
    """``request`` on the wire (``h1.request_bytes``), refused here if it cannot be sent;
    in absolute form with the proxy's headers if ``forwarded`` (``convert.Forward``)."""
    try:
        method = request.method.encode("ascii")
    except UnicodeEncodeError:
        raise httpx.LocalProtocolError("the request's method is not ASCII") from None
    if forwarded is None:
        target, headers = request.url.raw_path, request.headers.raw
    else:
        _, target, headers = forwarded
    unframed = _unframed(headers, body)
    if unframed:
        raise httpx.LocalProtocolError(unframed)
    try:
        return h1.request_bytes(method, target, headers, body)
    except h1.Unwritable as exc:  # its message names no value
        raise httpx.LocalProtocolError(str(exc)) from None


def _unframed(headers: list[tuple[bytes, bytes]], body: bytes) -> str:
    """Why ``headers`` do not frame ``body`` as it is written (whole, after the head), or
    ``""``: a streamed request (``Transfer-Encoding``, or a body with no
    ``Content-Length``) would go out unframed, and the server would read the rest of
    the connection as the body or the next request. The SDK builds byte bodies only."""
    length: Optional[bytes] = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            return (
                "a streamed request body (Transfer-Encoding) cannot be sent on the SDK's "
                "connection: give the body as bytes"
            )
        if lowered == b"content-length":
            if length is not None and value.strip() != length:
                return "the request has two Content-Length headers that differ"
            length = value.strip()
    if length is None:
        if body:
            return (
                "a request body without a Content-Length (a streamed one) cannot be sent on "
                "the SDK's connection: give the body as bytes"
            )
    elif not length.isdigit() or int(length) != len(body):
        return "the request's Content-Length is not the length of its body"
    return ""


class BaseConnection:
    """What both connections share: the origin, the state, the answer handed up, letting go."""

    __slots__ = (
        "_backend",
        "_expires",
        "_keepalive",
        "_opened",
        "_spoiled",
        "_ssl_context",
        "_state",
        "cycles",
        "origin",
        "stream",
        "tunnel",
    )

    def __init__(
        self,
        origin: Origin,
        ssl_context: Any,
        keepalive_expiry: Optional[float],
        opened: Opened,
        backend: Any,
        tunnel: Optional[Tunnel] = None,
    ) -> None:
        self._backend = backend  # textflow._http.backends: connects, and reports it
        self.tunnel = tunnel  # the proxy it reaches ``origin`` through (CONNECT), if any
        self._spoiled = False
        self.origin = origin
        self._ssl_context = ssl_context
        self._keepalive = keepalive_expiry
        self._opened = opened
        self._state = NEW
        self._expires = 0.0
        self.stream: Any = None
        self.cycles = 0  # requests started on it

    def is_idle(self) -> bool:
        return self._state in (NEW, IDLE)

    def is_closed(self) -> bool:
        return self._state == CLOSED

    def usable(self, origin: Origin) -> bool:
        """Whether the next request to ``origin`` may go on it (else close it first)."""
        if self._spoiled:
            return False
        if self._state == IDLE:
            return origin == self.origin and (
                self._keepalive is None or time.monotonic() <= self._expires
            )
        return self._state == NEW and origin == self.origin

    def spoil(self) -> None:
        """Never used again (its answer was not this request's, maybe): closed at its next
        use. Called by the client (``framing.never_reuse``), without awaiting."""
        self._spoiled = True

    def _ssl(self) -> Any:
        context = self._ssl_context
        context.set_alpn_protocols(["http/1.1"])
        return context

    def _answer_ended(self, answer: h1.Answer) -> bool:
        """The cycle is over, its answer read whole: idle if it may carry the next one."""
        if answer.reusable and self._state == ACTIVE:
            self._state = IDLE
            if self._keepalive is not None:
                self._expires = time.monotonic() + self._keepalive
            return True
        return False

    def _response(self, answer: h1.Answer, stream: Any) -> httpx.Response:
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=stream,
            extensions={
                "http_version": answer.version,
                "reason_phrase": answer.reason,
                CLOSE_CONNECTION: self.spoil,
            },
        )

    def abandon(self, in_this_process: bool = False) -> None:
        """Let the connection go without awaiting anything or a word to the server: its
        event loop ends or ended, or its process is a forked child (then only this
        process's copy of the socket is closed)."""
        self._state = CLOSED
        stream, self.stream = self.stream, None
        self._opened.pop(self, None)
        if stream is None:
            return
        abandon = getattr(stream, "abandon", None)  # the SDK's asyncio stream
        if abandon is not None:
            if in_this_process:
                abandon()
        else:
            close_socket_copy(stream)


def reading(answer: h1.Answer, data: bytes, first: bool) -> None:
    """``data`` read from the connection (``b""``: its end), the first of the answer if
    ``first``."""
    if first:
        reached(Point.READING)
    if data:
        answer.feed(data)
    else:
        answer.end_of_input()
