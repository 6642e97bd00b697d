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
from textflow.errors import SendManyStopped, TextFlowError
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


class StopHere(TextFlowError):
    """A send's error that the run is told to stop on."""


class Holding:
    """The client, sending the first ``FIRST`` recipients only once ``opened`` is set;
    the ``failing`` one raises `StopHere` (after ``opened``: the others wait for it)."""

    def __init__(
        self, sender: Sender, first: set[str], opened: threading.Event, failing: str = ""
    ) -> None:
        self._sender = sender
        self._first = first
        self._opened = opened
        self._failing = failing

    def send_sms(self, phone_number: str, text: str) -> SendMessageOk:
        if phone_number in self._first:
            assert self._opened.wait(30)
        if phone_number == self._failing:
            raise StopHere("stop here")
        result: SendMessageOk = self._sender.client.send_sms(phone_number, text)
        return result


class AsyncHolding(Holding):
    async def send_sms(self, phone_number: str, text: str) -> SendMessageOk:  # type: ignore[override]
        if phone_number in self._first:
            assert await anyio.to_thread.run_sync(self._opened.wait, 30)
        if phone_number == self._failing:
            raise StopHere("stop here")
        result: SendMessageOk = await self._sender.client.send_sms(phone_number, text)
        return result


async def _send(many: Sender, client: Holding, recipients: list[str], **options: Any) -> Any:
    if many.kind == "sync":
        from textflow._many._sync import send_many

        return send_many(client, recipients, "Hi", concurrency=4, **options)
    from textflow._many._async import send_many as asend_many

    aclient = AsyncHolding(many, client._first, client._opened, client._failing)
    return await asend_many(aclient, recipients, "Hi", concurrency=4, **options)


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
        report = await _send(many, Holding(many, set(first), opened), recipients, journal=counting)
        # one free slot walking past 30 held recipients took a round trip per recipient
        # before (1 + 30 steps); asking further ahead after each taken step, a handful
        assert opened.is_set()
        assert sum(counting.steps) > FIRST + HELD  # it did reach the last ones
        assert len(counting.steps) <= 12, counting.steps
        delivered = Counter(m.phone_number for m in many.fake.messages)
        assert delivered == Counter(first + last)  # the held ones not sent, nobody twice
        assert (report.sent, report.skipped, report.maybe_sent) == (FIRST + LAST, HELD, 0)
        assert journal.counts() == {"sent": FIRST + LAST, "sending": HELD}


@pytest.mark.anyio
async def test_claims_waiting_for_a_slot_are_given_back_when_the_run_stops(
    many: Sender, journal_redis: RedisServer
) -> None:
    """The walk past others' recipients ends in a step claiming 4 with one free slot;
    the first of them fails and stops the run while the other 3 wait for a slot: they
    are given back (refused), not left held (which would make them maybe sent, never
    sent), and a rerun sends them, nobody twice."""
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
        client = Holding(many, set(first), opened, failing=last[0])
        with pytest.raises(SendManyStopped):
            await _send(many, client, recipients, journal=counting, stop_on=(StopHere,))
        assert counting.steps[-1] > 1  # the step that reached them claimed ahead
        states = [journal.state(message_key(n, "Hi")) for n in last]
        assert "sending" not in states, states  # none left held by this worker
        for key, _ in claims:  # the other worker's recipients become free again
            other.record(key, "refused", "given back")
        report = await _send(many, Holding(many, set(), opened), recipients, journal=url)
        delivered = Counter(m.phone_number for m in many.fake.messages)
        assert delivered == Counter(recipients)  # everyone once, nobody twice
        assert report.maybe_sent == 0
        assert journal.counts() == {"sent": FIRST + HELD + LAST}
