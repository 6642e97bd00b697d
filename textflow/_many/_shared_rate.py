"""A rate limit that all workers share, in Redis: ``max_per_second`` for them together.

The rule of `textflow._many._rate` (a send holds a permit from its start until
its answer; a permit is granted only when, of the permits granted before it,
fewer than ``count`` are held or were given back less than a window ago), kept
in Redis and decided by one Lua script on Redis's own clock, so the workers'
clocks need not agree and no window at the receiver holds more than
``max_per_second`` sends of all the workers together. Starts are also at
least ``1 / max_per_second`` apart. The script answers how long this worker
waits before its start (or before asking again, while others hold every
permit); the worker sleeps that long, sends, and gives the permit back.

A permit not given back within `HOLD` seconds of its start (its worker was
killed) counts as given back then.

Keys: ``textflow:rate:{NAME}:tat``, ``...:held`` and ``...:back:WINDOW``, with
expiries, so an idle limit leaves nothing behind. NAME is the rate-limit URL's
``name=`` (default ``account``): every worker sending for one account uses one
name.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import parse_qs, urlsplit

from textflow._many._lease import OUR_PARAMETERS, shown_url, without_query
from textflow._many._rate import permits
from textflow._many._redis_url import redis_client
from textflow.errors import InputValidationError, JournalError

if TYPE_CHECKING:
    import redis

#: Seconds after its start when a permit never given back counts as given back (a
#: killed worker's): longer than any send lasts (the client's default deadline is 60 s).
HOLD = 300.0

# KEYS: tat, held, then one "back" set per limit; ARGV: interval, hold, permit, then
# (count, window) per limit. "held": permit -> when it counts as given back anyway;
# "back:W": permit -> when it stops counting (given back + W).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limits = #KEYS - 2
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now, 'WITHSCORES')
for j = 1, #expired, 2 do
  redis.call('ZREM', KEYS[2], expired[j])
  for i = 1, limits do
    redis.call('ZADD', KEYS[2 + i], tonumber(expired[j + 1]) + tonumber(ARGV[3 + 2 * i]),
               expired[j])
  end
end
local held = redis.call('ZCARD', KEYS[2])
local start = now
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > start then start = tat end
local longest = 0
for i = 1, limits do
  local count = tonumber(ARGV[2 + 2 * i])
  local window = tonumber(ARGV[3 + 2 * i])
  if window > longest then longest = window end
  if held >= count then
    return {'0', string.format('%.6f', now + window), string.format('%.6f', now)}
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2 + i], '-inf', now)
  local need = count - held
  if redis.call('ZCARD', KEYS[2 + i]) >= need then
    local bound = redis.call('ZREVRANGE', KEYS[2 + i], need - 1, need - 1, 'WITHSCORES')
    if tonumber(bound[2]) > start then start = tonumber(bound[2]) end
  end
end
local hold = tonumber(ARGV[2])
local keep = math.ceil((start - now + hold + longest + 120) * 1000)
redis.call('SET', KEYS[1], string.format('%.6f', start + tonumber(ARGV[1])), 'PX', keep)
redis.call('ZADD', KEYS[2], start + hold, ARGV[3])
for i = 1, #KEYS - 1 do redis.call('PEXPIRE', KEYS[1 + i], keep) end
return {'1', string.format('%.6f', start), string.format('%.6f', now)}
"""

# KEYS: held, then one "back" set per limit; ARGV: permit, then the windows
_GIVE_BACK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREM', KEYS[1], ARGV[1])
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], now + tonumber(ARGV[i]), ARGV[1])
end
return 1
"""

#: What a rate limit's name may be: it ends up in a Redis key.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def limits(
    max_per_second: Optional[float], max_per_minute: Optional[float]
) -> list[tuple[int, float]]:
    """(sends allowed, window seconds) per limit given."""
    found = []
    if max_per_second is not None:
        found.append((permits(max_per_second), 1.0))
    if max_per_minute is not None:
        found.append((permits(max_per_minute), 60.0))
    return found


class SharedRateLimiter:
    """Grants send permits in Redis for every worker on the same name.

    Examples:
        >>> limiter = SharedRateLimiter("redis://127.0.0.1:6379/0", max_per_second=20)
        >>> permit, wait = limiter.take()
        >>> limiter.give_back(permit)  # when the send has its answer
    """

    def __init__(
        self,
        url: str,
        *,
        max_per_second: Optional[float] = None,
        max_per_minute: Optional[float] = None,
        client: Optional[redis.Redis] = None,
        hold: float = HOLD,
    ) -> None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise InputValidationError(
                "rate_limit must be a Redis URL (redis://host:port/db).", argument="rate_limit"
            )
        names = parse_qs(urlsplit(url).query).get("name", ["account"])
        self.name = names[0]
        if not self.name or len(self.name) > 100 or not set(self.name) <= _NAME_CHARS:
            raise InputValidationError(
                "a rate limit's name= is up to 100 letters, digits, '.', '_' or '-'.",
                argument="rate_limit",
            )
        self.url = shown_url(url)
        self._limits = limits(max_per_second, max_per_minute)
        # the spacing of the strictest limit: max_per_second=20 starts sends 50 ms apart
        spacings = [1.0 / max_per_second] if max_per_second else []
        spacings += [60.0 / max_per_minute] if max_per_minute else []
        self._interval = max(spacings, default=0.0)
        prefix = f"textflow:rate:{{{self.name}}}"
        self._take_keys = [f"{prefix}:tat", f"{prefix}:held"]
        self._take_keys += [f"{prefix}:back:{int(w)}" for _, w in self._limits]
        self._back_keys = self._take_keys[1:]
        self._args: list[Any] = [repr(self._interval), repr(hold)]
        self._limit_args: list[Any] = []
        for count, window in self._limits:
            self._limit_args += [count, repr(window)]
        self._windows = [repr(window) for _, window in self._limits]
        self._me = uuid.uuid4().hex[:12]  # permits are this limiter's id and a counter
        self._counter = itertools.count(1)
        self._owned = client is None
        with self._failing_as_journal_error():
            if client is None:
                server = without_query(url, "name", *OUR_PARAMETERS)
                client = redis_client(server, shown=self.url, argument="rate_limit")
            self._redis = client
            self._take = client.register_script(_TAKE)
            self._give_back = client.register_script(_GIVE_BACK)

    @contextlib.contextmanager
    def _failing_as_journal_error(self) -> Iterator[None]:
        try:
            import redis
        except ImportError as exc:
            raise JournalError(
                "A shared rate limit needs the redis package: pip install 'textflowsms[redis]'."
            ) from exc
        try:
            yield
        except redis.RedisError as exc:
            raise JournalError(
                f"The shared rate limit at {self.url} cannot be used: {type(exc).__name__}: {exc}"
            ) from exc

    def book(self) -> tuple[Optional[str], float, float]:
        """(a permit or None, its start or when to ask again, now), on Redis's clock."""
        if not self._limits:
            return None, 0.0, 0.0
        permit = f"{self._me}:{next(self._counter)}"
        with self._failing_as_journal_error():
            granted, start, now = self._take(
                keys=self._take_keys, args=[*self._args, permit, *self._limit_args]
            )
        return (permit if int(granted) else None), float(start), float(now)

    def take(self) -> tuple[Optional[str], float]:
        """A permit and the seconds to wait before sending; or (None, the seconds to wait
        before asking again: the other sends hold every permit)."""
        permit, start, now = self.book()
        return permit, max(0.0, start - now)

    def give_back(self, permit: object) -> None:
        """The send of ``permit`` has its answer (or failed, or never started)."""
        if permit is None or not self._limits:
            return
        with self._failing_as_journal_error():
            self._give_back(keys=self._back_keys, args=[str(permit), *self._windows])

    def close(self) -> None:
        if self._owned:
            with self._failing_as_journal_error():
                self._redis.close()
