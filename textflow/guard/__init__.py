"""Guard phone verification against SMS pumping, code guessing and double clicks.

`VerificationGuard` (sync) and `AsyncVerificationGuard` wrap a client's
``send_verification_sms`` and ``verify_code`` in limits (`GuardPolicy`):
a cooldown and a daily cap per number, an hourly cap per caller, allowed and
blocked calling codes, wrong attempts per code, and an hourly budget for the
whole app. A refusal raises `VerificationRefused` before anything is sent.

Counts live in a store: `MemoryStore` (default, one process), `SQLiteStore`
(processes on one machine), `RedisStore` / `AsyncRedisStore` (many machines;
``pip install textflowsms[redis]``). Stores see keyed hashes, never a phone
number.

Examples:
    >>> from textflow import TextFlowClient
    >>> from textflow.guard import VerificationGuard
    >>> guard = VerificationGuard(TextFlowClient())
    >>> guard.send_code("+11234567890", service_name="Acme", client_key="203.0.113.7")
"""

from __future__ import annotations

from textflow.guard._async import AsyncVerificationGuard
from textflow.guard._errors import Reason, VerificationRefused
from textflow.guard._memory import MemoryStore
from textflow.guard._policy import GuardPolicy
from textflow.guard._redis import AsyncRedisStore, RedisStore
from textflow.guard._sqlite import SQLiteStore
from textflow.guard._store import AsyncGuardStore, Denial, GuardStore, Limit
from textflow.guard._sync import VerificationGuard

__all__ = [
    "AsyncGuardStore",
    "AsyncRedisStore",
    "AsyncVerificationGuard",
    "Denial",
    "GuardPolicy",
    "GuardStore",
    "Limit",
    "MemoryStore",
    "Reason",
    "RedisStore",
    "SQLiteStore",
    "VerificationGuard",
    "VerificationRefused",
]
