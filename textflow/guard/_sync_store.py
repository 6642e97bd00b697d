"""The stores a `VerificationGuard` takes: the blocking ones, called directly.

The twin of ``guard/_async_store.py`` (same names; scripts/unasync.py maps one
import to the other). An async store cannot be called without an event loop:
it is refused with a clear error.
"""

from __future__ import annotations

import inspect
from typing import Optional

from textflow.errors import ConfigurationError
from textflow.guard._memory import MemoryStore
from textflow.guard._store import GuardStore

#: The guard of the other kind, for the error that names it.
OTHER_GUARD = "AsyncVerificationGuard"


def guard_store(store: Optional[GuardStore]) -> GuardStore:
    """The store the guard calls: ``store`` (a new `MemoryStore` if None); async stores refused."""
    if store is not None and inspect.iscoroutinefunction(store.decide):
        raise ConfigurationError(
            f"{type(store).__name__} is for AsyncVerificationGuard; "
            "VerificationGuard needs a sync store (MemoryStore, SQLiteStore, RedisStore)."
        )
    return MemoryStore() if store is None else store
