"""The fake wired into httpx in-process: ``httpx.MockTransport`` over the shared handler.

No sockets. A ``delay`` longer than the request's read timeout ends in
``httpx.ReadTimeout`` after the timeout, and ``disconnect`` in
``httpx.RemoteProtocolError``, as a real connection to the HTTP server would.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Callable, Optional

import httpx

from textflow.testing._reply import Reply

#: (method, path, lower-cased headers, body) -> Reply; what both the transport and server call.
Handler = Callable[[str, str, Mapping[str, str], bytes], Reply]

_DISCONNECTED = "Server disconnected without sending a response."


def sync_transport(handler: Handler) -> httpx.MockTransport:
    """A transport for ``httpx.Client`` that answers through ``handler``."""

    def handle(request: httpx.Request) -> httpx.Response:
        reply = handler(request.method, request.url.path, _headers(request), request.read())
        wait, timed_out = _wait(reply, request)
        if wait:
            time.sleep(wait)
        return _finish(reply, request, timed_out)

    return httpx.MockTransport(handle)


def async_transport(handler: Handler) -> httpx.MockTransport:
    """A transport for ``httpx.AsyncClient`` (asyncio or trio) that answers through ``handler``."""

    async def handle(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        reply = handler(request.method, request.url.path, _headers(request), body)
        wait, timed_out = _wait(reply, request)
        if wait:
            import anyio  # the SDK's own dependency; sleeps under asyncio and trio alike

            await anyio.sleep(wait)
        return _finish(reply, request, timed_out)

    return httpx.MockTransport(handle)


def _headers(request: httpx.Request) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers.items()}


def _wait(reply: Reply, request: httpx.Request) -> tuple[float, bool]:
    """How long to wait before answering, and whether the read timeout fires first."""
    timeout = request.extensions.get("timeout", {})
    read: Optional[float] = timeout.get("read") if isinstance(timeout, dict) else None
    if reply.delay and read is not None and reply.delay >= read:
        return read, True
    return reply.delay, False


def _finish(reply: Reply, request: httpx.Request, timed_out: bool) -> httpx.Response:
    if timed_out:
        raise httpx.ReadTimeout("timed out", request=request)
    if reply.disconnect:
        raise httpx.RemoteProtocolError(_DISCONNECTED, request=request)
    return httpx.Response(reply.status, headers=list(reply.headers), content=reply.body)
