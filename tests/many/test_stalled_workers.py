"""A worker that stalls between its claim and its send (a paused process or machine) for
longer than the lease: another worker may take the recipient meanwhile, and the first
must find out before it sends, not after.

The journals run on a fake clock with no heartbeat thread (a stalled process's heartbeat
stalls with it); the stall is the clock moved past the lease right after a claim.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Optional

import pytest

from textflow import JournalError
from textflow._many._postgres_journal import PostgresJournal
from textflow._many._recipients import message_key
from textflow._many._redis_journal import RedisJournal
from textflow.testing import FakeTextFlow
from textflow.testing.journals import FakeClock

from tests.many.many_support import CREDITS, Sender, numbers
from tests.many.stores_support import campaign

LEASE = 30.0


@pytest.fixture
def watchers() -> list[Callable[[], None]]:
    """Called as each message reaches the fake (before it answers)."""
    return []


@pytest.fixture
def fake(watchers: list[Callable[[], None]]) -> FakeTextFlow:
    """The ``many`` fixture's fake, calling ``watchers`` as each message arrives."""

    def arrived(_message: object) -> None:
        for watcher in watchers:
            watcher()

    return FakeTextFlow(credits=CREDITS, on_message=arrived)


def _opener(store: str) -> Any:
    base: Any = RedisJournal if store == "redis" else PostgresJournal

    class Stalling(base):  # type: ignore[misc]
        """Runs ``after_claim`` once, right after its first claim step (the stall)."""

        after_claim: Optional[Any] = None

        def claim_many(self, claims: Any, *, resend_maybe_sent: bool) -> Any:
            kept = super().claim_many(claims, resend_maybe_sent=resend_maybe_sent)
            hook, self.after_claim = self.after_claim, None
            if hook is not None:
                hook(claims, kept)
            return kept

    return Stalling


def _url(store: str, request: pytest.FixtureRequest) -> str:
    server = request.getfixturevalue(f"journal_{store}")
    return f"{server.url if store == 'redis' else server.url()}?campaign={campaign()}"


@pytest.mark.anyio
@pytest.mark.parametrize("store", ["redis", "postgres"])
async def test_a_claim_taken_by_another_worker_during_a_stall_is_not_sent(
    many: Sender, store: str, request: pytest.FixtureRequest
) -> None:
    clock, url = FakeClock(), _url(store, request)
    opener = _opener(store)
    first = opener(url, clock=clock, lease=LEASE, heartbeat=False)
    second = opener(url, clock=clock, lease=LEASE, heartbeat=False)
    taken: list[str] = []

    def stall_then_another_worker_resends(claims: Any, kept: Any) -> None:
        clock.advance(LEASE + 1)  # the first worker paused past its lease
        for (key, phone), answer in zip(claims, kept):
            if answer is None:  # the first worker's claim, now maybe_sent: resent on purpose
                assert second.state(key) == "maybe_sent"
                assert second.claim(key, phone, resend_maybe_sent=True)
                with many.fake.client() as other:
                    other.send_sms(phone, "Hi")
                second.record(key, "sent", "ok")
                taken.append(phone)

    first.after_claim = stall_then_another_worker_resends
    try:
        report = await many.send(numbers(3), "Hi", journal=first, concurrency=1)
    finally:
        first.close()
        second.close()
    delivered = collections.Counter(m.phone_number for m in many.fake.messages)
    assert taken == numbers(1)
    assert delivered == dict.fromkeys(numbers(3), 1)  # nobody twice
    assert (report.sent, report.skipped) == (2, 1)


@pytest.mark.anyio
@pytest.mark.parametrize("store", ["redis", "postgres"])
async def test_a_claim_still_its_own_after_a_stall_is_sent_and_kept_alive(
    many: Sender, store: str, request: pytest.FixtureRequest, watchers: list[Callable[[], None]]
) -> None:
    clock, url = FakeClock(), _url(store, request)
    opener = _opener(store)
    first = opener(url, clock=clock, lease=LEASE, heartbeat=False)
    second = opener(url, clock=clock, lease=LEASE, heartbeat=False)
    seen: list[Optional[str]] = []

    def stall(claims: Any, kept: Any) -> None:
        clock.advance(LEASE + 1)  # nobody took it meanwhile: it is still the first's to send
        seen.append(second.state(claims[0][0]))

    first.after_claim = stall
    key = message_key(numbers(1)[0], "Hi")
    sent_while: list[Optional[str]] = []  # the store's view while the send is at the API
    watchers.append(lambda: sent_while.append(second.state(key)))
    try:
        report = await many.send(numbers(1), "Hi", journal=first, concurrency=1)
    finally:
        first.close()
        second.close()
    assert seen == ["maybe_sent"]
    assert sent_while == ["sending"]  # checked and its lease renewed before it went
    assert report.sent == 1
    assert [m.phone_number for m in many.fake.messages] == numbers(1)


class _StaleAndUnreachable:
    """A leased store whose every claim looks stale and which fails when asked again."""

    def __init__(self) -> None:
        self.claimed: list[str] = []

    def state(self, key: str) -> Optional[str]:
        return None

    def claim(self, key: str, phone_number: str, *, resend_maybe_sent: bool) -> bool:
        self.claimed.append(key)
        return True

    def record(self, key: str, status: str, detail: Optional[str]) -> None:
        raise AssertionError("nothing was sent, so nothing is recorded")

    def claim_stale(self, key: str) -> bool:
        return True

    def confirm_claim(self, key: str) -> bool:
        raise JournalError("The journal cannot be reached")

    def close(self) -> None:
        pass


@pytest.mark.anyio
async def test_a_store_that_fails_when_a_stale_claim_is_confirmed_stops_before_sending(
    many: Sender,
) -> None:
    journal = _StaleAndUnreachable()
    with pytest.raises(JournalError) as caught:
        await many.send(numbers(3), "Hi", journal=journal, concurrency=1)
    assert many.fake.messages == []  # not sent on a claim nobody could confirm
    report = caught.value.report
    assert report is not None
    assert (report.sent, report.refused, report.maybe_sent) == (0, 1, 0)  # it was not sent
    assert len(journal.claimed) == 1
