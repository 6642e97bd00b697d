"""Ctrl-C during the async ``send_many`` on asyncio: stop as the sync driver does.

Python 3.11+ ``asyncio.run`` answers SIGINT by cancelling the main task, and 3.9
and 3.10 raise KeyboardInterrupt wherever the event loop happens to be: either way
the run was torn down, its report lost, where the sync driver lets the sends in
flight finish and raises `SendManyInterrupted` with the report. While a run is
under way on asyncio in the main thread, `CtrlC` takes SIGINT: the first one stops
the run the sync way (no new sends; those in flight finish and are recorded); a
second one goes to the handler that was there before (stop at once). A handler of
the application's own is left alone.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import threading
from types import FrameType
from typing import Any, Callable, Optional


def _ours_to_take(handler: Any) -> bool:
    """Python's default (KeyboardInterrupt) or ``asyncio.run``'s own (cancel the task)."""
    if handler is signal.default_int_handler:
        return True
    runner = getattr(asyncio, "Runner", None)  # Python 3.11+: a partial of its _on_sigint
    method = handler.func if isinstance(handler, functools.partial) else handler
    return runner is not None and isinstance(getattr(method, "__self__", None), runner)


class CtrlC:
    """While in use, the first SIGINT calls ``on_interrupt`` on the event loop.

    Args:
        on_interrupt: Stops the run (called on the loop, not in the signal handler).
    """

    def __init__(self, on_interrupt: Callable[[], None]) -> None:
        self._on_interrupt = on_interrupt
        self._previous: Any = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._installed = False
        self._fired = False
        self._done = False

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is not threading.main_thread():
            return self  # signals reach the main thread only
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio delivers KeyboardInterrupt itself)
            return self
        previous = signal.getsignal(signal.SIGINT)
        if not _ours_to_take(previous):
            return self
        self._previous = previous
        signal.signal(signal.SIGINT, self._handle)
        self._installed = True
        return self

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        if self._fired or self._done:  # a second Ctrl-C: stop at once, as before
            if callable(self._previous):
                self._previous(signum, frame)
            return
        self._fired = True
        assert self._loop is not None
        # in a signal handler: only schedule (as asyncio.run's own handler does)
        self._loop.call_soon_threadsafe(self._on_interrupt)

    def __exit__(self, *exc_info: object) -> None:
        self._done = True
        if self._installed and signal.getsignal(signal.SIGINT) == self._handle:
            signal.signal(signal.SIGINT, self._previous)
