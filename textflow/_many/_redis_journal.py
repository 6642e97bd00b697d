"""A journal on Redis, shared by any number of workers: ``redis://host:port/db?campaign=NAME``.

Keys (one campaign; the braces keep them in one Redis Cluster slot):

- ``textflow:journal:{NAME}:meta``: ``schema_version`` (marks a textflow journal) and
  ``instance``, a random id given when the campaign is created;
- ``...:status``, ``...:phone``, ``...:owner``, ``...:detail``: hashes by recipient key;
- ``...:claims``: hash, recipient key -> a random id of its open claim, so a claim the
  client sends again (its answer was lost, redis-py retried) is recognised as the same;
- ``...:leases``: sorted set, recipient key -> lease deadline (seconds since the epoch),
  for claims not yet recorded;
- ``...:counts``: hash, status -> recipients;
- ``...:done``: sorted set, recipient key -> when its outcome was recorded.

``claim``, ``record`` and ``renew`` are each one Lua script, so a check and its
write are one step for every worker at once. Each script first checks that the
campaign still has the ``instance`` this worker opened: a Redis that lost its data
(restarted without persistence, flushed, or evicting keys) would otherwise look
like a new campaign and everyone would be sent again; the worker stops with a
`JournalError` instead. A worker that opens the journal afresh cannot tell a lost
campaign from a new one unless its URL names the instance (``&instance=ID``,
what `enqueue_campaign` gives every chunk). On open, a Redis that may evict the
journal's keys is refused, and one without append-only persistence is named in a
warning. Phone numbers are stored (the user's data); the API key never is.

Over 300 lines, yet one module: the three scripts are read beside the Python that
calls them, and the checks on open guard what the scripts assume. Delete a campaign with
``redis-cli --scan --pattern 'textflow:journal:{NAME}:*' | xargs redis-cli del``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional, Union
from urllib.parse import urlsplit

from textflow._many._lease import (
    DEFAULT_LEASE,
    OUR_PARAMETERS,
    Clock,
    Heartbeat,
    campaign_of,
    check_lease,
    instance_of,
    lease_of,
    shown_url,
    without_query,
    worker_id,
)
from textflow._many._outcomes import MAYBE_SENT, REFUSED, SENT
from textflow.errors import InputValidationError, JournalError

if TYPE_CHECKING:
    import redis

SENDING = "sending"
SCHEMA_VERSION = "1"
logger = logging.getLogger("textflow")
_WARNED: set[str] = set()  # Redis servers warned about, once per process
_LOST = "TEXTFLOW_CAMPAIGN_LOST"

# every script's last key is the meta hash and its last argument the instance opened;
# times are Redis's own (TIME), unless a test gives its fake clock's
_SAME_CAMPAIGN = f"""
if redis.call('HGET', KEYS[#KEYS], 'instance') ~= ARGV[#ARGV] then
  return redis.error_reply('{_LOST}')
end
local function clock(given)
  if given ~= '' then return tonumber(given) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

_CLAIM = (
    _SAME_CAMPAIGN
    + """
local now = clock(ARGV[5])
local s = redis.call('HGET', KEYS[1], ARGV[1])
if s then
  if s == 'sending' and redis.call('HGET', KEYS[7], ARGV[1]) == ARGV[7] then
    return 1  -- this very claim, run again by a client that lost its answer
  end
  if s == 'sent' then return 0 end
  if s == 'sending' then
    local d = redis.call('ZSCORE', KEYS[4], ARGV[1])
    if d and tonumber(d) >= now then return 0 end
    if ARGV[6] ~= '1' then return 0 end
  elseif s == 'maybe_sent' and ARGV[6] ~= '1' then return 0 end
  redis.call('HINCRBY', KEYS[5], s, -1)
end
redis.call('HSET', KEYS[1], ARGV[1], 'sending')
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('HDEL', KEYS[6], ARGV[1])
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), ARGV[1])
redis.call('HINCRBY', KEYS[5], 'sending', 1)
redis.call('HSET', KEYS[7], ARGV[1], ARGV[7])
return 1
"""
)

_RECORD = (
    _SAME_CAMPAIGN
    + """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'sending' then return 0 end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], 'sending', -1)
redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
redis.call('ZADD', KEYS[6], clock(ARGV[5]), ARGV[1])
redis.call('HDEL', KEYS[7], ARGV[1])
return 1
"""
)

_RENEW = (
    _SAME_CAMPAIGN
    + """
local n = 0
local deadline = clock(ARGV[3]) + tonumber(ARGV[2])
for i = 4, #ARGV - 1 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == 'sending'
      and redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[3], 'XX', deadline, ARGV[i])
    n = n + 1
  end
end
return n
"""
)


class RedisJournal:
    """A `Journal` on Redis that many workers share; claims are leased.

    Args:
        url: ``redis://[user:password@]host:port/db?campaign=NAME`` (``rediss://`` for TLS).
        lease: Seconds a claim stays ``sending`` without a heartbeat (default: the URL's
            ``lease=``, else 60).
        clock: Seconds since the epoch (tests move a fake one); by default Redis's own
            clock (``TIME``), one clock for every worker whatever theirs say.
        heartbeat: Extend this worker's open claims from a thread (turn off only in tests,
            which call `renew` themselves).

    Raises:
        JournalError: Redis cannot be reached, or the keys are not a textflow journal;
            ``__cause__`` is the client's error. Any later call that fails raises it too,
            and so does every call once the campaign's keys are lost (see above).

    Examples:
        >>> journal = RedisJournal("redis://127.0.0.1:6379/0?campaign=spring")
        >>> report = client.send_many(numbers, text="Hi", journal=journal)
    """

    def __init__(
        self,
        url: str,
        *,
        lease: Optional[float] = None,
        clock: Optional[Clock] = None,
        heartbeat: bool = True,
    ) -> None:
        self.campaign = campaign_of(url)
        self._given_url = url
        self._pinned = instance_of(url)
        self.instance = ""  # the campaign's id, read (or given) on open
        self.url = shown_url(url)
        self._server_url = without_query(url, *OUR_PARAMETERS)  # for a shared rate limit
        self.lease = lease_of(url, DEFAULT_LEASE) if lease is None else check_lease(lease)
        self.owner = worker_id()
        self._clock = clock
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        prefix = f"textflow:journal:{{{self.campaign}}}"
        self._meta = f"{prefix}:meta"
        self._status = f"{prefix}:status"
        self._phone = f"{prefix}:phone"
        self._owner = f"{prefix}:owner"
        self._detail = f"{prefix}:detail"
        self._leases = f"{prefix}:leases"
        self._counts = f"{prefix}:counts"
        self._done = f"{prefix}:done"
        self._claims = f"{prefix}:claims"
        with self._failing_as_journal_error():
            self._redis = self._client(without_query(url, *OUR_PARAMETERS))
            self._claim = self._redis.register_script(_CLAIM)
            self._record = self._redis.register_script(_RECORD)
            self._renew = self._redis.register_script(_RENEW)
            self._open()
        self._heartbeat = Heartbeat(self.renew, self.lease / 3) if heartbeat else None

    def _client(self, server: str) -> redis.Redis:
        """The client for ``server``; a URL redis-py cannot use fails here, before sending."""
        import redis

        try:
            client = redis.Redis.from_url(
                server, decode_responses=True, socket_timeout=10, socket_connect_timeout=5
            )
            pool = client.connection_pool
            pool.connection_class(**pool.connection_kwargs)  # unknown options: not connected
        except (ValueError, TypeError) as exc:
            said = str(exc)
            password = urlsplit(server).password
            if password and password in said:
                said = "an option is not valid"
            raise InputValidationError(
                f"The journal URL {self.url} is not one redis-py accepts: {said}",
                argument="journal",
            ) from None
        return client

    @contextlib.contextmanager
    def _failing_as_journal_error(self) -> Iterator[None]:
        try:
            import redis
        except ImportError as exc:
            raise JournalError(
                "A Redis journal needs the redis package: pip install 'textflowsms[redis]'."
            ) from exc
        try:
            yield
        except redis.RedisError as exc:
            if _LOST in str(exc):
                raise self._lost() from exc
            raise JournalError(
                f"The journal {self.url} cannot be used: {type(exc).__name__}: {exc}"
            ) from exc

    def _lost(self) -> JournalError:
        return JournalError(
            f"The journal {self.url} lost the campaign {self.campaign!r} (instance "
            f"{self._pinned or self.instance}): its keys are gone or were created again, "
            "as after a Redis restarted without persistence, a flush or an eviction. "
            "Nothing more is sent from it, so nobody gets the campaign twice; the "
            "recipients it had recorded are unknown now (see the reports of its runs)."
        )

    def _check_server(self) -> None:
        import redis

        try:
            policy = str(self._redis.info("memory").get("maxmemory_policy", ""))
            persistence = self._redis.info("persistence")
        except redis.ResponseError:  # INFO not allowed to this user: nothing to check
            return
        if policy.startswith("allkeys-"):
            raise JournalError(
                f"The journal {self.url} is on a Redis whose maxmemory-policy is {policy}: "
                "it may evict the journal's keys, and their recipients would be sent again. "
                "Use noeviction (or a volatile-* policy) for the journal's Redis."
            )
        if not persistence.get("aof_enabled") and self._server_url not in _WARNED:
            _WARNED.add(self._server_url)
            logger.warning(
                "The journal %s is on a Redis without append-only persistence: if Redis "
                "restarts, the claims written since its last snapshot are lost and their "
                "recipients can be sent again. Use appendonly yes (appendfsync always).",
                self.url,
            )

    def _open(self) -> None:
        self._check_server()
        version, instance = self._redis.hmget(self._meta, ["schema_version", "instance"])
        if version is None and self._pinned is not None:
            raise self._lost()
        if version is None or instance is None:
            pipe = self._redis.pipeline(transaction=True)
            pipe.hsetnx(self._meta, "schema_version", SCHEMA_VERSION)
            pipe.hsetnx(self._meta, "instance", uuid.uuid4().hex)
            pipe.hmget(self._meta, ["schema_version", "instance"])
            version, instance = pipe.execute()[-1]
        if version != SCHEMA_VERSION:
            raise JournalError(
                f"The journal {self.url} is not a textflow journal of schema "
                f"{SCHEMA_VERSION} (found {version!r})."
            )
        if self._pinned is not None and instance != self._pinned:
            raise self._lost()
        self.instance = str(instance)

    def _given_now(self) -> str:
        """The fake clock's time for a script; empty: the script reads Redis's clock."""
        return "" if self._clock is None else repr(self._clock())

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        seconds, micro = self._redis.time()
        return float(seconds) + micro / 1e6

    def pinned_url(self) -> str:
        """This journal's URL naming its campaign's instance (``&instance=ID``): a worker
        opening it finds this very campaign or stops with a `JournalError`, where a
        Redis that lost its data would otherwise look like a new campaign.

        Examples:
            >>> RedisJournal("redis://127.0.0.1:6379/0?campaign=spring").pinned_url()
            'redis://127.0.0.1:6379/0?campaign=spring&instance=4f1c...'
        """
        url = without_query(self._given_url, "instance")
        return f"{url}&instance={self.instance}"

    def state(self, key: str) -> Optional[str]:
        """The recipient's status (an expired claim reads ``maybe_sent``), or None.

        Examples:
            >>> journal.state(message_key("+11234567890", "Hi"))
            'sent'
        """
        with self._failing_as_journal_error():
            pipe = self._redis.pipeline(transaction=True)
            pipe.hget(self._status, key)
            pipe.zscore(self._leases, key)
            pipe.hget(self._meta, "instance")
            pipe.time()
            status, deadline, instance, (seconds, micro) = pipe.execute()
        if instance != self.instance:
            raise self._lost()
        now = seconds + micro / 1e6 if self._clock is None else self._clock()
        if status == SENDING and deadline is not None and float(deadline) < now:
            return MAYBE_SENT
        return None if status is None else str(status)

    def claim(self, key: str, phone_number: str, *, resend_maybe_sent: bool) -> bool:
        """Mark the recipient ``sending`` under this worker's lease unless it is done.

        Examples:
            >>> journal.claim(key, "+11234567890", resend_maybe_sent=False)
            True
        """
        keys = [self._status, self._phone, self._owner, self._leases, self._counts, self._detail]
        keys += [self._claims, self._meta]
        args: list[Union[str, float]] = [
            key,
            phone_number,
            self.owner,
            self.lease,
            self._given_now(),
            int(resend_maybe_sent),
            uuid.uuid4().hex,  # this claim, should the client send it twice
            self.instance,
        ]
        with self._failing_as_journal_error():
            claimed = bool(self._claim(keys=keys, args=args))
        if claimed:
            with self._held_lock:
                self._held.add(key)
            if self._heartbeat is not None:
                self._heartbeat.start()
        return claimed

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        """Store the outcome of a recipient this worker claimed (ignored if it is not ours).

        Examples:
            >>> journal.record(key, "sent", "Message sent successfully")
        """
        if status not in (SENT, MAYBE_SENT, REFUSED):
            raise ValueError(f"cannot record the status {status!r}.")
        keys = [self._status, self._owner, self._leases, self._counts, self._detail, self._done]
        keys += [self._claims, self._meta]
        args: list[Union[str, float]] = [key, self.owner, status, detail or "", self._given_now()]
        args.append(self.instance)
        try:
            with self._failing_as_journal_error():
                self._record(keys=keys, args=args)
        finally:  # written or not, this worker is done with it: its lease may run out
            with self._held_lock:
                self._held.discard(key)

    def renew(self) -> None:
        """Move the deadlines of this worker's open claims to ``lease`` seconds from now.

        Examples:
            >>> journal.renew()
        """
        with self._held_lock:
            held = list(self._held)
        if not held:
            return
        with self._failing_as_journal_error():
            for start in range(0, len(held), 500):
                args: list[Union[str, float]] = [self.owner, self.lease, self._given_now()]
                args += [*held[start : start + 500], self.instance]
                keys = [self._status, self._owner, self._leases, self._meta]
                self._renew(keys=keys, args=args)

    def counts(self) -> dict[str, int]:
        """Recipients by status; claims whose lease expired count as ``maybe_sent``.

        Examples:
            >>> journal.counts()
            {'maybe_sent': 2, 'sent': 9998}
        """
        with self._failing_as_journal_error():
            now = self._now()
            pipe = self._redis.pipeline(transaction=True)
            pipe.hgetall(self._counts)
            pipe.zcount(self._leases, "-inf", f"({now!r}")
            pipe.hget(self._meta, "instance")
            raw, expired, instance = pipe.execute()
        if instance != self.instance:
            raise self._lost()
        totals: dict[str, Any] = {status: int(count) for status, count in raw.items()}
        if expired:
            totals[SENDING] = totals.get(SENDING, 0) - int(expired)
            totals[MAYBE_SENT] = totals.get(MAYBE_SENT, 0) + int(expired)
        return {status: count for status, count in sorted(totals.items()) if count > 0}

    def recorded_since(self, when: float) -> int:
        """Recipients whose outcome was recorded at ``when`` (seconds since the epoch) or later.

        Examples:
            >>> journal.recorded_since(time.time() - 60)
            1200
        """
        with self._failing_as_journal_error():
            count: Any = self._redis.zcount(self._done, repr(when), "+inf")  # sync client: an int
            return int(count)

    def rate_limit_url(self) -> str:
        """This journal's Redis, for a rate limit all its workers share.

        Examples:
            >>> RedisJournal("redis://127.0.0.1:6379/0?campaign=spring").rate_limit_url()
            'redis://127.0.0.1:6379/0'
        """
        return self._server_url

    def close(self) -> None:
        """Stop the heartbeat and the connection pool (claims left open expire).

        Examples:
            >>> journal.close()
        """
        if self._heartbeat is not None:
            self._heartbeat.stop()
        with self._failing_as_journal_error():
            self._redis.close()

    def __enter__(self) -> RedisJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RedisJournal({self.url!r})"
