"""A journal on Redis, shared by any number of workers: ``redis://host:port/db?campaign=NAME``.

Keys (one campaign; the braces keep them in one Redis Cluster slot):

- ``textflow:journal:{NAME}:meta``: ``schema_version`` (marks a textflow journal);
- ``...:status``, ``...:phone``, ``...:owner``, ``...:detail``: hashes by recipient key;
- ``...:leases``: sorted set, recipient key -> lease deadline (seconds since the epoch),
  for claims not yet recorded;
- ``...:counts``: hash, status -> recipients;
- ``...:done``: sorted set, recipient key -> when its outcome was recorded.

``claim_many`` (a batch; ``claim`` is a batch of one), ``record`` and ``renew``
are each one Lua script, so a check and its write are one step for every worker
at once; the records of sends that end together share one call (`GroupCommit`).
Over 300 lines: the scripts are read beside the Python that calls them. Phone
numbers are stored (the user's data); the API key never is. Delete a campaign with
``redis-cli --scan --pattern 'textflow:journal:{NAME}:*' | xargs redis-cli del``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

from textflow._many._batch import GroupCommit
from textflow._many._lease import (
    DEFAULT_LEASE,
    OUR_PARAMETERS,
    Clock,
    Heartbeat,
    campaign_of,
    check_lease,
    lease_of,
    now_clock,
    shown_url,
    without_query,
    worker_id,
)
from textflow._many._outcomes import MAYBE_SENT, REFUSED, SENT
from textflow.errors import JournalError

if TYPE_CHECKING:
    import redis

SENDING = "sending"
SCHEMA_VERSION = "1"

# the claims of a batch in one step: ARGV owner, deadline, now, resend, then key, phone
# pairs; answers per key '' (claimed) or the status that kept it (as `state` reads it)
_CLAIM_MANY = """
local answers = {}
for i = 5, #ARGV, 2 do
  local key = ARGV[i]
  local s = redis.call('HGET', KEYS[1], key)
  local kept = false
  if s then
    if s == 'sent' then kept = 'sent'
    elseif s == 'sending' then
      local d = redis.call('ZSCORE', KEYS[4], key)
      if d and tonumber(d) >= tonumber(ARGV[3]) then kept = 'sending'
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
    redis.call('ZADD', KEYS[4], ARGV[2], key)
    redis.call('HINCRBY', KEYS[5], 'sending', 1)
    answers[#answers + 1] = ''
  end
end
return answers
"""

# many records in one step: ARGV owner, then key, status, detail, when per record
_RECORD_MANY = """
for i = 2, #ARGV, 4 do
  local key = ARGV[i]
  if redis.call('HGET', KEYS[1], key) == 'sending'
      and redis.call('HGET', KEYS[2], key) == ARGV[1] then
    redis.call('HSET', KEYS[1], key, ARGV[i + 1])
    redis.call('HSET', KEYS[5], key, ARGV[i + 2])
    redis.call('ZREM', KEYS[3], key)
    redis.call('HINCRBY', KEYS[4], 'sending', -1)
    redis.call('HINCRBY', KEYS[4], ARGV[i + 1], 1)
    redis.call('ZADD', KEYS[6], ARGV[i + 3], key)
  end
end
return 1
"""

_RENEW = """
local n = 0
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == 'sending'
      and redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[3], 'XX', ARGV[2], ARGV[i])
    n = n + 1
  end
end
return n
"""


class RedisJournal:
    """A `Journal` on Redis that many workers share; claims are leased.

    Args:
        url: ``redis://[user:password@]host:port/db?campaign=NAME`` (``rediss://`` for TLS).
        lease: Seconds a claim stays ``sending`` without a heartbeat (default: the URL's
            ``lease=``, else 60).
        clock: Seconds since the epoch (tests move a fake one).
        heartbeat: Extend this worker's open claims from a thread (turn off only in tests,
            which call `renew` themselves).

    Raises:
        JournalError: Redis cannot be reached, or the keys are not a textflow journal;
            ``__cause__`` is the client's error. Any later call that fails raises it too.

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
        self.url = shown_url(url)
        self._server_url = without_query(url, *OUR_PARAMETERS)  # for a shared rate limit
        self.lease = lease_of(url, DEFAULT_LEASE) if lease is None else check_lease(lease)
        self.owner = worker_id()
        self._clock = clock or now_clock()
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
        with self._failing_as_journal_error():
            import redis

            self._redis: redis.Redis = redis.Redis.from_url(
                without_query(url, *OUR_PARAMETERS),
                decode_responses=True,
                socket_timeout=10,
                socket_connect_timeout=5,
            )
            self._renew = self._redis.register_script(_RENEW)
            self._claim_many = self._redis.register_script(_CLAIM_MANY)
            self._record_many = self._redis.register_script(_RECORD_MANY)
            self._open()
        self._records: GroupCommit[tuple[str, str, str, float]] = GroupCommit(self._write)
        self._heartbeat = Heartbeat(self.renew, self.lease / 3) if heartbeat else None

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
            raise JournalError(
                f"The journal {self.url} cannot be used: {type(exc).__name__}: {exc}"
            ) from exc

    def _open(self) -> None:
        version = self._redis.hget(self._meta, "schema_version")
        if version is None:
            self._redis.hsetnx(self._meta, "schema_version", SCHEMA_VERSION)
            version = self._redis.hget(self._meta, "schema_version")
        if version != SCHEMA_VERSION:
            raise JournalError(
                f"The journal {self.url} is not a textflow journal of schema "
                f"{SCHEMA_VERSION} (found {version!r})."
            )

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
            status, deadline = pipe.execute()
        if status == SENDING and deadline is not None and float(deadline) < self._clock():
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
        if status not in (SENT, MAYBE_SENT, REFUSED):
            raise ValueError(f"cannot record the status {status!r}.")
        # with the records of other sends that ended meanwhile: one round trip for them all
        self._records.write((key, status, detail or "", self._clock()))
        with self._held_lock:
            self._held.discard(key)

    def _write(self, records: Sequence[tuple[str, str, str, float]]) -> None:
        keys = [self._status, self._owner, self._leases, self._counts, self._detail, self._done]
        args: list[Union[str, float]] = [self.owner]
        for record in records:
            args += record
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
        now = self._clock()
        keys = [self._status, self._phone, self._owner, self._leases, self._counts, self._detail]
        args: list[Union[str, float]] = [self.owner, now + self.lease, now, int(resend_maybe_sent)]
        for key, phone_number in claims:
            args += [key, phone_number]
        with self._failing_as_journal_error():
            answers = self._claim_many(keys=keys, args=args)
        kept: list[Optional[str]] = [str(answer) or None for answer in answers]
        claimed = [key for (key, _), answer in zip(claims, kept) if answer is None]
        if claimed:
            with self._held_lock:
                self._held.update(claimed)
            if self._heartbeat is not None:
                self._heartbeat.start()
        return kept

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
                args: list[Union[str, float]] = [self.owner, self._clock() + self.lease]
                args += held[start : start + 500]
                self._renew(keys=[self._status, self._owner, self._leases], args=args)

    def counts(self) -> dict[str, int]:
        """Recipients by status; claims whose lease expired count as ``maybe_sent``.

        Examples:
            >>> journal.counts()
            {'maybe_sent': 2, 'sent': 9998}
        """
        with self._failing_as_journal_error():
            pipe = self._redis.pipeline(transaction=True)
            pipe.hgetall(self._counts)
            pipe.zcount(self._leases, "-inf", f"({self._clock()!r}")
            raw, expired = pipe.execute()
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
