"""Where the sync client differs from the async one: how a call keeps its deadline, how it waits.

``textflow/_async_client.py`` imports the same names from ``textflow._async_io``;
the generated ``textflow/_client.py`` imports them from here (scripts/unasync.py
maps one import to the other), so the two clients stay one source.

Sync calls keep their deadline through a context variable that every connect,
read and write of the SDK's transport reads (``textflow._http.deadline``), and the
read loop checks it between chunks.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Optional

import httpx

from textflow._http.deadline import DEADLINE

if TYPE_CHECKING:
    from contextvars import Token

    from textflow._base_client import Attempts
    from textflow._hooks import CallEvent, Hook

#: What the retry loop waits with: ``sleep(seconds)``.
Sleep = Callable[[float], None]


def sleep(seconds: float) -> None:
    """The retry wait: ``time.sleep``."""
    time.sleep(seconds)


class deadline_scope:  # lower case: used as a function, as its async twin
    """``with deadline_scope(attempts, request, transport):`` the call's deadline holds for
    every I/O step (``transport``: as the async twin's, unused here)."""

    __slots__ = ("_deadline", "_token")

    def __init__(
        self, attempts: Attempts[Any], request: httpx.Request, transport: Any = None
    ) -> None:
        self._deadline = attempts.deadline

    def __enter__(self) -> None:
        self._token: Token[Optional[float]] = DEADLINE.set(self._deadline)

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        DEADLINE.reset(self._token)


def raw_chunks(response: httpx.Response) -> Iterator[bytes]:
    """The answer's raw body as its transport streams it, as the async twin."""
    stream = response.stream
    if isinstance(stream, httpx.SyncByteStream):
        return stream.__iter__()
    return response.iter_raw()  # httpx's own error for a stream that is not sync


def close_chunks(chunks: Iterator[bytes], response: httpx.Response) -> None:
    """Close an answer's chunk reader at once, then its stream, as the async twin."""
    try:
        given: object = response.stream  # the reader itself, for the SDK's connection
        if chunks is not given:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    finally:
        stream = response.stream
        if not response.is_closed and isinstance(stream, httpx.SyncByteStream):
            response.is_closed = True
            stream.close()


def check_deadline(attempts: Attempts[Any], request: httpx.Request) -> None:
    """Between the chunks of an answer: a read timeout once the deadline has passed."""
    attempts.check_deadline(request)


def emit(hook_and_event: tuple[Optional[Hook], CallEvent]) -> None:
    """Call a hook with its event; a hook that raises is logged (the call goes on)."""
    hook, event = hook_and_event
    if hook is None:
        return
    try:
        result = hook(event)
        if inspect.isawaitable(result):  # an async hook the constructor could not tell
            close = getattr(result, "close", None)
            if close is not None:
                close()  # never awaited: no "coroutine was never awaited" warning
            raise TypeError("an async hook on the sync client is never awaited")
    except Exception:
        from textflow._hooks import hook_failed

        hook_failed(hook, event)
