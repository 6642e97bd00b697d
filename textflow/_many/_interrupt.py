"""Ctrl-C during the async ``send_many`` on asyncio: stop as the sync driver does.

Python 3.11+ ``asyncio.run`` answers SIGINT by cancelling the main task, and 3.9
and 3.10 raise KeyboardInterrupt wherever the event loop happens to be: either way
the run was torn down, its report lost, where the sync driver lets the sends in
flight finish and raises `SendManyInterrupted` with the report. While runs are
under way on asyncio in the main thread, one SIGINT handler serves them all
(`CtrlC`): the first Ctrl-C stops every run the sync way (no new sends; those in
flight finish and are recorded); a second one goes to the handler that was there
before (stop at once). A handler of the application's own is left alone.
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


class _Handler:
    """The one SIGINT handler of the runs under way (all on the main thread)."""

    def __init__(self) -> None:
        self.runs: list[CtrlC] = []
        self.previous: Any = None
        self.installed = False

    def __call__(self, signum: int, frame: Optional[FrameType]) -> None:
        waiting = [run for run in self.runs if not run.fired]
        if not waiting:  # a second Ctrl-C: stop at once, as before
            if callable(self.previous):
                self.previous(signum, frame)
            return
        for run in waiting:
            run.fire()

    def add(self, run: CtrlC) -> bool:
        if not self.runs:
            current = signal.getsignal(signal.SIGINT)
            if not _ours_to_take(current):
                return False
            self.previous = current
            signal.signal(signal.SIGINT, self)
            self.installed = True
        elif not self.installed:
            return False
        self.runs.append(run)
        return True

    def remove(self, run: CtrlC) -> None:
        self.runs.remove(run)
        if not self.runs and self.installed:
            self.installed = False
            previous, ours = self.previous, signal.getsignal(signal.SIGINT) is self
            if ours:  # not replaced since by someone else's
                signal.signal(signal.SIGINT, previous)


_HANDLER = _Handler()


class CtrlC:
    """While in use, the first SIGINT calls ``on_interrupt`` on the event loop.

    Args:
        on_interrupt: Stops the run (called on the loop, not in the signal handler).
    """

    def __init__(self, on_interrupt: Callable[[], None]) -> None:
        self._on_interrupt = on_interrupt
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._added = False
        self.fired = False

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is not threading.main_thread():
            return self  # signals reach the main thread only
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio delivers KeyboardInterrupt itself)
            return self
        self._added = _HANDLER.add(self)
        return self

    def fire(self) -> None:
        """In the signal handler: only schedule (as asyncio.run's own handler does)."""
        self.fired = True
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._on_interrupt)

    def __exit__(self, *exc_info: object) -> None:
        if self._added:
            self._added = False
            _HANDLER.remove(self)
