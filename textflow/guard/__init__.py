"""Guard phone verification against SMS pumping, code guessing and double clicks.

`VerificationGuard` (sync) and `AsyncVerificationGuard` wrap a client's
``send_verification_sms`` and ``verify_code`` in limits (`GuardPolicy`): a
growing cooldown and a daily cap per number, an hourly cap per caller, codes
per prefix and per country (`Velocity`), suspension of prefixes and countries
whose codes are rarely verified (`ConversionRule`), a spend cap, allowed and
blocked calling codes, a safelist and a blocklist, wrong attempts per code,
and codes bound to a session (only the latest code valid). A refusal raises
`VerificationRefused` before anything is sent; every decision is a `Decision`
(``on_decision``, ``stats()``); ``mode="monitor"`` only reports.

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

from textflow.errors import Reason, VerificationRefused
from textflow.guard._async import AsyncVerificationGuard
from textflow.guard._decision import Decision
from textflow.guard._memory import MemoryStore
from textflow.guard._policy import ConversionRule, GuardPolicy, Velocity
from textflow.guard._redis import AsyncRedisStore, RedisStore
from textflow.guard._sqlite import SQLiteStore
from textflow.guard._store import AsyncGuardStore, Denial, GuardStore, Limit
from textflow.guard._sync import VerificationGuard

__all__ = [
    "AsyncGuardStore",
    "AsyncRedisStore",
    "AsyncVerificationGuard",
    "ConversionRule",
    "Decision",
    "Denial",
    "GuardPolicy",
    "GuardStore",
    "Limit",
    "MemoryStore",
    "Reason",
    "RedisStore",
    "SQLiteStore",
    "Velocity",
    "VerificationGuard",
    "VerificationRefused",
]
