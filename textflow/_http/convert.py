"""Between httpx and the SDK's streams or httpcore: exceptions, requests, and answer bodies
that free their slot. httpcore is imported only where it carries a request."""

from __future__ import annotations

import base64
import sys
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Optional

import httpx

from textflow._http import h1, net
from textflow._http.tunnel import Tunnel

if TYPE_CHECKING:
    import httpcore

_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    # the SDK's own connection (``connection``) and streams (``net``)
    h1.ProtocolError: httpx.RemoteProtocolError,
    net.ConnectTimeout: httpx.ConnectTimeout,
    net.ReadTimeout: httpx.ReadTimeout,
    net.WriteTimeout: httpx.WriteTimeout,
    net.TimeoutException: httpx.TimeoutException,
    net.ConnectError: httpx.ConnectError,
    net.ReadError: httpx.ReadError,
    net.WriteError: httpx.WriteError,
    net.NetworkError: httpx.NetworkError,
    net.ProxyError: httpx.ProxyError,
}


def _httpcore_errors() -> bool:
    """Adds httpcore's exceptions to ``_ERRORS`` if httpcore is loaded (it carries a
    proxied request, or a test double patched its connection), once; whether it did."""
    httpcore = sys.modules.get("httpcore")
    if httpcore is None or httpcore.PoolTimeout in _ERRORS:
        return False
    _ERRORS.update(_core_errors(httpcore))
    return True


def _core_errors(httpcore: Any) -> dict[type[Exception], type[httpx.TransportError]]:
    return {
        httpcore.PoolTimeout: httpx.PoolTimeout,
        httpcore.ConnectTimeout: httpx.ConnectTimeout,
        httpcore.ReadTimeout: httpx.ReadTimeout,
        httpcore.WriteTimeout: httpx.WriteTimeout,
        httpcore.TimeoutException: httpx.TimeoutException,
        httpcore.ConnectError: httpx.ConnectError,
        httpcore.ReadError: httpx.ReadError,
        httpcore.WriteError: httpx.WriteError,
        httpcore.NetworkError: httpx.NetworkError,
        httpcore.ProxyError: httpx.ProxyError,
        httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
        httpcore.LocalProtocolError: httpx.LocalProtocolError,
        httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
        httpcore.ProtocolError: httpx.ProtocolError,
    }


class _HttpxErrors:
    """The SDK's streams' and httpcore's exceptions as httpx's (the client attaches the
    request).

    A class rather than a ``@contextmanager``: entered three times per request, a
    generator per use was a measurable part of the transport's own CPU.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if isinstance(exc, Exception):
            for cls in type(exc).__mro__:
                mapped = _ERRORS.get(cls)
                if mapped is not None:
                    raise mapped(str(exc)) from exc
            if _httpcore_errors():  # httpcore was loaded since: its exceptions too
                self.__exit__(exc_type, exc, tb)


_HTTPX_ERRORS = _HttpxErrors()


def httpx_errors() -> _HttpxErrors:
    """``with httpx_errors():`` the streams' and httpcore's exceptions come out as httpx's."""
    return _HTTPX_ERRORS


#: A request forwarded to a plain-http proxy: the proxy's origin (scheme, host, port),
#: the request's target in absolute form, and the headers to send (the proxy's first).
Forwarded = tuple[tuple[bytes, bytes, int], bytes, list[tuple[bytes, bytes]]]


class Forward:
    """How requests go through one proxy: a plain-http request through a plain-http
    proxy is forwarded in absolute form, built here; an https one through a plain-http
    proxy goes through its CONNECT ``tunnel`` (``textflow._http.tunnel``); any other is
    sent as it is (to a tunnel or a SOCKS connection that the proxy's httpcore pool makes).

    httpcore's forwarding connection rebuilds and revalidates every request it sends
    (``merge_headers``, ``enforce_headers``: a second ``httpcore.Request`` per send).
    Here the request to the proxy is built once, in absolute form, with the headers
    httpcore would send (the proxy's own first, Proxy-Authorization from the proxy URL's
    userinfo before them, none a request header of the same name overrides), and goes
    on the SDK's own connection to the proxy's address (``textflow._http.connection``:
    a forwarding proxy is an HTTP/1.1 server taking absolute-form targets), or on a
    plain httpcore connection when a test double patched httpcore's (``request``).
    """

    __slots__ = ("_forwards", "_headers", "_names", "origin", "tunnel")

    def __init__(self, proxy: httpx.Proxy) -> None:
        url = proxy.url
        self._forwards = url.scheme == "http"  # as ``proxies.forwards`` decides
        port = url.port
        if port is None:
            port = 80 if url.scheme == "http" else 443
        self.origin = (url.raw_scheme, url.raw_host, port)
        headers = list(proxy.headers.raw)
        auth = proxy.raw_auth
        if auth is not None:
            token = base64.b64encode(auth[0] + b":" + auth[1])
            headers.insert(0, (b"Proxy-Authorization", b"Basic " + token))
        self._headers = headers
        self._names = [b"\n" + name.lower() + b"\n" for name, _ in headers]
        # An https request through a plain-http proxy: a CONNECT tunnel on the SDK's own
        # connection (``textflow._http.tunnel``), with the same headers.
        self.tunnel = Tunnel(self.origin, headers) if self._forwards else None

    def forwarded(self, request: httpx.Request) -> Optional[Forwarded]:
        """``request`` as the proxy takes it, if it is forwarded (plain http through a
        plain-http proxy); ``None`` if it goes as it is, through a tunnel."""
        url = request.url
        if url.raw_scheme != b"http" or not self._forwards:
            return None
        host = url.raw_host
        if b":" in host:  # an IPv6 address goes in brackets in a URL
            host = b"[" + host + b"]"
        port = url.port
        if port is not None:
            host = b"%b:%d" % (host, port)
        raw = request.headers.raw
        headers = self._headers
        if headers:  # a request header overrides the proxy's of the same name
            # The request's header names in one string, lower case: a few calls, not
            # one per header (no name holds a line break: the codec refuses one).
            names = b"\n" + b"\n".join([name for name, _ in raw]).lower() + b"\n"
            for name in self._names:
                if name in names:
                    headers = [item for item, n in zip(headers, self._names) if n not in names]
                    break
        target = b"http://%b%b" % (host, url.raw_path)
        if raw and raw[0][0].lower() == b"host":  # Host first, as h11 writes it (httpx's is)
            return self.origin, target, [raw[0], *headers, *raw[1:]]
        return self.origin, target, headers + raw

    def request(self, request: httpx.Request) -> httpcore.Request:
        """``request`` for httpcore: in absolute form to the proxy if forwarded."""
        import httpcore

        forwarded = self.forwarded(request)
        if forwarded is None:
            return core_request(request)
        (scheme, host, port), target, headers = forwarded
        return httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=scheme, host=host, port=port, target=target),
            headers=headers,
            content=request.stream,
            extensions=request.extensions,
        )


def core_request(request: httpx.Request) -> httpcore.Request:
    import httpcore

    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        ),
        headers=request.headers.raw,
        content=request.stream,
        extensions=request.extensions,
    )


class _Release:
    """Gives a request's slot back once, however many times it is called."""

    __slots__ = ("_release",)

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def __call__(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


class SyncBody(httpx.SyncByteStream):
    """An answer's body from a pool: httpx's exceptions, the slot released on close.

    httpx closes a response's stream whatever happens to the response (the SDK reads
    every answer whole, inside ``with``), so closing is the one place a slot comes back.
    """

    def __init__(self, answer: httpcore.Response, release: Callable[[], None]) -> None:
        self._answer = answer
        self._release = _Release(release)

    def __iter__(self) -> Iterator[bytes]:
        with httpx_errors():
            yield from self._answer.iter_stream()
        _answered(self._answer)

    def close(self) -> None:
        try:
            with httpx_errors():
                self._answer.close()
        finally:
            self._release()


class AsyncBody(httpx.AsyncByteStream):
    """The async twin of ``SyncBody``: an iterator, not an async generator.

    When the client stops reading early (an answer too large or malformed), httpx's
    ``aiter_raw`` and httpcore's response streams do not close the async generators they
    iterate, so one would be left to garbage collection, which trio reports as a
    ResourceWarning. Here closing the body finishes httpcore's chain: once its
    connection is closed, the next step raises through every generator in it.
    """

    def __init__(self, answer: httpcore.Response, release: Callable[[], None]) -> None:
        self._answer = answer
        self._release = _Release(release)
        self._parts: Optional[AsyncIterator[bytes]] = None  # httpcore's, while unfinished

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._parts is None:
            self._parts = self._answer.aiter_stream()
        return self

    async def __anext__(self) -> bytes:
        parts = self._parts
        if parts is None:
            raise StopAsyncIteration
        try:
            with httpx_errors():
                part: bytes = await parts.__anext__()
        except StopAsyncIteration:
            self._parts = None
            _answered(self._answer)
            raise
        except BaseException:  # a failure ends httpcore's chain too
            self._parts = None
            raise
        return part

    async def aclose(self) -> None:
        try:
            with httpx_errors():
                await self._answer.aclose()
        finally:
            try:
                await _finish(self._parts)
            finally:
                self._parts = None
                self._release()


async def _finish(parts: Optional[AsyncIterator[bytes]]) -> None:
    """Step an abandoned httpcore body, whose connection is closed, until it raises: its
    generators end (a step at most reads what is already buffered)."""
    if parts is None:
        return
    import anyio

    with anyio.CancelScope(shield=True):
        for _ in range(_FINISH_STEPS):
            try:
                await parts.__anext__()
            except Exception:  # the point: it ended (StopAsyncIteration or an error)
                return


_FINISH_STEPS = 8


def _answered(answer: httpcore.Response) -> None:
    """Read to its end: before the connection goes back to the pool, check it ended clean."""
    from textflow._http import streams

    streams.answered(answer.extensions.get("network_stream"))
