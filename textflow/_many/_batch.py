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

import threading
from collections.abc import Sequence
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
    """Write items in batches through ``write_batch``; `write` returns once its item is in."""

    def __init__(self, write_batch: Callable[[Sequence[T]], None], *, most: int = 500) -> None:
        self._write_batch = write_batch
        self._most = most
        self._ready = threading.Condition()
        self._queued: list[Ticket[T]] = []
        self._writing = False

    def write(self, item: T) -> None:
        """Store ``item`` (with whatever else is queued); raise what the write raised."""
        self.write_many([item])

    def write_many(self, items: Sequence[T]) -> None:
        """Store ``items`` (with whatever else is queued), returning once all are in; raise
        what a write of any of them raised."""
        tickets = [Ticket(item) for item in items]
        with self._ready:
            self._queued.extend(tickets)
            while not all(ticket.done for ticket in tickets):
                if self._writing:
                    self._ready.wait()
                    continue
                self._writing = True
                batch, self._queued = self._queued[: self._most], self._queued[self._most :]
                error: Optional[BaseException] = None
                self._ready.release()
                try:
                    self._write_batch([queued.item for queued in batch])
                except BaseException as exc:  # each waiter raises it: its outcome is not stored
                    error = exc
                finally:
                    self._ready.acquire()
                    for queued in batch:
                        queued.done, queued.error = True, error
                    self._writing = False
                    self._ready.notify_all()
        for ticket in tickets:
            if ticket.error is not None:
                raise ticket.error
