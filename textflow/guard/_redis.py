"""``RedisStore`` and ``AsyncRedisStore``: counts in Redis, shared by many machines.

One Lua script per ``acquire`` (atomic on the server): each key is a sorted set
of event times, trimmed to its window, with a TTL of the window. Needs the
``redis`` package (``pip install textflowsms[redis]``); the store is handed a
client the app made, so importing this module needs no ``redis``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any, Optional, Protocol

from textflow.errors import ConfigurationError, GuardStoreError
from textflow.guard._store import Denial, Limit, worst

DEFAULT_PREFIX = "textflow:guard:"

# KEYS: one per limit. ARGV[1]: now, ARGV[2]: this event's member; then for limit i
# (1-based) ARGV[3i]: limit, ARGV[3i+1]: expired-before cutoff, ARGV[3i+2]: TTL in ms.
# Returns {} when every limit had room (the event is then recorded under every key),
# else {index0, blocking event's score, ...} for each full limit (nothing recorded).
ACQUIRE = """
local blocked = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[3 * i + 1])
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    local hit = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    table.insert(blocked, i - 1)
    table.insert(blocked, hit[2])
  end
end
if #blocked > 0 then
  return blocked
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[i], ARGV[3 * i + 2])
end
return blocked
"""


class RedisLike(Protocol):
    """What the stores use of a ``redis.Redis`` / ``redis.asyncio.Redis`` client."""

    def register_script(self, script: str) -> Any: ...

    def delete(self, *names: str) -> Any: ...


class _RedisBase:
    def __init__(self, redis: RedisLike, prefix: str) -> None:
        if not isinstance(prefix, str):
            raise ConfigurationError(f"prefix must be a str, not {type(prefix).__name__}.")
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(ACQUIRE)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self._prefix!r})"

    def _call(self, now: float, limits: Sequence[Limit]) -> tuple[list[str], list[str]]:
        keys = [self._prefix + limit.key for limit in limits]
        args = [repr(now), uuid.uuid4().hex]
        for limit in limits:
            ttl_ms = max(1, math.ceil(limit.window * 1000))
            args += [str(limit.limit), repr(now - limit.window), str(ttl_ms)]
        return keys, args

    def _failed(self, exc: Exception) -> GuardStoreError:
        """What the guard raises when Redis fails (down, refusing the script, a bad reply)."""
        return GuardStoreError(f"The guard's Redis store failed: {type(exc).__name__}: {exc}")

    @staticmethod
    def _denial(now: float, limits: Sequence[Limit], reply: Sequence[Any]) -> Optional[Denial]:
        pairs = [(int(reply[i]), float(reply[i + 1])) for i in range(0, len(reply), 2)]
        return worst(now, limits, pairs)


class RedisStore(_RedisBase):
    """Counts in Redis through a sync ``redis.Redis`` client: for many processes and machines.

    Each ``acquire`` is one Lua script, atomic on the server. Keys are
    ``prefix`` plus a rule and a keyed hash (never a phone number or caller),
    with a TTL of the rule's window. Every guard sharing the store needs the
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

    def acquire(self, now: float, limits: Sequence[Limit]) -> Optional[Denial]:
        """Record one event at ``now`` under every limit's key, or nothing if one is full."""
        keys, args = self._call(now, limits)
        try:  # any error of the app's client: redis-py is not imported here
            return self._denial(now, limits, self._script(keys=keys, args=args))
        except Exception as exc:
            raise self._failed(exc) from exc

    def clear(self, keys: Sequence[str]) -> None:
        """Forget every event under ``keys``."""
        if keys:
            try:
                self._redis.delete(*[self._prefix + key for key in keys])
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

    async def acquire(self, now: float, limits: Sequence[Limit]) -> Optional[Denial]:
        """Record one event at ``now`` under every limit's key, or nothing if one is full."""
        keys, args = self._call(now, limits)
        try:  # any error of the app's client: redis-py is not imported here
            reply: Awaitable[Sequence[Any]] = self._script(keys=keys, args=args)
            return self._denial(now, limits, await reply)
        except Exception as exc:
            raise self._failed(exc) from exc

    async def clear(self, keys: Sequence[str]) -> None:
        """Forget every event under ``keys``."""
        if keys:
            try:
                await self._redis.delete(*[self._prefix + key for key in keys])
            except Exception as exc:
                raise self._failed(exc) from exc
