# Generated from textflow/_http/async_connection.py by scripts/unasync.py: do not edit by hand.
"""``SyncConnection``: a direct connection of the SDK's transport, and its answers' bodies.

Generated from the async twin by scripts/unasync.py: edit that one, not this.

What a connection keeps and how its answer is read are in ``textflow._http.connection``
(with what both twins share). The two differ only behind the names of the hand-written
pair ``_http/async_io.py`` and ``_http/sync_io.py``: the async streams are cut at the
call's deadline by the async client's cancel scope, and a close is shielded from it;
the sync streams cut every connect, read and write at ``deadline.DEADLINE`` themselves
(``streams.DeadlineStream``), and the sync ``reached_writing`` refuses a request past
that deadline before reporting it written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from typing import Any, Callable, Optional

import httpx

from textflow._http import h1, net
from textflow._http.connection import ACTIVE, CLOSED, READ, BaseConnection, reading, request_bytes
from textflow._http.convert import Forwarded, httpx_errors
from textflow._http.net import CLOSED_UNWRITTEN
from textflow._http.sent import Point, reached
from textflow._http.sync_io import reached_writing, shielded
from textflow._http.tunnel import Tunnel, answer_head, connecting


class SyncConnection(BaseConnection):
    """A direct connection, over the SDK's own streams."""

    __slots__ = ()

    def send(
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
            body = request.read()
        data = request_bytes(request, body, forwarded)
        timeouts = request.extensions.get("timeout") or {}
        if self.stream is None:
            self.cycles = 0
            self._connect(timeouts.get("connect"))
        elif self.stream.get_extra_info("is_readable"):  # closed, or sent something unasked
            self.close()
            return None
        self._state = ACTIVE
        self.cycles += 1
        try:
            answer = self._exchange(data, request.method == "HEAD", timeouts)
        except BaseException:
            self._close_shielded()
            raise
        return self._response(answer, SyncBody(self, answer, timeouts.get("read"), release))

    def _connect(self, timeout: Optional[float]) -> None:
        scheme, host, _ = self.origin
        tunnel = self.tunnel
        # the origin, or the proxy and then a tunnel through it (still "connecting")
        _, dial_host, dial_port = self.origin if tunnel is None else tunnel.proxy
        stream = self._backend.connect_raw(dial_host.decode("ascii"), dial_port, timeout)
        try:  # whatever ends it (an interrupt at a function's entry too) closes the stream
            if tunnel is not None:
                self._tunnel(stream, tunnel, timeout)
            if scheme == b"https":
                reached(Point.TLS)
                stream = stream.start_tls(self._ssl(), host.decode("ascii"), timeout)
        except BaseException:  # (the SDK's streams close on failure; this is a guard)
            with shielded():
                stream.close()
            raise
        self.stream = stream
        self._opened[self] = None

    def _tunnel(self, stream: Any, tunnel: Tunnel, timeout: Optional[float]) -> None:
        """Asks the proxy on ``stream`` for a tunnel to the origin (``textflow._http.tunnel``);
        ``stream`` is closed if it fails."""
        try:
            with connecting():
                stream.write(tunnel.request(self.origin), timeout)
                answer = h1.Answer(head_request=True)
                while not answer_head(answer, stream.read(READ, timeout)):
                    pass
        except BaseException:
            with shielded():
                stream.close()
            raise

    def _exchange(self, data: bytes, head_request: bool, timeouts: dict[str, Any]) -> h1.Answer:
        """Writes the request, reads the answer's head."""
        stream = self.stream
        if (
            self.cycles == 1
            and stream.get_extra_info("ssl_object") is None
            and stream.get_extra_info("is_readable")
        ):
            # A new connection the server closed already (not over TLS: its socket carries
            # records that are no data, such as session tickets): nothing was written.
            raise net.ConnectError(CLOSED_UNWRITTEN)
        reached_writing(Point.WRITING)
        unwritten: Optional[net.WriteError] = None
        try:
            stream.write(data, timeouts.get("write"))
        except net.WriteError as exc:  # as httpcore does: it may have answered, then closed
            unwritten = exc
        reached(Point.WAITING)
        answer = h1.Answer(head_request)
        read = timeouts.get("read")
        first = True
        try:
            while not answer.head():
                reading(answer, stream.read(READ, read), first)
                first = False
        except (net.ReadError, h1.ProtocolError):
            if unwritten is not None and first:
                raise unwritten from None
            raise
        return answer

    def close(self) -> None:
        self._state = CLOSED
        stream = self.stream
        if stream is not None:
            # Closed before it is let go: an interrupt at a function's entry in the close
            # leaves it this connection's, closed by its next close (or the client's), not
            # by garbage collection.
            stream.close()
            self.stream = None
            self._opened.pop(self, None)

    def _close_shielded(self) -> None:
        with shielded():
            self.close()

    def _ended(self, answer: h1.Answer) -> None:
        if not self._answer_ended(answer):
            self._close_shielded()


class SyncBody(httpx.SyncByteStream):
    """An answer's body, read from its connection; the slot goes back when it is closed."""

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
        self._over = False  # read to its end, and the connection made idle or closed

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        answer = self._answer
        connection = self._connection
        try:
            with httpx_errors():
                while not answer.done:
                    data = answer.body()
                    if data:
                        return data
                    if not answer.done:  # (body() may have just ended it)
                        data = connection.stream.read(READ, self._read)
                        reading(answer, data, False)
        except BaseException:
            self._over = True
            connection._close_shielded()
            raise
        if not self._over:
            self._over = True
            connection._ended(answer)
        raise StopIteration

    def close(self) -> None:
        try:
            if not self._over:
                self._over = True
                if self._answer.done:  # a body that was empty, never iterated
                    self._connection._ended(self._answer)
                else:  # given up before its end: the connection is in mid-answer
                    with suppress(Exception):
                        self._connection._close_shielded()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()
