"""An interrupt (Ctrl-C) at every function entry of the sync ``send_many``'s dispatcher.

Python runs a signal's handler at the entry of a Python function, among other points, and
Ctrl-C reaches the main thread, where the sync driver dispatches. Here one run is
interrupted at each function entry of its dispatching thread in turn (a trace function
raising ``KeyboardInterrupt`` there, where the signal's handler would); after each, that
run must have ended (the sends in flight finished and counted), its sending threads too,
nobody sent twice, and a later run on the same client must send everyone.

Found so: the dispatcher's slots were a ``threading.BoundedSemaphore`` and its threads a
``ThreadPoolExecutor``, both Python code under a condition's lock; an interrupt at the
entry of that condition's ``__exit__`` left the lock held, the sending threads could
never give their slot back, and the interrupted run hung in its wait for them (so did
Ctrl-C): 3 entries of 164 hung. With a SQLite journal, 7 more of 232: its lock was taken
inside a generator's context manager, whose ``__exit__`` an interrupt at its entry skipped.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any, Optional

import pytest

from textflow import SendManyInterrupted, TextFlowClient
from textflow._many._batch import GroupCommit
from textflow.testing import FakeTextFlow

from tests.many.many_support import CREDITS, numbers

GUARD = 30.0  # seconds: a guard against a hang, not a measure
RECIPIENTS = 3
THREADS = "textflow-send-many"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, raised by the trace function at a chosen function entry."""


def _sending_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name.startswith(THREADS)}


def _threads_end(before: set[threading.Thread]) -> bool:
    """The run's sending threads all end (within the guard)."""
    give_up = time.monotonic() + GUARD
    while _sending_threads() - before:
        if time.monotonic() > give_up:
            return False
        time.sleep(0.01)
    return True


def _run_interrupted_at(
    entry: int, client: TextFlowClient, batch: list[str], concurrency: int, journal: Optional[str]
) -> tuple[str, Optional[BaseException]]:
    """Runs ``send_many`` in a thread of its own, interrupted at its ``entry``-th function
    entry of that thread (from 0): ("interrupted", the exception), ("finished", None) (the
    run had fewer entries, or the interrupt landed where Python ignores it), or ("hung",
    None) past the guard, ("raised", what else came out); "short" as first item when the
    trace never fired."""
    ended: list[tuple[str, Optional[BaseException]]] = []
    fired: list[str] = []

    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            counted[0] += 1
            if counted[0] > entry:
                sys.settrace(None)
                fired.append(frame.f_code.co_name)
                raise Interrupted(frame.f_code.co_name)

    counted = [0]

    def run() -> None:
        sys.settrace(tracer)  # this thread only: the sending threads are not traced
        try:
            client.send_many(batch, "Hi", concurrency=concurrency, journal=journal)
            ended.append(("finished" if fired else "short", None))
        except KeyboardInterrupt as exc:
            ended.append(("interrupted", exc))
        except BaseException as exc:  # the interrupt came out as something else
            ended.append(("raised", exc))
        finally:
            sys.settrace(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD)
    return ended[0] if ended else ("hung", None)


# An interrupt landing in a callback Python calls on its own (a weak reference's, as a
# thread object goes) is printed and ignored, as a real Ctrl-C there would be.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(("concurrency", "journaled"), [(1, False), (2, False), (2, True)])
def test_an_interrupt_at_any_entry_of_the_dispatcher_never_hangs_the_run_or_the_client(
    tmp_path: Path, concurrency: int, journaled: bool
) -> None:
    """With a SQLite journal too, a file per run (the dispatcher claims, and gives claims
    back: an interrupt in the journal's lock handling hung the sending threads' records)."""

    def journal(run: int) -> Optional[str]:
        return str(tmp_path / f"run-{run}.db") if journaled else None

    fake = FakeTextFlow(credits=CREDITS)
    before = _sending_threads()
    with fake.client(max_retries=0) as client:
        warm = numbers(RECIPIENTS, start=10**5)  # the lazy imports done
        client.send_many(warm, "Hi", journal=journal(-1))
        outcome, entry = "interrupted", 0
        while outcome != "short":
            batch = numbers(RECIPIENTS, start=entry * RECIPIENTS)
            outcome, error = _run_interrupted_at(entry, client, batch, concurrency, journal(entry))
            assert outcome != "hung", f"interrupted at function entry {entry}: the run hung"
            assert outcome != "raised", f"interrupted at function entry {entry}: {error!r}"
            assert _threads_end(before), f"interrupted at entry {entry}: a thread is left"
            received = Counter(m.phone_number for m in fake.messages)
            assert all(received[number] <= 1 for number in batch), "a recipient sent twice"
            if isinstance(error, SendManyInterrupted):  # the sends in flight are counted
                assert error.report.sent == sum(received[number] for number in batch)
            entry += 1
        assert entry > 50, "the sweep reached too few function entries to mean anything"
        after = client.send_many(numbers(RECIPIENTS, start=10**6), "Hi", concurrency=2)
        assert after.sent == RECIPIENTS
    # what an interrupt left to garbage collection (a journal whose close it skipped at
    # the close's entry) is collected here, not in a later test
    gc.collect()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # (as above)
def test_an_interrupt_at_any_entry_of_a_group_commit_leaves_it_working_for_the_others() -> None:
    """The Redis and Postgres journals' records go through a `GroupCommit`, and the sync
    dispatcher gives claims back through it (a run that stopped): an interrupt there, as
    a ``threading.Condition`` let its lock go, left the lock held, and every sending
    thread's record waited for ever."""
    written: list[int] = []
    commit: GroupCommit[int] = GroupCommit(written.extend)
    entry = 0
    while (where := _interrupted_write(commit, entry)) is not None:
        later: list[str] = []

        def write_later(item: int = -entry, later: list[str] = later) -> None:
            commit.write(item)
            later.append("in")

        thread = threading.Thread(target=write_later)
        thread.start()
        thread.join(GUARD)
        assert later == ["in"], f"interrupted at {where}: a later write hung"
        entry += 1
    assert entry > 5  # (a write has that many function entries: they were all tried)


def _interrupted_write(commit: GroupCommit[int], entry: int) -> Optional[str]:
    """One write, interrupted at its ``entry``-th function entry; where, or None if it
    had fewer entries."""
    counted = [0]
    fired: list[str] = []

    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            counted[0] += 1
            if counted[0] > entry:
                sys.settrace(None)
                fired.append(frame.f_code.co_name)
                raise Interrupted(frame.f_code.co_name)

    sys.settrace(tracer)
    try:
        commit.write(entry)
    except Interrupted:
        pass
    finally:
        sys.settrace(None)
    return fired[0] if fired else None
