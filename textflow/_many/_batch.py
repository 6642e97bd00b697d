"""Group commit: the records of sends that end together are written in one round trip.

Each caller of `GroupCommit.write` waits until its own item is written (so a
recipient is reported only once its outcome is stored, as before); whoever
finds no write under way writes everything queued so far, the others wait for
it. One sender alone writes at once; twenty answers arriving together share
one round trip to Redis or Postgres; so do the records one caller hands over at
once (`GroupCommit.write_many`, the async driver's sends that ended together).
No thread of its own, no timer.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from queue import Empty, SimpleQueue
from typing import Callable, Generic, Optional, TypeVar

T = TypeVar("T")


class Ticket(Generic[T]):
    """One item waiting to be written in a batch: written yet, and what its batch raised."""

    __slots__ = ("done", "error", "item")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.error: Optional[BaseException] = None


class GroupCommit(Generic[T]):
    """Write items in batches through ``write_batch``; `write` returns once its item is in.

    Safe from Ctrl-C in the caller's thread (the sync ``send_many`` gives claims back from
    there): the lock is a C lock taken and let go by ``with`` (not a
    ``threading.Condition``, whose Python ``__exit__``, interrupted at its entry, left it
    held, and every sending thread's record waited for ever), and a waiter waits on a C
    ``SimpleQueue`` of its own, rung when the write under way ends. One that a Ctrl-C
    kept from being rung looks again after `LOOK_AGAIN` seconds."""

    #: Seconds a waiter waits for its ring before it looks again (a ring is lost only
    #: when a Ctrl-C lands in the writer between two rings).
    LOOK_AGAIN = 1.0

    def __init__(self, write_batch: Callable[[Sequence[T]], None], *, most: int = 500) -> None:
        self._write_batch = write_batch
        self._most = most
        self._lock = threading.Lock()
        self._queued: list[Ticket[T]] = []
        self._writing = False
        self._waiting: list[SimpleQueue[None]] = []  # the bells of those waiting for a write

    def write(self, item: T) -> None:
        """Store ``item`` (with whatever else is queued); raise what the write raised."""
        self.write_many([item])

    def write_many(self, items: Sequence[T]) -> None:
        """Store ``items`` (with whatever else is queued), returning once all are in; raise
        what a write of any of them raised."""
        tickets = [Ticket(item) for item in items]
        bell: SimpleQueue[None] = SimpleQueue()
        with self._lock:
            self._queued.extend(tickets)
        while True:
            with self._lock:
                if all(ticket.done for ticket in tickets):
                    break
                wait = self._writing
                if wait:
                    self._waiting.append(bell)
                else:
                    self._writing = True
                    batch, self._queued = self._queued[: self._most], self._queued[self._most :]
            if wait:
                with contextlib.suppress(Empty):
                    bell.get(timeout=self.LOOK_AGAIN)
                continue
            error: Optional[BaseException] = None
            try:
                self._write_batch([queued.item for queued in batch])
            except BaseException as exc:  # each waiter raises it: its outcome is not stored
                error = exc
            finally:
                with self._lock:
                    self._writing = False
                    for queued in batch:
                        queued.done, queued.error = True, error
                    waiting, self._waiting = self._waiting, []
                for ring in waiting:
                    ring.put(None)
        for ticket in tickets:
            if ticket.error is not None:
                raise ticket.error
