"""``DefaultAioHttpClient``: an ``httpx.AsyncClient`` that sends over aiohttp (asyncio only).

Installed with ``pip install "textflowsms[aiohttp]"`` (the ``httpx-aiohttp``
transport). ``import textflow`` does not import this module nor aiohttp: it is
loaded the first time ``textflow.DefaultAioHttpClient`` is looked up.

Over ``httpx_aiohttp.AiohttpTransport`` it adds what the SDK's promises need:

* **Where a request failed, reported to the one decision** (``textflow._http.sent``)
  through aiohttp's public tracing signals: waiting for a connection, making one
  (TCP, proxy tunnel and TLS handshake: aiohttp does not tell them apart), then
  writing from the moment a connection is in hand, reading once the answer's head
  came. So a call cut by the deadline during a stalled TLS handshake is "not sent",
  as on the SDK's own transport. The answer's connection can be closed through the
  response (``framing.CLOSE_CONNECTION``): an answer to another request is never
  followed by another on the same connection.
* **No answer read as another request's.** aiohttp's pool hands out an idle connection
  that received something meanwhile (an unasked answer, which aiohttp would read as
  the next request's): a reused connection is checked first (what aiohttp's protocol
  holds, then whether its socket is readable) and closed if it spoke
  (https://github.com/aio-libs/aiohttp/issues/13656: the pool does not re-check its
  ``should_close``). A ``101`` is no
  answer to a send (a broken one, "may have been sent"); an answer framed with
  ``chunked`` twice is read but its connection not reused; a request that fails with
  a connection in hand closes it.
* **Closing aborts what a graceful close would wait on forever**: a connection still
  writing the body of a request that was answered already (see ``_Opened``).
* **Exceptions of the right kind.** httpx-aiohttp 0.2 maps every
  ``aiohttp.ClientConnectionError`` to ``httpx.ConnectTimeout``, including a server
  that dropped the connection after reading the request; here they are mapped by
  what happened (the point reported above decides whether it may have been sent).
* **asyncio only.** aiohttp needs an asyncio event loop; under trio the first call
  raises `ConfigurationError` instead of hanging or failing deep inside aiohttp.
* The SDK's pool limits, timeouts and shared TLS settings, unless given.

aiohttp itself re-sends an idempotent request (``get_balance``'s GET, never a
POST) once when its connection breaks, on top of the SDK's ``max_retries``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any, Optional

import httpx

from textflow import _config
from textflow._http.body import CLOSE_CONNECTION
from textflow._http.cookies import Jar
from textflow._http.net import socket_readable
from textflow._http.sent import Point, reached
from textflow.errors import ConfigurationError

INSTALL_HINT = 'pip install "textflowsms[aiohttp]"'


def _aiohttp_exception(exc: BaseException) -> type[httpx.TransportError] | None:
    """The httpx exception for an aiohttp one; ``None`` for anything else."""
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout  # no connection yet: nothing was sent
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError  # refused, unreachable, TLS handshake: nothing was sent
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError  # the request may have been read
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError
    if isinstance(exc, aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError  # not HTTP as aiohttp reads it
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol
    if isinstance(exc, asyncio.TimeoutError):  # an OSError too since Python 3.11
        return httpx.ReadTimeout
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return httpx.ReadError  # broken after connecting: it may have been sent
    if isinstance(exc, ValueError):
        return httpx.LocalProtocolError  # refused before writing: a header with a newline
    return None


@contextmanager
def _mapped() -> Iterator[None]:
    """aiohttp's exceptions (also those httpx-aiohttp re-raised as httpx's) as httpx's."""
    try:
        yield
    except httpx.TransportError as exc:
        cause = exc.__cause__
        mapped = None if cause is None else _aiohttp_exception(cause)
        if mapped is None or isinstance(exc, mapped):
            raise
        raise mapped(_describe(exc)) from cause
    except Exception as exc:
        mapped = _aiohttp_exception(exc)
        if mapped is None:
            raise
        raise mapped(_describe(exc)) from exc


def _describe(exc: BaseException) -> str:
    try:
        return str(exc) or type(exc).__name__
    except Exception:  # an exception whose __str__ fails must not hide the failure
        return type(exc).__name__


def _require_asyncio() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise ConfigurationError(
            "DefaultAioHttpClient runs on asyncio only (aiohttp has no trio support); under "
            "trio use AsyncTextFlowClient without http_client, whose own pool runs on both."
        ) from None


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        with _mapped():
            await self._stream.aclose()


def _reporting(point: Point) -> Any:
    async def report(session: Any, context: Any, params: Any) -> None:
        reached(point)

    return report


#: The connection the current request got (see `_session`): its asyncio transport.
_TRANSPORT: ContextVar[Optional[asyncio.Transport]] = ContextVar(
    "textflow_aiohttp_transport", default=None
)
#: Whether the connection the current request got came from aiohttp's pool.
_REUSED: ContextVar[bool] = ContextVar("textflow_aiohttp_reused", default=False)


async def _reused(session: Any, context: Any, params: Any) -> None:
    _REUSED.set(True)


def _tracing() -> Any:
    """aiohttp's tracing signals, reporting how far each request got (see above)."""
    import aiohttp

    trace = aiohttp.TraceConfig()
    trace.on_connection_queued_start.append(_reporting(Point.BEFORE_CONNECTING))
    trace.on_connection_create_start.append(_reporting(Point.CONNECTING))
    # From a connection in hand on, the request's bytes go out (aiohttp reports its
    # headers only after handing them to the socket: too late to say "not yet").
    trace.on_connection_create_end.append(_reporting(Point.WRITING))
    trace.on_connection_reuseconn.append(_reporting(Point.WRITING))
    trace.on_connection_reuseconn.append(_reused)
    trace.on_request_end.append(_reporting(Point.READING))  # the answer's head came
    trace.on_request_end.append(_encodable_reason)
    return trace


async def _encodable_reason(session: Any, context: Any, params: Any) -> None:
    """An answer's reason phrase that httpx-aiohttp can take.

    RFC 9112 4 lets a reason phrase hold bytes past ASCII (obs-text); aiohttp keeps
    them as lone surrogates, which httpx-aiohttp's ``reason.encode()`` refuses: a good
    answer would fail. Read as Latin-1 instead, as HTTP/1.1 always has (httpx keeps
    the ASCII of a reason phrase only; the SDK reads none).
    """
    response = params.response
    reason = response.reason
    if reason and not reason.isascii():
        response.reason = reason.encode("utf-8", "surrogateescape").decode("latin-1")


def _spoke_while_idle(connection: Any) -> bool:
    """Whether a pooled connection received something while idle (an answer nobody asked
    for, the server's end): aiohttp would read it as the next request's answer.

    What the protocol already received (aiohttp's ``should_close``: an unread message,
    bytes it kept, an error), then, on plain TCP, what the socket holds that the loop
    has not delivered yet. Over TLS the socket carries records that are no data (session
    tickets), so the protocol's view is the answer there, as the loop delivers them.
    """
    protocol, transport = connection.protocol, connection.transport
    if protocol is None or transport is None or transport.is_closing():
        return True
    if protocol.should_close:
        return True
    if transport.get_extra_info("ssl_object") is not None:
        return False
    return socket_readable(transport.get_extra_info("socket"))


def _close(transport: Optional[asyncio.Transport]) -> None:
    """Close a connection's transport: aiohttp then never pools it again."""
    if transport is not None:
        transport.close()


def _abort(transport: asyncio.Transport) -> None:
    """Abort ``transport`` now, its unwritten bytes dropped.

    aiohttp before 3.14 cancels a request's body writer when the answer ends (or the
    request is cut) and leaves
    the writer's wait for room behind: the abort would fail that wait, and nobody
    retrieves the failure (a "Connection lost" the loop reports). So the wait is ended
    first, where the protocol is surely paused (more than the high-water mark unsent):
    aiohttp's ``resume_writing`` asserts that it is.
    """
    unsent = _unsent(transport)
    if unsent is None:  # gone already
        return
    if unsent > transport.get_write_buffer_limits()[1] and _leaves_wait_behind():
        transport.get_protocol().resume_writing()
    transport.abort()


@functools.cache
def _leaves_wait_behind() -> bool:
    """Whether the installed aiohttp is one that leaves the writer's wait behind."""
    from importlib.metadata import version

    return tuple(int(part) for part in version("aiohttp").split(".")[:2]) < (3, 14)


def _framed_as_reusable(headers: httpx.Headers) -> bool:
    """Whether an answer's framing is one aiohttp reads strictly enough to reuse its
    connection after it: no ``Transfer-Encoding``, or exactly one ``chunked``.

    aiohttp de-chunks ``chunked, chunked`` once (RFC 9112 6.1 forbids chunked twice):
    where such an answer ends on the wire is a guess, so its connection is not reused.
    """
    codings = [
        coding.strip().lower()
        for value in headers.get_list("transfer-encoding")
        for coding in value.split(",")
    ]
    return not codings or codings == ["chunked"]


class _Opened:
    """The asyncio transports of the connections a client opened, until they are closed.

    aiohttp closes a connection gracefully: its transport first writes what it still
    holds. A request answered while megabytes of its body were unwritten (a server that
    refuses early), or cut by its deadline there, leaves a transport "closing" for as
    long as the server does not read; if the loop ends first, garbage collection finds
    it open. Closing the client aborts those: their requests are over.
    """

    def __init__(self) -> None:
        self._transports: set[asyncio.Transport] = set()

    def add(self, transport: asyncio.Transport) -> None:
        # the ones closed since are dropped here: the set holds the open ones, few
        self._transports = {kept for kept in self._transports if not _done(kept)}
        self._transports.add(transport)

    def abort_unfinished(self) -> bool:
        """Abort the transports that are not closed yet; whether there were any."""
        unfinished = [transport for transport in self._transports if not _done(transport)]
        self._transports = set()
        for transport in unfinished:
            _abort(transport)
        return bool(unfinished)


def _done(transport: asyncio.Transport) -> bool:
    """Whether a transport is closed, or closing with nothing left to write."""
    unsent = _unsent(transport)
    return unsent is None or (transport.is_closing() and not unsent)


def _unsent(transport: asyncio.Transport) -> Optional[int]:
    """The bytes ``transport`` has not written yet; ``None`` if it is gone: asyncio's TLS
    transport lets go of what is under it (closed twice; before Python 3.11, once its
    connection is lost), and then its ``get_write_buffer_size()`` raises AttributeError.
    One found gone is aborted, which only marks it closed (else, before Python 3.11, its
    collection warns that it was never closed)."""
    try:
        return transport.get_write_buffer_size()
    except AttributeError:
        with suppress(AttributeError):
            transport.abort()
        return None


class AioHttpTransport(httpx.AsyncBaseTransport):
    """``httpx_aiohttp.AiohttpTransport`` with exceptions the SDK can trust (see above)."""

    def __init__(self, **options: Any) -> None:
        from httpx_aiohttp import AiohttpTransport

        self._inner = AiohttpTransport(**options)
        self._opened = _Opened()
        if options.get("client") is None:
            self._inner.client = self._session  # made in the running loop, on first use

    def _session(self) -> Any:
        """The session httpx-aiohttp would make, with the tracing signals above and a
        connector that says how to close the connection each request got."""
        import aiohttp

        opened = self._opened

        class Connector(aiohttp.TCPConnector):
            async def connect(self, *args: Any, **kwargs: Any) -> Any:
                while True:  # ends: each turn takes a connection out of the pool, or opens one
                    _REUSED.set(False)
                    connection = await super().connect(*args, **kwargs)
                    if not (_REUSED.get() and _spoke_while_idle(connection)):
                        break
                    connection.close()  # before a byte of this request was written to it
                    reached(Point.BEFORE_CONNECTING)
                if not _REUSED.get() and connection.transport is not None:
                    opened.add(connection.transport)
                _TRANSPORT.set(connection.transport)
                return connection

        inner = self._inner
        limit = inner.limits.max_connections
        connector = Connector(
            keepalive_timeout=inner.limits.keepalive_expiry,
            ssl=inner.ssl_context,
            limit=100 if limit is None else limit,  # aiohttp's default, as httpx-aiohttp leaves it
        )
        return aiohttp.ClientSession(connector=connector, trace_configs=[_tracing()])

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _require_asyncio()
        reached(Point.BEFORE_CONNECTING)
        _TRANSPORT.set(None)
        try:
            with _mapped():
                response = await self._inner.handle_async_request(request)
        except BaseException:
            # aiohttp may have pooled the connection already (the answer was read whole)
            # though the request failed here: an answer not understood ends its connection.
            _close(_TRANSPORT.get())
            raise
        finally:
            transport = _TRANSPORT.get()
            _TRANSPORT.set(None)  # the context keeps no connection past its request
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Body(response.stream)  # the same response: no second one built
        if response.status_code < 200:  # a 101: the server switched protocols, or so it says
            await response.aclose()
            _close(transport)
            reached(Point.READING)
            raise httpx.RemoteProtocolError(
                f"the server answered {response.status_code} (switching protocols) to a request "
                "that asked for no switch; its connection is closed"
            )
        if transport is not None:
            if not _framed_as_reusable(response.headers):
                protocol: Any = transport.get_protocol()
                protocol.force_close()  # read this answer, then close its connection
            # the SDK closes it if the answer is not this request's
            response.extensions[CLOSE_CONNECTION] = transport.close
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
        if self._opened.abort_unfinished():
            await asyncio.sleep(0)  # the loop closes their sockets in its next turn


class DefaultAioHttpClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` over aiohttp, for `AsyncTextFlowClient` on asyncio.

    Many sends in flight cost less CPU over aiohttp than over httpcore's pool. It
    has the SDK's pool limits and timeouts and the default TLS settings; any
    ``httpx.AsyncClient`` argument given overrides them (``verify=`` included).
    Needs ``pip install "textflowsms[aiohttp]"``; asyncio only (under trio the
    first call raises `ConfigurationError`). The SDK does not close an
    ``http_client`` it was given: close it too, or let ``async with`` do it.

    Examples:
        >>> http = DefaultAioHttpClient()
        >>> async with http, AsyncTextFlowClient(http_client=http) as client:
        ...     result = await client.send_sms("+11234567890", "Hello from textflow")
    """

    def __init__(self, **kwargs: Any) -> None:
        try:
            import httpx_aiohttp  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                f"DefaultAioHttpClient needs the aiohttp extra: {INSTALL_HINT}"
            ) from None
        limits = kwargs.pop("limits", _config.DEFAULT_LIMITS)
        verify = kwargs.pop("verify", None)
        if "transport" not in kwargs:
            kwargs["transport"] = AioHttpTransport(
                verify=_config.ssl_context() if verify is None else verify,
                limits=limits,
                cert=kwargs.get("cert"),
                trust_env=kwargs.get("trust_env", True),
            )
        kwargs.setdefault("timeout", _config.DEFAULT_TIMEOUT)
        if kwargs.get("cookies") is None:
            kwargs["cookies"] = Jar()  # skips answers that set no cookie
        super().__init__(limits=limits, **kwargs)
