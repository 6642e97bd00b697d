"""A deadline on the client's side for calls to a store: a server that stopped answering.

A Postgres server enforces its own ``statement_timeout``, but only while it runs:
a server whose process is stopped (a frozen virtual machine, a disk that hangs)
keeps its connections open, its kernel answers TCP keepalives, and a client
waits for its reply without end. `Watchdog` notes each call's deadline; a
daemon thread shuts down the socket of a call that outlived it, so the call
fails at once (its connection lost) and the next one connects again.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator

from textflow._many._threads import Ticker


class Call:
    """One call being watched: ``cut`` once the watchdog shut its socket down.

    It holds a descriptor of its own on the socket while it runs: should the client
    close its descriptor meanwhile (a connection lost), the number may be reused by
    another socket, never this one's, which stays open until the call ends.
    """

    __slots__ = ("cut", "deadline", "fileno")

    def __init__(self, fileno: int, deadline: float) -> None:
        self.fileno = os.dup(fileno)
        self.deadline = deadline
        self.cut = False


class Watchdog:
    """Shut down the socket of any call lasting longer than ``limit`` seconds."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._calls: set[Call] = set()
        self._lock = threading.Lock()  # held while a socket is cut: its call has not ended
        # started with the first call watched (a C call: `Ticker`), stopped with the journal
        self._ticker = Ticker(self._cut_overdue, min(1.0, limit / 4), "textflow-journal-deadline")

    @contextlib.contextmanager
    def watching(self, fileno: int) -> Iterator[Call]:
        """Watch the call made in this block over the socket ``fileno``."""
        call = Call(fileno, time.monotonic() + self.limit)
        with self._lock:
            self._calls.add(call)
        self._ticker.start()
        try:
            yield call
        finally:
            with self._lock:
                self._calls.discard(call)
            os.close(call.fileno)

    def _cut_overdue(self) -> None:
        now = time.monotonic()
        with self._lock:
            for call in self._calls:
                if call.deadline < now and not call.cut:
                    call.cut = True
                    _shut_down(call.fileno)

    def stop(self) -> None:
        self._ticker.stop()


def _shut_down(fileno: int) -> None:
    """Shut the socket down (its descriptors stay open: their owners close them); a read
    or write waiting on it returns at once."""
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(fileno))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()
