"""The sync transport's gate: as many requests inside as there are connections.

Not ``threading.Semaphore``: it runs Python code under its condition's lock, and a signal's
handler that raises there (Ctrl-C's ``KeyboardInterrupt``, a soft time limit) as the lock
is let go leaves it held for ever: every later request of the client, in any thread,
waits on it, past its pool timeout. Here the slots are tokens in a
``queue.SimpleQueue`` (written in C): a slot is taken or given back in one call, and an
interrupt lands before or after it, never inside. One that lands just after a take, before
the caller's ``try``, loses that one slot, as it would have lost it with a semaphore.
"""

from __future__ import annotations

from functools import partial
from queue import Empty, SimpleQueue
from typing import Callable, Optional


class SyncGate:
    """``slots`` requests at a time; the others wait for a slot (in no set order)."""

    __slots__ = ("_tokens", "release")

    def __init__(self, slots: int) -> None:
        self._tokens: SimpleQueue[None] = SimpleQueue()
        for _ in range(slots):
            self._tokens.put(None)
        #: A slot goes back: C all the way (no Python function, whose entry an interrupt
        #: could land at with the slot not back yet).
        self.release: Callable[[], None] = partial(self._tokens.put, None)

    @property
    def free(self) -> int:
        """How many slots are free."""
        return self._tokens.qsize()

    def acquire(self, blocking: bool = True, timeout: Optional[float] = None) -> bool:
        """Take a slot, waiting at most ``timeout`` seconds (``None``: until one comes) if
        ``blocking``; False if none came."""
        if timeout is not None and timeout < 0:  # (as a semaphore: none came)
            timeout = 0
        try:
            self._tokens.get(blocking, timeout)
        except Empty:
            return False
        return True
