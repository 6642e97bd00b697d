"""A rate limit that all workers share, in Redis: ``max_per_second`` for them together.

One Lua script books each start, on Redis's own clock (so the workers' clocks
need not agree): starts are at least ``1 / max_per_second`` apart (a GCRA with
no burst: the theoretical arrival time is the next free start), and the last
``max_per_second`` starts (and ``max_per_minute``) are kept, so that no
one-second (one-minute) window holds more. The script answers how long this
worker waits before its start; the worker sleeps that long, then sends.

Keys: ``textflow:rate:{NAME}:tat`` and ``...:log:WINDOW``, with expiries, so an
idle limit leaves nothing behind. NAME is the rate-limit URL's ``name=``
(default ``account``): every worker sending for one account uses one name.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import parse_qs, urlsplit

from textflow._many._lease import shown_url, without_query
from textflow.errors import InputValidationError, JournalError

if TYPE_CHECKING:
    import redis

_BOOK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local start = now
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > start then start = tat end
for i = 2, #KEYS do
  local count = tonumber(ARGV[2 * i - 2])
  local window = tonumber(ARGV[2 * i - 1])
  local n = redis.call('ZCARD', KEYS[i])
  if n >= count then
    local oldest = redis.call('ZRANGE', KEYS[i], n - count, n - count, 'WITHSCORES')
    local bound = tonumber(oldest[2]) + window
    if bound > start then start = bound end
  end
end
local keep = math.ceil((start - now + 120) * 1000)
redis.call('SET', KEYS[1], string.format('%.6f', start + tonumber(ARGV[1])), 'PX', keep)
for i = 2, #KEYS do
  local count = tonumber(ARGV[2 * i - 2])
  redis.call('ZADD', KEYS[i], start, string.format('%.6f', start))
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(count + 1))
  redis.call('PEXPIRE', KEYS[i], keep)
end
return {string.format('%.6f', start), string.format('%.6f', now)}
"""

#: What a rate limit's name may be: it ends up in a Redis key.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def limits(
    max_per_second: Optional[float], max_per_minute: Optional[float]
) -> list[tuple[int, float]]:
    """(starts allowed, window seconds) per limit given."""
    found = []
    if max_per_second is not None:
        found.append((max(1, math.floor(max_per_second)), 1.0))
    if max_per_minute is not None:
        found.append((max(1, math.floor(max_per_minute)), 60.0))
    return found


class SharedRateLimiter:
    """Books send starts in Redis for every worker on the same name.

    Examples:
        >>> limiter = SharedRateLimiter("redis://127.0.0.1:6379/0", max_per_second=20)
        >>> limiter.wait()
        0.0
    """

    def __init__(
        self,
        url: str,
        *,
        max_per_second: Optional[float] = None,
        max_per_minute: Optional[float] = None,
        client: Optional[redis.Redis] = None,
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
        rates = [window / count for count, window in self._limits]
        self._interval = max(rates) if rates else 0.0
        prefix = f"textflow:rate:{{{self.name}}}"
        self._keys = [f"{prefix}:tat"] + [f"{prefix}:log:{int(w)}" for _, w in self._limits]
        self._args: list[Any] = [repr(self._interval)]
        for count, window in self._limits:
            self._args += [count, repr(window)]
        self._owned = client is None
        with self._failing_as_journal_error():
            if client is None:
                import redis

                client = redis.Redis.from_url(
                    without_query(url, "name", "campaign"),
                    socket_timeout=10,
                    socket_connect_timeout=5,
                )
            self._redis = client
            self._book = client.register_script(_BOOK)

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

    def book(self) -> tuple[float, float]:
        """Book the next start: (the start, now), in seconds on Redis's clock."""
        if not self._limits:
            return 0.0, 0.0
        with self._failing_as_journal_error():
            start, now = self._book(keys=self._keys, args=self._args)
        return float(start), float(now)

    def wait(self) -> float:
        """Book the next start for this worker; the seconds to wait before it."""
        start, now = self.book()
        return max(0.0, start - now)

    def close(self) -> None:
        if self._owned:
            with self._failing_as_journal_error():
                self._redis.close()
