"""Adversarial pass over the claim confirmed before its send (issue 22): a worker that
stalls while the confirmation itself is on its way, so that the store's answer, though
"still yours", arrives after the renewed lease ran out and another worker took the
recipient meanwhile.

As in test_stalled_workers, the journals run on a fake clock with no heartbeat thread
(a stalled process's heartbeat stalls with it); the stall is the clock moved on.
"""

from __future__ import annotations

import collections
from typing import Any, Optional

import pytest

from textflow import JournalError
from textflow._many._postgres_journal import PostgresJournal
from textflow._many._recipients import message_key
from textflow._many._redis_journal import RedisJournal
from textflow._many._run import CONFIRMS
from textflow.testing.journals import FakeClock

from tests.many.many_support import Sender, numbers
from tests.many.stores_support import campaign

LEASE = 30.0


def _url(store: str, request: pytest.FixtureRequest) -> str:
    server = request.getfixturevalue(f"journal_{store}")
    return f"{server.url if store == 'redis' else server.url()}?campaign={campaign()}"


def _opener(store: str) -> Any:
    base: Any = RedisJournal if store == "redis" else PostgresJournal

    class SlowConfirm(base):  # type: ignore[misc]
        """Stalls past the lease after its first claim step, and runs ``on_answer`` once
        when a confirmation's answer is back (before the driver sees it)."""

        stall: Optional[FakeClock] = None
        on_answer: Optional[Any] = None
        confirms = 0

        def claim_many(self, claims: Any, *, resend_maybe_sent: bool) -> Any:
            kept = super().claim_many(claims, resend_maybe_sent=resend_maybe_sent)
            if self.stall is not None and any(answer is None for answer in kept):
                self.stall.advance(LEASE + 1)  # paused right after claiming
                self.stall = None
            return kept

        def confirm_claim(self, key: str) -> bool:
            self.confirms += 1
            answer = bool(super().confirm_claim(key))
            hook, self.on_answer = self.on_answer, None
            if hook is not None:
                hook(key)
            return answer

    return SlowConfirm


@pytest.mark.anyio
@pytest.mark.parametrize("store", ["redis", "postgres"])
async def test_a_confirmation_that_comes_back_after_the_lease_ran_out_does_not_send(
    many: Sender, store: str, request: pytest.FixtureRequest
) -> None:
    clock, url = FakeClock(), _url(store, request)
    opener = _opener(store)
    first = opener(url, clock=clock, lease=LEASE, heartbeat=False)
    first.stall = clock
    second = opener(url, clock=clock, lease=LEASE, heartbeat=False)
    phone = numbers(1)[0]
    resent: list[str] = []

    def paused_while_the_answer_travelled(key: str) -> None:
        # renewed, then the first worker paused again, longer than the renewed lease:
        # another worker resends what now reads maybe_sent
        clock.advance(LEASE + 1)
        assert second.state(key) == "maybe_sent"
        assert second.claim(key, phone, resend_maybe_sent=True)
        with many.fake.client() as other:
            other.send_sms(phone, "Hi")
        second.record(key, "sent", "ok")
        resent.append(phone)

    first.on_answer = paused_while_the_answer_travelled
    try:
        report = await many.send([phone], "Hi", journal=first, concurrency=1)
    finally:
        first.close()
        second.close()
    delivered = collections.Counter(m.phone_number for m in many.fake.messages)
    assert resent == [phone]
    assert delivered == {phone: 1}  # not twice
    assert (report.sent, report.skipped) == (0, 1)


@pytest.mark.anyio
@pytest.mark.parametrize("store", ["redis", "postgres"])
async def test_a_claim_whose_every_confirmation_comes_back_stale_is_given_back_unsent(
    many: Sender, store: str, request: pytest.FixtureRequest
) -> None:
    """A store slower than half the lease (a lease too short for it): the claim is never
    known to be alive when the send would start, so it is refused, not sent, and its row
    says refused: the next run sends it."""
    clock, url = FakeClock(), _url(store, request)
    opener = _opener(store)
    first = opener(url, clock=clock, lease=LEASE, heartbeat=False)
    first.stall = clock

    def slow(_key: str) -> None:
        clock.advance(LEASE / 2 + 1)
        first.on_answer = slow

    first.on_answer = slow
    phone = numbers(1)[0]
    try:
        report = await many.send([phone], "Hi", journal=first, concurrency=1)
        assert many.fake.messages == []
        assert report.refused == 1
        assert isinstance(report.outcomes[0].error, JournalError)
        assert first.confirms == CONFIRMS
        assert first.state(message_key(phone, "Hi")) == "refused"
        first.on_answer = None
        again = await many.send([phone], "Hi", journal=first, concurrency=1)
    finally:
        first.close()
    assert again.sent == 1
    assert [m.phone_number for m in many.fake.messages] == [phone]


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_a_claim_found_taken_leaves_the_heartbeat(
    store: str, request: pytest.FixtureRequest
) -> None:
    """Once a confirmation finds the claim another worker's, this worker no longer holds
    it: its heartbeat stops asking the store about it (each beat carries every key held,
    so a long campaign of such keys would grow every beat)."""
    clock, url = FakeClock(), _url(store, request)
    opener = _opener(store)
    first = opener(url, clock=clock, lease=LEASE, heartbeat=False)
    second = opener(url, clock=clock, lease=LEASE, heartbeat=False)
    try:
        assert first.claim("taken", numbers(1)[0], resend_maybe_sent=False)
        assert first.claim("kept", numbers(2)[1], resend_maybe_sent=False)
        clock.advance(LEASE + 1)
        assert second.claim("taken", numbers(1)[0], resend_maybe_sent=True)
        assert not first.confirm_claim("taken")
        assert first._held.keys() == ["kept"]  # what the heartbeat renews
    finally:
        first.close()
        second.close()
