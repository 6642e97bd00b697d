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

``claim_many`` (a batch; ``claim`` is a batch of one), ``record`` and ``renew``
are each one Lua script, so a check and its write are one step for every worker
at once; the records of sends that end together share one call (`GroupCommit`).
Each script first checks that the campaign still has the ``instance`` this worker
opened: a Redis that lost its data (restarted without persistence, flushed, or
evicting keys) would otherwise look like a new campaign and everyone would be sent
again; the worker stops with a `JournalError` instead. A worker that opens the
journal afresh cannot tell a lost campaign from a new one unless its URL names the
instance (``&instance=ID``, what `enqueue_campaign` gives every chunk). On open, a
Redis that may evict the journal's keys is refused, and one without append-only
persistence is named in a warning. Phone numbers are stored (the user's data); the
API key never is.

Over 300 lines, yet one module: the scripts are read beside the Python that calls
them, and the checks on open guard what the scripts assume. Delete a campaign with
``redis-cli --scan --pattern 'textflow:journal:{NAME}:*' | xargs redis-cli del``.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Optional, Union

from textflow._many._batch import GroupCommit
from textflow._many._lease import (
    DEFAULT_LEASE,
    OUR_PARAMETERS,
    Clock,
    Held,
    campaign_of,
    check_lease,
    instance_of,
    lease_heartbeat,
    lease_of,
    shown_url,
    without_query,
    worker_id,
)
from textflow._many._outcomes import MAYBE_SENT, REFUSED, SENT
from textflow._many._redis_url import redis_client
from textflow.errors import JournalError

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

# the claims of a batch in one step: ARGV owner, lease, given time, resend, the batch's
# claim id, then key, phone pairs, then the instance; answers per key '' (claimed) or the
# status that kept it (as `state` reads it). A key 'sending' under this very claim id was
# claimed by this batch, run again by a client that lost its answer: claimed.
_CLAIM_MANY = (
    _SAME_CAMPAIGN
    + """
local now = clock(ARGV[3])
local answers = {}
local this_run = {}  -- a key twice in one batch: claimed once
for i = 6, #ARGV - 1, 2 do
  local key = ARGV[i]
  local s = redis.call('HGET', KEYS[1], key)
  local kept = false
  if this_run[key] then
    kept = 'sending'
  elseif s then
    if s == 'sending' and redis.call('HGET', KEYS[7], key) == ARGV[5] then
      kept = ''
    elseif s == 'sent' then kept = 'sent'
    elseif s == 'sending' then
      local d = redis.call('ZSCORE', KEYS[4], key)
      if d and tonumber(d) >= now then kept = 'sending'
      elseif ARGV[4] ~= '1' then kept = 'maybe_sent' end
    elseif s == 'maybe_sent' and ARGV[4] ~= '1' then kept = 'maybe_sent' end
  end
  if kept then
    answers[#answers + 1] = kept
  else
    if s then redis.call('HINCRBY', KEYS[5], s, -1) end
    redis.call('HSET', KEYS[1], key, 'sending')
    redis.call('HSET', KEYS[2], key, ARGV[i + 1])
    redis.call('HSET', KEYS[3], key, ARGV[1])
    redis.call('HDEL', KEYS[6], key)
    redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), key)
    redis.call('HINCRBY', KEYS[5], 'sending', 1)
    redis.call('HSET', KEYS[7], key, ARGV[5])
    answers[#answers + 1] = ''
  end
  this_run[key] = true
end
return answers
"""
)

# many records in one step: ARGV owner, given time, then key, status, detail per record,
# then the instance
_RECORD_MANY = (
    _SAME_CAMPAIGN
    + """
local now = clock(ARGV[2])
for i = 3, #ARGV - 1, 3 do
  local key = ARGV[i]
  if redis.call('HGET', KEYS[1], key) == 'sending'
      and redis.call('HGET', KEYS[2], key) == ARGV[1] then
    redis.call('HSET', KEYS[1], key, ARGV[i + 1])
    redis.call('HSET', KEYS[5], key, ARGV[i + 2])
    redis.call('ZREM', KEYS[3], key)
    redis.call('HINCRBY', KEYS[4], 'sending', -1)
    redis.call('HINCRBY', KEYS[4], ARGV[i + 1], 1)
    redis.call('ZADD', KEYS[6], now, key)
    redis.call('HDEL', KEYS[7], key)
  end
end
return 1
"""
)

_RENEW = (
    _SAME_CAMPAIGN
    + """
local renewed = {}
local deadline = clock(ARGV[3]) + tonumber(ARGV[2])
for i = 4, #ARGV - 1 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == 'sending'
      and redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[3], 'XX', deadline, ARGV[i])
    renewed[#renewed + 1] = ARGV[i]
  end
end
return renewed
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
        self._held = Held(self.lease, clock)
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
            self._redis = redis_client(
                without_query(url, *OUR_PARAMETERS),
                shown=self.url,
                argument="journal",
                decode_responses=True,
            )
            self._renew = self._redis.register_script(_RENEW)
            self._claim_many = self._redis.register_script(_CLAIM_MANY)
            self._record_many = self._redis.register_script(_RECORD_MANY)
            self._open()
        self._records: GroupCommit[tuple[str, str, str]] = GroupCommit(self._write)
        self._heartbeat = lease_heartbeat(self.renew, self.lease) if heartbeat else None

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
            # Any: redis < 8 (the last for Python 3.9) types a sync reply as "Awaitable | Any"
            memory: Any = self._redis.info("memory")
            persistence: Any = self._redis.info("persistence")
            policy = str(memory.get("maxmemory_policy", ""))
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
        stored: Any = self._redis.hmget(self._meta, ["schema_version", "instance"])
        version, instance = stored
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
        reply: Any = self._redis.time()
        seconds, micro = reply
        return float(seconds) + float(micro) / 1e6

    def now(self) -> float:
        """Seconds since the epoch on the journal's clock (Redis's ``TIME``, or the
        clock given): the clock of its leases and of `recorded_since`.

        Examples:
            >>> journal.now()
            1767225600.123456
        """
        with self._failing_as_journal_error():
            return self._now()

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
        kept = self.claim_many([(key, phone_number)], resend_maybe_sent=resend_maybe_sent)
        return kept[0] is None

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        """Store the outcome of a recipient this worker claimed (ignored if it is not ours).

        Examples:
            >>> journal.record(key, "sent", "Message sent successfully")
        """
        self.record_many([(key, status, detail)])

    def record_many(self, records: Sequence[tuple[str, str, Optional[str]]]) -> None:
        """`record` for several recipients (key, status, detail), in one round trip.

        Examples:
            >>> journal.record_many([(key, "sent", "Message sent successfully")])
        """
        for _, status, _ in records:
            if status not in (SENT, MAYBE_SENT, REFUSED):
                raise ValueError(f"cannot record the status {status!r}.")
        try:  # with the records of other sends that ended meanwhile: one round trip
            self._records.write_many(
                [(key, status, detail or "") for key, status, detail in records]
            )
        finally:  # written or not, this worker is done with them: their leases may run out
            self._held.done(key for key, _, _ in records)

    def _write(self, records: Sequence[tuple[str, str, str]]) -> None:
        keys = [self._status, self._owner, self._leases, self._counts, self._detail, self._done]
        keys += [self._claims, self._meta]
        args: list[Union[str, float]] = [self.owner, self._given_now()]
        for record in records:
            args += record
        args.append(self.instance)
        with self._failing_as_journal_error():
            self._record_many(keys=keys, args=args)

    def claim_many(
        self, claims: Sequence[tuple[str, str]], *, resend_maybe_sent: bool
    ) -> list[Optional[str]]:
        """Claim several recipients (key, phone number) in one step; for each, None if
        claimed, else the status that kept it (as `state` reads it).

        Examples:
            >>> journal.claim_many([(key, "+11234567890")], resend_maybe_sent=False)
            [None]
        """
        if not claims:
            return []
        keys = [self._status, self._phone, self._owner, self._leases, self._counts, self._detail]
        keys += [self._claims, self._meta]
        args: list[Union[str, float]] = [self.owner, self.lease, self._given_now()]
        args += [int(resend_maybe_sent), uuid.uuid4().hex]  # the batch, should it be sent twice
        for key, phone_number in claims:
            args += [key, phone_number]
        args.append(self.instance)
        at = self._held.now()
        with self._failing_as_journal_error():
            answers = self._claim_many(keys=keys, args=args)
        kept: list[Optional[str]] = [str(answer) or None for answer in answers]
        claimed = [key for (key, _), answer in zip(claims, kept) if answer is None]
        if claimed:
            self._held.claimed(claimed, at)
            if self._heartbeat is not None:
                self._heartbeat.start()
        return kept

    def renew(self) -> None:
        """Move the deadlines of this worker's open claims to ``lease`` seconds from now.

        Examples:
            >>> journal.renew()
        """
        held = self._held.keys()
        if held:
            self._renew_keys(held)

    def _renew_keys(self, held: Sequence[str]) -> set[str]:
        """Renew these claims where they are still this worker's; the keys renewed."""
        at = self._held.now()
        renewed: set[str] = set()
        with self._failing_as_journal_error():
            for start in range(0, len(held), 500):
                args: list[Union[str, float]] = [self.owner, self.lease, self._given_now()]
                args += [*held[start : start + 500], self.instance]
                keys = [self._status, self._owner, self._leases, self._meta]
                renewed.update(str(key) for key in self._renew(keys=keys, args=args))
        self._held.confirmed(renewed, at)
        return renewed

    def claim_stale(self, key: str) -> bool:
        """Whether this worker's claim was last confirmed by Redis more than half a lease
        ago (this machine's clock; no round trip): then `confirm_claim` before sending.

        Examples:
            >>> journal.claim_stale(key)
            False
        """
        return self._held.stale(key)

    def confirm_claim(self, key: str) -> bool:
        """Renew the claim if it is still this worker's (True), in one round trip; False if
        another worker took it since its lease ran out, or its outcome is recorded.

        Examples:
            >>> journal.confirm_claim(key)
            True
        """
        if key in self._renew_keys([key]):
            return True
        self._held.done([key])  # not ours any more: the heartbeat leaves it
        return False

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
