"""The sync ``send_many``'s sending threads and slots, and the journals' ticking threads
(`Ticker`), safe from Ctrl-C in the caller's thread.

Ctrl-C lands in the caller's thread, where the sync driver dispatches, at the entry of
any Python function it runs among other points. ``threading.Semaphore``,
``ThreadPoolExecutor`` and ``Thread.join`` run Python code under a lock: an interrupt
there could leave the lock held, the sending threads could never give their slot back,
and the run (and Ctrl-C) hung. Here every step the dispatcher takes on this machinery
(take or give a slot, hand a job over, wait for the threads) is one call into a C
``queue.SimpleQueue``: an interrupt lands before or after it, never inside with a lock
held. Sending threads never get an interrupt (Python runs signal handlers in the main
thread only), so their side may be plain Python.

Threads are started lazily, up to ``concurrency``, each taking jobs until it takes the
stop mark (which it puts back for the next one); each is started by a short-lived thread
of its own (``Thread.start`` runs Python code over locks). The wait counts the threads
that said they began too, so it never ends before a thread that took a job finished it.
"""

from __future__ import annotations

import _thread
import contextlib
import contextvars
import threading
from collections.abc import Iterator
from functools import partial
from queue import Empty, SimpleQueue
from typing import Callable, Optional, Union

#: Sending threads' names: ``textflow-send-many_0``, ``textflow-send-many_1``, ...
NAME = "textflow-send-many"
#: A job: what a sending thread runs, in a copy of the dispatcher's context.
Job = Callable[[], object]


def launch(thread: threading.Thread, instead: Callable[[], None]) -> None:
    """Start ``thread`` from a short-lived thread of its own: one C call here, in the
    caller's thread (where Ctrl-C lands). ``Thread.start`` runs Python code over locks: an
    interrupt inside it left the new thread waiting for ever for a lock its start held,
    or (Python 3.13) listed among the threads for ever, never started. If it cannot start
    (no new thread to be had), ``instead`` runs in the short-lived one."""
    _thread.start_new_thread(_start, (thread, instead))


def _start(thread: threading.Thread, instead: Callable[[], None]) -> None:
    try:
        thread.start()
    except BaseException:
        instead()


class Ticker:
    """A daemon thread named ``name`` calling ``tick`` every ``interval`` seconds, from
    `start` until `stop` (a journal's lease heartbeat, the Postgres journal's watchdog).

    Both are called from the caller's thread (a claim, a journal's close), where a Ctrl-C
    can land: the start is `launch`, the stop a C put and a C wait for the thread's end,
    not ``threading.Event.set`` and ``Thread.join``, whose Python code, interrupted at a
    function entry, left a condition's lock held and the close hung. What ``tick`` raises
    is dropped (a failed beat is retried by the next); ``start`` after ``stop`` does
    nothing."""

    def __init__(self, tick: Callable[[], None], interval: float, name: str) -> None:
        self._tick = tick
        self._interval = interval
        self._name = name
        self._stop: SimpleQueue[None] = SimpleQueue()
        self._ended: SimpleQueue[None] = SimpleQueue()
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False
        self._ident: Optional[int] = None  # the thread's, once it runs

    def start(self) -> None:
        with self._lock:
            if not self._started and not self._stopped:
                thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                launch(thread, self._run)
                self._started = True

    def _run(self) -> None:
        self._ident = _thread.get_ident()
        try:
            while True:
                try:
                    self._stop.get(timeout=self._interval)
                except Empty:
                    with contextlib.suppress(Exception):  # the next tick tries again
                        self._tick()
                else:
                    return
        finally:
            self._ended.put(None)

    def stop(self) -> None:
        """Stop the thread and wait for its end (unless called from it)."""
        self._stop.put(None)
        with self._lock:
            started, self._stopped = self._started and not self._stopped, True
        if started and self._ident != _thread.get_ident():
            self._ended.get()


class _Stop:
    """The mark after the last job: a thread that takes it puts it back and ends."""


STOP = _Stop()


class Slots:
    """``count`` tokens: a send holds one from its start to its end."""

    __slots__ = ("_tokens", "release")

    def __init__(self, count: int) -> None:
        self._tokens: SimpleQueue[None] = SimpleQueue()
        for _ in range(count):
            self._tokens.put(None)
        #: A slot goes back: C all the way (a Python function's entry is a place an
        #: interrupt could land with the slot not back yet).
        self.release: Callable[[], None] = partial(self._tokens.put, None)

    def take(self) -> None:
        """Wait for a slot (Ctrl-C ends the wait)."""
        self._tokens.get()

    def take_free(self) -> bool:
        """Take a slot if one is free now."""
        try:
            self._tokens.get_nowait()
        except Empty:
            return False
        return True


class Crew:
    """Up to ``most`` daemon threads running the jobs handed to them, in order.

    Args:
        most: Threads at most (the run's ``concurrency``).
        on_error: Told what escaped a job (its own errors are the job's to record).
    """

    def __init__(self, most: int, on_error: Callable[[BaseException], None]) -> None:
        self._most = most
        self._on_error = on_error
        self._jobs: SimpleQueue[Union[Job, _Stop]] = SimpleQueue()
        self._idle: SimpleQueue[None] = SimpleQueue()  # one per job a thread has run
        self._alive: SimpleQueue[None] = SimpleQueue()  # one per thread that began
        self._ended: SimpleQueue[None] = SimpleQueue()  # one per thread that ended
        self._wake: SimpleQueue[None] = SimpleQueue()  # one per thread that ended, taken
        self._started = 0  # threads whose start returned: each will say it began and ended

    def hand(self, job: Job) -> None:
        """Run ``job`` (in a copy of the caller's context) in a thread: an idle one, or a
        new one while there are fewer than ``most``."""
        self._jobs.put(partial(contextvars.copy_context().run, job))
        try:
            self._idle.get_nowait()
        except Empty:
            if self._started < self._most:
                thread = threading.Thread(
                    target=self._work, name=f"{NAME}_{self._started}", daemon=True
                )
                launch(thread, self._work)
                self._started += 1

    def finish(self) -> None:
        """Wait until every job handed over has ended; a Ctrl-C ends the wait, and a later
        call waits again from where it was (nothing it counts on is lost).

        A job no thread took (its thread's start was interrupted) is run here."""
        self._jobs.put(STOP)
        while True:
            # every thread known to have started, and every thread that said it began
            # (one that took a job said so first), has ended: counted without taking
            # (an interrupt just after a take would lose what it took), woken by a token
            while self._ended.qsize() < max(self._started, self._alive.qsize()):
                self._wake.get()
            left = list(self._left())
            for job in left:
                self._run(job)
            if not left and self._alive.qsize() <= self._ended.qsize():
                return

    def _left(self) -> Iterator[Job]:
        """The jobs still queued (the stop mark stays last)."""
        while True:
            try:
                item = self._jobs.get_nowait()
            except Empty:
                break
            if isinstance(item, _Stop):
                self._jobs.put(STOP)
                break
            yield item

    def _run(self, job: Job) -> None:
        try:
            job()
        except BaseException as exc:  # the job records its own outcome; this is a bug
            self._on_error(exc)

    def _work(self) -> None:
        self._alive.put(None)
        try:
            while True:  # started for a job: idle once it has run it
                item = self._jobs.get()
                if isinstance(item, _Stop):
                    self._jobs.put(STOP)
                    return
                self._run(item)
                self._idle.put(None)
        finally:
            self._ended.put(None)
            self._wake.put(None)
