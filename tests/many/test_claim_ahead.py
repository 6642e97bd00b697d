"""A worker among several claims ahead: after a step whose recipients other workers
held, the next asks for more per free slot, so walking past others' recipients takes a
few round trips, not one per free slot; nobody is sent twice or left held."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any, Optional

import anyio
import pytest

from textflow._many._recipients import message_key
from textflow._many._redis_journal import RedisJournal
from textflow.models import SendMessageOk

from tests.many.many_support import Sender, numbers
from tests.many.stores_support import RedisServer, campaign

FIRST = 3  # sent first, their sends held open: one of the 4 slots stays free
HELD = 30  # then recipients another worker holds
LAST = 12  # then recipients nobody holds


class Counting:
    """A user's journal object over a Redis journal that counts the claim round trips
    and opens the held sends once the dispatcher asks about a recipient past ``HELD``."""

    def __init__(self, journal: RedisJournal, last: set[str], opened: threading.Event) -> None:
        self._journal = journal
        self._last = last
        self._opened = opened
        self.steps: list[int] = []  # recipients asked, per step until ``opened``

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)

    def claim_many(
        self, claims: Sequence[tuple[str, str]], *, resend_maybe_sent: bool
    ) -> list[Optional[str]]:
        if not self._opened.is_set():
            self.steps.append(len(claims))
        if any(key in self._last for key, _ in claims):
            self._opened.set()
        return self._journal.claim_many(claims, resend_maybe_sent=resend_maybe_sent)


class Holding:
    """The client, sending the first ``FIRST`` recipients only once ``opened`` is set."""

    def __init__(self, sender: Sender, first: set[str], opened: threading.Event) -> None:
        self._sender = sender
        self._first = first
        self._opened = opened

    def send_sms(self, phone_number: str, text: str) -> SendMessageOk:
        if phone_number in self._first:
            assert self._opened.wait(30)
        result: SendMessageOk = self._sender.client.send_sms(phone_number, text)
        return result


class AsyncHolding(Holding):
    async def send_sms(self, phone_number: str, text: str) -> SendMessageOk:  # type: ignore[override]
        if phone_number in self._first:
            assert await anyio.to_thread.run_sync(self._opened.wait, 30)
        result: SendMessageOk = await self._sender.client.send_sms(phone_number, text)
        return result


@pytest.mark.anyio
async def test_a_worker_walks_past_others_recipients_in_few_round_trips(
    many: Sender, journal_redis: RedisServer
) -> None:
    recipients = numbers(FIRST + HELD + LAST)
    first, held, last = (
        recipients[:FIRST],
        recipients[FIRST : FIRST + HELD],
        recipients[FIRST + HELD :],
    )
    url = f"{journal_redis.url}?campaign={campaign()}"
    opened = threading.Event()
    with RedisJournal(url, heartbeat=False) as other, RedisJournal(url) as journal:
        claims = [(message_key(number, "Hi"), number) for number in held]
        assert other.claim_many(claims, resend_maybe_sent=False) == [None] * HELD
        counting = Counting(journal, {message_key(n, "Hi") for n in last}, opened)
        if many.kind == "sync":
            from textflow._many._sync import send_many

            report = send_many(
                Holding(many, set(first), opened), recipients, "Hi", concurrency=4,
                journal=counting,
            )  # fmt: skip
        else:
            from textflow._many._async import send_many as asend_many

            report = await asend_many(
                AsyncHolding(many, set(first), opened), recipients, "Hi", concurrency=4,
                journal=counting,
            )  # fmt: skip
        # one free slot walking past 30 held recipients took a round trip per recipient
        # before (1 + 30 steps); asking further ahead after each taken step, a handful
        assert opened.is_set()
        assert sum(counting.steps) > FIRST + HELD  # it did reach the last ones
        assert len(counting.steps) <= 12, counting.steps
        delivered = Counter(m.phone_number for m in many.fake.messages)
        assert delivered == Counter(first + last)  # the held ones not sent, nobody twice
        assert (report.sent, report.skipped, report.maybe_sent) == (FIRST + LAST, HELD, 0)
        assert journal.counts() == {"sent": FIRST + LAST, "sending": HELD}
