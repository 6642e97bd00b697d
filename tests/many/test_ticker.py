"""The journals' ticking threads (the lease heartbeat, the Postgres watchdog): they tick
until stopped, and a Ctrl-C at any function entry of their start or stop, in the thread
that calls them (a claim, a journal's close), never leaves a lock held: a later stop
returns and the thread ends."""

from __future__ import annotations

import gc
import sys
import threading
import time
from types import FrameType
from typing import Any, Callable, Optional

from textflow._many._threads import Ticker

GUARD = 30.0  # seconds: a guard against a hang, not a measure


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, raised by the trace function at a chosen function entry."""


def _named(name: str) -> bool:
    return any(thread.name == name for thread in threading.enumerate())


def _gone(name: str) -> bool:
    """Whether the thread ``name`` ended (waited for within the guard)."""
    until = time.monotonic() + GUARD
    while _named(name):
        if time.monotonic() > until:
            return False
        time.sleep(0.01)
    return True


def _in_thread(work: Callable[[], None]) -> bool:
    """Runs ``work`` in a thread of its own: whether it returned within the guard."""
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(GUARD)


def test_it_ticks_until_stopped_then_its_thread_ends() -> None:
    ticks: list[int] = []
    third = threading.Event()

    def tick() -> None:
        ticks.append(1)
        if len(ticks) == 3:
            third.set()

    ticker = Ticker(tick, 0.001, "test-ticker-ticks")
    ticker.start()
    ticker.start()  # (once started, a start does nothing)
    assert third.wait(GUARD)
    ticker.stop()
    assert not _named("test-ticker-ticks")  # the stop waited for the thread's end
    counted = len(ticks)
    ticker.start()  # (stopped: a start does nothing)
    assert not _named("test-ticker-ticks")
    assert len(ticks) == counted


def test_a_tick_that_raises_is_tried_again_and_a_tick_may_stop_its_own_ticker() -> None:
    calls: list[int] = []
    stopped = threading.Event()
    ticker: Optional[Ticker] = None

    def tick() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("the store is away")
        assert ticker is not None
        ticker.stop()  # from its own thread: no wait for itself
        stopped.set()

    ticker = Ticker(tick, 0.001, "test-ticker-raises")
    ticker.start()
    assert stopped.wait(GUARD)
    assert _gone("test-ticker-raises")
    assert len(calls) == 3
    assert _in_thread(ticker.stop)  # a stop after it ended returns


def test_a_stop_that_was_never_started_returns() -> None:
    ticker = Ticker(lambda: None, 3600, "test-ticker-never")
    assert _in_thread(ticker.stop)
    assert not _named("test-ticker-never")


def _interrupted_at(entry: int, work: Callable[[], None]) -> str:
    """Runs ``work`` in a thread of its own, interrupted at its ``entry``-th function entry
    there (from 0): "interrupted", or "finished" if it had fewer; "hung" past the guard."""
    ended: list[str] = []
    counted = [0]

    def tracer(frame: FrameType, event: str, arg: Any) -> Optional[Any]:
        if event == "call":
            counted[0] += 1
            if counted[0] > entry:
                sys.settrace(None)
                raise Interrupted(frame.f_code.co_name)
        return None

    def run() -> None:
        sys.settrace(tracer)  # this thread only: the ticker's own threads are not traced
        try:
            work()
            ended.append("finished")
        except KeyboardInterrupt:
            ended.append("interrupted")
        finally:
            sys.settrace(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD)
    return ended[0] if ended else "hung"


def test_a_ctrl_c_at_any_entry_of_a_start_or_stop_leaves_nothing_held() -> None:
    # no garbage collection in the sweep: a finalizer of an earlier test's object (a trio
    # nursery's __del__) entered in the traced thread would take the interrupt instead
    gc.collect()
    gc.disable()
    try:
        _sweep()
    finally:
        gc.enable()


def _sweep() -> None:
    entry, outcome = 0, "interrupted"
    while outcome == "interrupted":
        name = f"test-ticker-sweep-{entry}"
        ticker = Ticker(lambda: None, 3600, name)

        def start_and_stop(ticker: Ticker = ticker) -> None:
            ticker.start()
            ticker.stop()

        outcome = _interrupted_at(entry, start_and_stop)
        assert outcome != "hung", f"interrupted at function entry {entry}: it hung"
        assert _in_thread(ticker.stop), f"interrupted at function entry {entry}: stop hung"
        assert _gone(name), f"interrupted at function entry {entry}: its thread stayed"
        entry += 1
    assert outcome == "finished"
    assert entry > 5, "the sweep reached too few function entries to mean anything"
