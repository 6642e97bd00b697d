"""``RedisStore`` and ``AsyncRedisStore``: state in Redis, shared by many machines.

One Lua script per decision (atomic on the server, one round trip): each key
holds a small JSON value and its expiry on the guard's clock (see ``_checks.py``).
Needs the ``redis`` package (``pip install textflowsms[redis]``); the store is handed a client the
app made, so importing this module needs no ``redis``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Optional, Protocol

from textflow.errors import ConfigurationError, GuardStoreError
from textflow.guard._checks import (
    Backoff,
    Check,
    Conversion,
    Limit,
    Put,
    Settle,
    Spend,
    Verified,
    Write,
)
from textflow.guard._redis_script import DECIDE, WRITE
from textflow.guard._store import Denial, Verdict

DEFAULT_PREFIX = "textflow:guard:"


def _check(check: Check) -> dict[str, Any]:
    if isinstance(check, Limit):
        return {"t": "limit", "limit": check.limit, "window": check.window}
    if isinstance(check, Backoff):
        return {
            "t": "backoff",
            "base": check.base,
            "factor": check.factor,
            "cap": check.cap,
            "window": check.window,
        }
    if isinstance(check, Spend):
        return {
            "t": "spend",
            "cap": check.cap,
            "window": check.window,
            "amount": check.amount,
            "member": check.member,
        }
    assert isinstance(check, Conversion)
    return {
        "t": "conversion",
        "min_sends": check.min_sends,
        "min_ratio": check.min_ratio,
        "window": check.window,
        "period": check.period,
    }


def _write(op: Write) -> dict[str, Any]:
    if isinstance(op, Put):
        return {"t": "put", "value": dict(op.value), "ttl": op.ttl}
    if isinstance(op, Settle):
        return {"t": "settle", "member": op.member, "amount": op.amount}
    if isinstance(op, Verified):
        return {"t": "verified", "window": op.window}
    return {"t": type(op).__name__.lower()}


class RedisLike(Protocol):
    """What the stores use of a ``redis.Redis`` / ``redis.asyncio.Redis`` client."""

    def register_script(self, script: str) -> Any: ...


class _RedisBase:
    def __init__(self, redis: RedisLike, prefix: str) -> None:
        if not isinstance(prefix, str):
            raise ConfigurationError(f"prefix must be a str, not {type(prefix).__name__}.")
        self._redis = redis
        self._prefix = prefix
        self._decide = redis.register_script(DECIDE)
        self._write = redis.register_script(WRITE)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self._prefix!r})"

    def _decide_call(
        self, now: float, checks: Sequence[Check], always: bool, read: Optional[str]
    ) -> tuple[list[str], list[str]]:
        keys = [self._prefix + check.key for check in checks]
        if read is not None:
            keys.append(self._prefix + read)
        payload = {
            "now": now,
            "always": int(always),
            "read": int(read is not None),
            "checks": [_check(check) for check in checks],
        }
        return keys, [json.dumps(payload)]

    def _write_call(self, now: float, writes: Sequence[Write]) -> tuple[list[str], list[str]]:
        keys = [self._prefix + op.key for op in writes]
        return keys, [json.dumps({"now": now, "writes": [_write(op) for op in writes]})]

    def _failed(self, exc: Exception) -> GuardStoreError:
        """What the guard raises when Redis fails (down, refusing the script, a bad reply)."""
        return GuardStoreError(f"The guard's Redis store failed: {type(exc).__name__}: {exc}")

    @staticmethod
    def _verdict(reply: Sequence[Any]) -> Verdict:
        pairs = reply[:-1]
        denials = [Denial(int(pairs[i]), float(pairs[i + 1])) for i in range(0, len(pairs), 2)]
        raw = reply[-1]
        record: Optional[Mapping[str, str]] = json.loads(raw) if raw else None
        return Verdict(denials, record)


class RedisStore(_RedisBase):
    """Counts in Redis through a sync ``redis.Redis`` client: for many processes and machines.

    Each decision is one Lua script, atomic on the server. Keys are
    ``prefix`` plus a rule and a keyed hash (never a phone number, code or caller),
    each value carrying its expiry on the guard's clock (Redis's own TTL, a
    minute later, frees the memory). Every guard sharing the store needs the
    same ``secret`` and clocks in step (NTP). On Redis Cluster, put a hash tag
    in the prefix (``"{textflow-guard}:"``) so one script's keys share a slot.

    Args:
        redis: A ``redis.Redis`` client (``pip install textflowsms[redis]``).
        prefix: Put before every key; default ``"textflow:guard:"``.

    Examples:
        >>> import redis
        >>> store = RedisStore(redis.Redis.from_url("redis://localhost:6379/0"))
        >>> guard = VerificationGuard(client, store=store)
    """

    def __init__(self, redis: RedisLike, *, prefix: str = "textflow:guard:") -> None:
        super().__init__(redis, prefix)

    def decide(
        self,
        now: float,
        checks: Sequence[Check],
        *,
        always: bool = False,
        read: Optional[str] = None,
    ) -> Verdict:
        """Check every rule; count the event if all have room (or ``always``)."""
        if not checks and read is None:
            return Verdict()
        keys, args = self._decide_call(now, checks, always, read)
        try:  # any error of the app's client: redis-py is not imported here
            return self._verdict(self._decide(keys=keys, args=args))
        except Exception as exc:
            raise self._failed(exc) from exc

    def write(self, now: float, writes: Sequence[Write]) -> None:
        """Apply ``writes`` atomically."""
        if writes:
            keys, args = self._write_call(now, writes)
            try:
                self._write(keys=keys, args=args)
            except Exception as exc:
                raise self._failed(exc) from exc


class AsyncRedisStore(_RedisBase):
    """`RedisStore` over a ``redis.asyncio.Redis`` client, for `AsyncVerificationGuard`.

    ``redis.asyncio`` runs under asyncio only; under trio, give the async
    guard a `RedisStore` (it is then called from a worker thread).

    Examples:
        >>> import redis.asyncio
        >>> store = AsyncRedisStore(redis.asyncio.Redis.from_url("redis://localhost:6379/0"))
        >>> guard = AsyncVerificationGuard(client, store=store)
    """

    def __init__(self, redis: RedisLike, *, prefix: str = "textflow:guard:") -> None:
        super().__init__(redis, prefix)

    async def decide(
        self,
        now: float,
        checks: Sequence[Check],
        *,
        always: bool = False,
        read: Optional[str] = None,
    ) -> Verdict:
        """Check every rule; count the event if all have room (or ``always``)."""
        if not checks and read is None:
            return Verdict()
        keys, args = self._decide_call(now, checks, always, read)
        try:  # any error of the app's client: redis-py is not imported here
            reply: Awaitable[Sequence[Any]] = self._decide(keys=keys, args=args)
            return self._verdict(await reply)
        except Exception as exc:
            raise self._failed(exc) from exc

    async def write(self, now: float, writes: Sequence[Write]) -> None:
        """Apply ``writes`` atomically."""
        if writes:
            keys, args = self._write_call(now, writes)
            try:
                await self._write(keys=keys, args=args)
            except Exception as exc:
                raise self._failed(exc) from exc
