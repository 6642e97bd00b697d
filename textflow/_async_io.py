"""Where the async client differs from the sync one: how a call keeps its deadline, how it waits.

The twin of ``textflow._sync_io`` (same names, same shapes; scripts/unasync.py
maps one import to the other). Async calls keep their deadline with an anyio
cancel scope, which cuts any await, so the read loop has nothing to check; under
trio a call that only the SDK's own connection carries keeps it as the sync client
does instead (see `deadline_scope`).

anyio is imported inside the functions, on the first call: ``import textflow``
and sync apps never load it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Optional

import httpx

from textflow._http.deadline import DEADLINE

if TYPE_CHECKING:
    from contextvars import Token

    from textflow._base_client import Attempts
    from textflow._hooks import CallEvent, Hook
    from textflow._http.timers import Keeper

#: What the retry loop waits with: ``await sleep(seconds)``.
Sleep = Callable[[float], Awaitable[None]]


async def sleep(seconds: float) -> None:
    """The retry wait: ``anyio.sleep``."""
    import anyio

    await anyio.sleep(seconds)


class deadline_scope:  # lower case: used as a function, as its sync twin
    """``with deadline_scope(attempts, request, transport):`` the call's deadline cuts any
    await in it.

    A call cut by the deadline raises the SDK's timeout error (``Attempts.deadline_error``).
    The scope has no timer of its own: one per event loop cancels it
    (``textflow._http.timers``), so a loop that never yields keeps nothing per call.

    ``transport``: the SDK's own transport, when nothing but it awaits in the call (no
    hook). Under trio, if it carries the request on the SDK's own connection
    (``carries``), the call has no cancel scope (trio's costs ~4 µs a call): its deadline
    is set in ``deadline.DEADLINE``, as the sync client sets it, and every wait of that
    connection (the gate, connect, TLS, write, read: ``textflow._http.trio_stream``)
    ends by it, raising a timeout that says so (``textflow._http.net``); the retry loop
    turns that into the SDK's error as for any timeout, and no retry starts after the
    deadline.
    """

    __slots__ = (
        "_attempts",
        "_expired",
        "_keeper",
        "_request",
        "_scope",
        "_token",
        "_transport",
        "deadline",
    )

    def __init__(
        self, attempts: Attempts[Any], request: httpx.Request, transport: Any = None
    ) -> None:
        self._attempts = attempts
        self._request = request
        self._transport = transport

    def __enter__(self) -> None:
        import textflow._http.timers  # (not ``from ... import``: one lookup fewer per call)

        self._expired = False
        #: The loop's keeper once its timer holds this call (`timers.Keeper.add`).
        self._keeper: Optional[Keeper] = None
        left = self._attempts.remaining()
        if left is not None and left > 0:
            keeper = textflow._http.timers.keeper()
            transport = self._transport
            if keeper.trio and transport is not None and transport.carries(self._request):
                self._scope: Any = None  # the waits of the SDK's connection keep the deadline
                self._token: Token[Optional[float]] = DEADLINE.set(self._attempts.deadline)
                return
            self._scope = keeper.cancel_scope()
            self._scope.__enter__()
            self.deadline = keeper.now() + left
            keeper.add(self)
            self._keeper = keeper
            return
        import anyio

        self._scope = anyio.CancelScope()
        self._scope.__enter__()
        if left is not None:  # already late: cut now, no timer (the loop may have none yet)
            self.expire()

    def expire(self) -> None:
        """The deadline passed: every await in the scope raises, and so does its end."""
        self._expired = True
        self._scope.cancel()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> Optional[bool]:
        if self._scope is None:
            DEADLINE.reset(self._token)
            return None
        if self._keeper is not None:
            self._keeper.remove(self)
        suppressed: Optional[bool] = self._scope.__exit__(exc_type, exc, tb)
        if self._expired and self._scope.cancelled_caught:
            raise self._attempts.deadline_error(self._request) from None
        if isinstance(exc, TimeoutError) and not suppressed:
            raise self._attempts.deadline_error(self._request) from None
        return suppressed


def raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The answer's raw body as its transport streams it: ``aiter_raw`` without its
    re-chunking and a context manager per step (~40 function calls of a send).
    A transport's exception while reading has no request on it: the client adds it."""
    stream = response.stream
    if isinstance(stream, httpx.AsyncByteStream):
        return stream.__aiter__()
    return response.aiter_raw()  # httpx's own error for a stream that is not async


async def close_chunks(chunks: AsyncIterator[bytes], response: httpx.Response) -> None:
    """Close an answer's chunk reader at once, even when it was left before its end (trio
    warns about an async generator left to garbage collection), then its stream, as
    ``response.aclose()`` does (without a context manager per call)."""
    try:
        given: object = response.stream  # the reader itself, for the SDK's connection
        if chunks is not given:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
    finally:
        stream = response.stream
        if not response.is_closed and isinstance(stream, httpx.AsyncByteStream):
            response.is_closed = True
            await stream.aclose()


def check_deadline(attempts: Attempts[Any], request: httpx.Request) -> None:
    """Nothing to do: the cancel scope of `deadline_scope` cuts a read that runs late (or,
    under trio without one, each read of the SDK's connection ends by the deadline)."""


async def emit(hook_and_event: tuple[Optional[Hook], CallEvent]) -> None:
    """Call a hook with its event, awaiting it if it is async; a hook that raises is logged."""
    hook, event = hook_and_event
    if hook is None:
        return
    try:
        result = hook(event)
        if inspect.isawaitable(result):
            await result
    except Exception:
        from textflow._hooks import hook_failed

        hook_failed(hook, event)
