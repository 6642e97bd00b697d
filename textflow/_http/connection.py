"""The SDK's own HTTP/1.1 connections for direct requests: one request at a time.

In place of httpcore's ``HTTPConnection`` / ``HTTP11Connection`` and h11 (their locks,
state objects, per-header validation and exception mapping were most of the function
calls of a send): the request is written in one piece by ``textflow._http.h1``, the
answer's head is parsed there in a few regular expressions, and the answer is handed
up as an ``httpx.Response`` whose body streams from the connection. A shard
(``textflow._http.pools``) holds one; proxied requests still go through httpcore.

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
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from typing import Any, Callable, Optional

import anyio
import httpcore
import httpx

from textflow._http import h1
from textflow._http.body import CLOSE_CONNECTION
from textflow._http.convert import Forwarded, httpx_errors
from textflow._http.deadline import clamp
from textflow._http.sent import Point, reached
from textflow._http.streams import CLOSED_UNWRITTEN, Opened, close_socket_copy, deadline_named

_READ = 64 * 1024  # bytes asked of the socket per read

_NEW, _IDLE, _ACTIVE, _CLOSED = range(4)

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


class _Connection:
    """What both connections share: the origin, the state, the answer handed up."""

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
    )

    def __init__(
        self,
        origin: Origin,
        ssl_context: Any,
        keepalive_expiry: Optional[float],
        opened: Opened,
        backend: Any,
    ) -> None:
        self._backend = backend  # textflow._http.backends: connects, and reports it
        self._spoiled = False
        self.origin = origin
        self._ssl_context = ssl_context
        self._keepalive = keepalive_expiry
        self._opened = opened
        self._state = _NEW
        self._expires = 0.0
        self.stream: Any = None
        self.cycles = 0  # requests started on it

    def is_idle(self) -> bool:
        return self._state in (_NEW, _IDLE)

    def is_closed(self) -> bool:
        return self._state == _CLOSED

    def usable(self, origin: Origin) -> bool:
        """Whether the next request to ``origin`` may go on it (else close it first)."""
        if self._spoiled:
            return False
        if self._state == _IDLE:
            return origin == self.origin and (
                self._keepalive is None or time.monotonic() <= self._expires
            )
        return self._state == _NEW and origin == self.origin

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
        if answer.reusable and self._state == _ACTIVE:
            self._state = _IDLE
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


def _reading(answer: h1.Answer, data: bytes, first: bool) -> None:
    if first:
        reached(Point.READING)
    if data:
        answer.feed(data)
    else:
        answer.end_of_input()


class AsyncConnection(_Connection):
    """A direct connection of the async transport, over the SDK's async streams."""

    __slots__ = ()

    async def send(
        self,
        request: httpx.Request,
        release: Callable[[], None],
        forwarded: Optional[Forwarded] = None,
    ) -> Optional[httpx.Response]:
        """The answer to ``request`` (``forwarded`` to a plain-http proxy, if given), its
        body still to read (``release`` once it is closed); ``None`` if the connection
        cannot take it (closed while idle: nothing was written, the caller opens a new
        one)."""
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        data = request_bytes(request, body, forwarded)
        timeouts = request.extensions.get("timeout") or {}
        if self.stream is None:
            self.cycles = 0
            await self._connect(timeouts.get("connect"))
        elif self.stream.get_extra_info("is_readable"):  # closed, or sent something unasked
            await self.aclose()
            return None
        self._state = _ACTIVE
        self.cycles += 1
        try:
            answer = await self._exchange(data, request.method == "HEAD", timeouts)
        except BaseException:
            await self._close_shielded()
            raise
        return self._response(answer, AsyncBody(self, answer, timeouts.get("read"), release))

    async def _connect(self, timeout: Optional[float]) -> None:
        scheme, host, port = self.origin
        tls = scheme == b"https"
        stream = await self._backend.connect_raw(host.decode("ascii"), port, timeout)
        if tls:
            reached(Point.TLS)
            try:
                stream = await stream.start_tls(self._ssl(), host.decode("ascii"), timeout)
            except BaseException:  # (the SDK's streams close on failure; this is a guard)
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
                raise
        self.stream = stream
        self._opened[self] = None

    async def _exchange(
        self, data: bytes, head_request: bool, timeouts: dict[str, Any]
    ) -> h1.Answer:
        """Writes the request, reads the answer's head."""
        stream = self.stream
        if (
            self.cycles == 1
            and stream.get_extra_info("ssl_object") is None
            and stream.get_extra_info("is_readable")
        ):
            # A new connection the server closed already (not over TLS: its socket carries
            # records that are no data, such as session tickets): nothing was written.
            raise httpcore.ConnectError(CLOSED_UNWRITTEN)
        reached(Point.WRITING)
        unwritten: Optional[httpcore.WriteError] = None
        try:
            await stream.write(data, timeouts.get("write"))
        except httpcore.WriteError as exc:  # as httpcore does: it may have answered, then closed
            unwritten = exc
        reached(Point.WAITING)
        answer = h1.Answer(head_request)
        read = timeouts.get("read")
        first = True
        try:
            while not answer.head():
                _reading(answer, await stream.read(_READ, read), first)
                first = False
        except (httpcore.ReadError, h1.ProtocolError):
            if unwritten is not None and first:
                raise unwritten from None
            raise
        return answer

    async def aclose(self) -> None:
        self._state = _CLOSED
        stream, self.stream = self.stream, None
        if stream is not None:
            self._opened.pop(self, None)
            await stream.aclose()

    async def _close_shielded(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.aclose()

    def abandon(self, in_this_process: bool) -> None:
        """Let the connection go without awaiting anything: its event loop ends or ended.
        In a forked child only this process's copy of the socket is closed."""
        self._state = _CLOSED
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

    async def _ended(self, answer: h1.Answer) -> None:
        if not self._answer_ended(answer):
            await self._close_shielded()


class AsyncBody(httpx.AsyncByteStream):
    """An answer's body, read from its connection; the slot goes back when it is closed."""

    __slots__ = ("_answer", "_connection", "_over", "_read", "_release")

    def __init__(
        self,
        connection: AsyncConnection,
        answer: h1.Answer,
        read_timeout: Optional[float],
        release: Callable[[], None],
    ) -> None:
        self._connection = connection
        self._answer = answer
        self._read = read_timeout
        self._release: Optional[Callable[[], None]] = release
        self._over = False  # read to its end, and the connection made idle or closed

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        answer = self._answer
        connection = self._connection
        try:
            with httpx_errors():
                while not answer.done:
                    data = answer.body()
                    if data:
                        return data
                    if not answer.done:  # (body() may have just ended it)
                        data = await connection.stream.read(_READ, self._read)
                        _reading(answer, data, False)
        except BaseException:
            self._over = True
            await connection._close_shielded()
            raise
        if not self._over:
            self._over = True
            await connection._ended(answer)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        try:
            if not self._over:
                self._over = True
                if self._answer.done:  # a body that was empty, never iterated
                    await self._connection._ended(self._answer)
                else:  # given up before its end: the connection is in mid-answer
                    await self._connection._close_shielded()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class SyncConnection(_Connection):
    """A direct connection of the sync transport, over httpcore's sync stream: every
    connect, read and write cut at the call's deadline (``deadline.clamp``)."""

    __slots__ = ()

    def send(
        self,
        request: httpx.Request,
        release: Callable[[], None],
        forwarded: Optional[Forwarded] = None,
    ) -> Optional[httpx.Response]:
        """As ``AsyncConnection.send``."""
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = request.read()
        data = request_bytes(request, body, forwarded)
        timeouts = request.extensions.get("timeout") or {}
        if self.stream is None:
            self.cycles = 0
            self._connect(timeouts.get("connect"))
        elif self.stream.get_extra_info("is_readable"):
            self.close()
            return None
        self._state = _ACTIVE
        self.cycles += 1
        try:
            answer = self._exchange(data, request.method == "HEAD", timeouts)
        except BaseException:
            self.close()
            raise
        return self._response(answer, SyncBody(self, answer, timeouts.get("read"), release))

    def _connect(self, timeout: Optional[float]) -> None:
        scheme, host, port = self.origin
        stream = self._backend.connect_raw(host.decode("ascii"), port, timeout)
        if scheme == b"https":
            timeout, cut = clamp(timeout, httpcore.ConnectTimeout)
            reached(Point.TLS)
            with deadline_named(cut):
                stream = stream.start_tls(self._ssl(), host.decode("ascii"), timeout)
        self.stream = stream
        self._opened[self] = None

    def _exchange(self, data: bytes, head_request: bool, timeouts: dict[str, Any]) -> h1.Answer:
        stream = self.stream
        if (
            self.cycles == 1
            and stream.get_extra_info("ssl_object") is None
            and stream.get_extra_info("is_readable")
        ):
            raise httpcore.ConnectError(CLOSED_UNWRITTEN)
        # Past the deadline before a byte is written: never sent.
        timeout, cut = clamp(timeouts.get("write"), httpcore.ConnectTimeout)
        reached(Point.WRITING)
        unwritten: Optional[httpcore.WriteError] = None
        try:
            with deadline_named(cut):
                stream.write(data, timeout)
        except httpcore.WriteError as exc:
            unwritten = exc
        reached(Point.WAITING)
        answer = h1.Answer(head_request)
        read = timeouts.get("read")
        first = True
        try:
            while not answer.head():
                _reading(answer, _read(stream, read), first)
                first = False
        except (httpcore.ReadError, h1.ProtocolError):
            if unwritten is not None and first:
                raise unwritten from None
            raise
        return answer

    def close(self) -> None:
        self._state = _CLOSED
        stream, self.stream = self.stream, None
        if stream is not None:
            self._opened.pop(self, None)
            stream.close()

    def abandon(self) -> None:
        """Let the connection go without a word to the server (a forked child's copy)."""
        self._state = _CLOSED
        stream, self.stream = self.stream, None
        self._opened.pop(self, None)
        if stream is not None:
            close_socket_copy(stream)

    def _ended(self, answer: h1.Answer) -> None:
        if not self._answer_ended(answer):
            self.close()


def _read(stream: Any, timeout: Optional[float]) -> bytes:
    timeout, cut = clamp(timeout, httpcore.ReadTimeout)
    with deadline_named(cut):
        data: bytes = stream.read(_READ, timeout)
    return data


class SyncBody(httpx.SyncByteStream):
    """The sync twin of ``AsyncBody``."""

    __slots__ = ("_answer", "_connection", "_over", "_read", "_release")

    def __init__(
        self,
        connection: SyncConnection,
        answer: h1.Answer,
        read_timeout: Optional[float],
        release: Callable[[], None],
    ) -> None:
        self._connection = connection
        self._answer = answer
        self._read = read_timeout
        self._release: Optional[Callable[[], None]] = release
        self._over = False

    def __iter__(self) -> Iterator[bytes]:
        answer = self._answer
        connection = self._connection
        try:
            while not answer.done:
                with httpx_errors():
                    data = answer.body()
                if data:
                    yield data
                elif not answer.done:  # (body() may have just ended it)
                    with httpx_errors():
                        _reading(answer, _read(connection.stream, self._read), False)
        except BaseException:
            self._over = True
            connection.close()
            raise
        if not self._over:
            self._over = True
            connection._ended(answer)

    def close(self) -> None:
        try:
            if not self._over:
                self._over = True
                if self._answer.done:  # a body that was empty, never iterated
                    self._connection._ended(self._answer)
                else:  # given up before its end: the connection is in mid-answer
                    with suppress(Exception):
                        self._connection.close()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()
