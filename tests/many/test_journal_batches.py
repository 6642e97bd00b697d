"""Shared journals in batches: ``claim_many`` (one round trip for many claims) and the
records of sends that end together written in one (group commit)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable, Optional

import pytest

import textflow
from textflow._many._batch import GroupCommit
from textflow._many._postgres_journal import PostgresJournal
from textflow._many._recipients import message_key
from textflow._many._redis_journal import RedisJournal
from textflow.testing.journals import FakeClock

from tests.many.many_support import Sender, numbers
from tests.many.stores_support import PostgresServer, RedisServer, campaign


def _open(store: str, request: pytest.FixtureRequest, name: str, clock: FakeClock) -> Any:
    if store == "redis":
        redis: RedisServer = request.getfixturevalue("journal_redis")
        return RedisJournal(f"{redis.url}?campaign={name}", clock=clock, lease=10, heartbeat=False)
    postgres: PostgresServer = request.getfixturevalue("journal_postgres")
    url = f"{postgres.url()}?campaign={name}"
    return PostgresJournal(url, clock=clock, lease=10, heartbeat=False)


def _claims(count: int) -> list[tuple[str, str]]:
    return [(message_key(number, "Hi"), number) for number in numbers(count)]


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_claim_many_says_what_kept_each_recipient(
    store: str, request: pytest.FixtureRequest
) -> None:
    clock, name = FakeClock(1000.0), campaign()
    journal = _open(store, request, name, clock)
    other = _open(store, request, name, clock)
    try:
        claims = _claims(6)
        keys = [key for key, _ in claims]
        assert journal.claim_many(claims[:4], resend_maybe_sent=False) == [None] * 4
        journal.record(keys[0], "sent", "ok")
        journal.record(keys[1], "maybe_sent", "timeout")
        journal.record(keys[2], "refused", "400")
        clock.advance(5)  # keys[3] is still held by `journal`
        batch = [*claims, claims[4]]  # the last one twice in one batch: claimed once
        assert other.claim_many(batch, resend_maybe_sent=False) == [
            "sent",
            "maybe_sent",
            None,  # refused: tried again
            "sending",
            None,
            None,
            "sending",
        ]
        clock.advance(10)  # journal's lease on keys[3] ran out
        assert other.claim_many([claims[1], claims[3]], resend_maybe_sent=False) == [
            "maybe_sent",
            "maybe_sent",
        ]
        assert other.claim_many([claims[1], claims[3]], resend_maybe_sent=True) == [None, None]
        assert journal.claim_many([], resend_maybe_sent=False) == []
    finally:
        journal.close()
        other.close()


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_overlapping_batches_of_many_workers_claim_each_recipient_once(
    store: str, request: pytest.FixtureRequest
) -> None:
    """Four workers claim and record the same 400 recipients in batches of 20, in
    different orders (Postgres would deadlock if rows were locked in batch order)."""
    clock, name = FakeClock(1000.0), campaign()
    claims = _claims(400)
    journals = [_open(store, request, name, clock) for _ in range(4)]
    won: list[list[str]] = [[] for _ in journals]
    errors: list[BaseException] = []

    def work(position: int) -> None:
        journal = journals[position]
        order = claims if position % 2 == 0 else list(reversed(claims))
        try:
            for start in range(0, len(order), 20):
                batch = order[start : start + 20]
                kept = journal.claim_many(batch, resend_maybe_sent=False)
                for (key, _), previous in zip(batch, kept):
                    if previous is None:
                        won[position].append(key)
                        journal.record(key, "sent", "ok")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        claimed = [key for keys in won for key in keys]
        assert sorted(claimed) == sorted(key for key, _ in claims)  # each exactly once
        assert journals[0].counts() == {"sent": 400}
    finally:
        for journal in journals:
            journal.close()


def test_group_commit_writes_what_ends_together_in_one_batch() -> None:
    batches: list[list[int]] = []
    first_in = threading.Event()
    release = threading.Event()

    def write(items: Any) -> None:
        batches.append(list(items))
        if len(batches) == 1:
            first_in.set()
            assert release.wait(10)  # a guard against a hang: the test sets it at once

    commit: GroupCommit[int] = GroupCommit(write)
    first = threading.Thread(target=commit.write, args=(0,))
    first.start()
    assert first_in.wait(10)
    others = [threading.Thread(target=commit.write, args=(i,)) for i in range(1, 6)]
    for thread in others:
        thread.start()
    deadline = time.monotonic() + 10  # a guard against a hang: they queue at once
    while len(commit._queued) < 5 and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()
    first.join()
    for thread in others:
        thread.join()
    assert batches[0] == [0]
    assert sorted(batches[1]) == [1, 2, 3, 4, 5]  # queued while 0 was written: one batch
    assert len(batches) == 2


def test_group_commit_raises_the_write_error_in_every_waiter() -> None:
    def write(items: Any) -> None:
        raise OSError("gone")

    commit: GroupCommit[int] = GroupCommit(write)
    with pytest.raises(OSError, match="gone"):
        commit.write(1)
    with pytest.raises(OSError, match="gone"):
        commit.write(2)  # the next batch tries again, and fails too


@pytest.mark.anyio
async def test_a_run_stopped_mid_batch_gives_back_the_claims_it_did_not_send(
    many: Sender, journal_redis: RedisServer
) -> None:
    """Credits run out while a batch of claims is being sent: the claims not sent are given
    back (refused), not left held (which would make them maybe sent, never sent)."""
    recipients = numbers(60)
    url = f"{journal_redis.url}?campaign={campaign()}"
    many.fake.balance = "1.50"  # ten SMS: the run stops there
    with pytest.raises(textflow.SendManyStopped):
        await many.send(recipients, "Hi", concurrency=8, journal=url)
    assert len(many.fake.messages) == 10
    many.fake.balance = 100
    report = await many.send(recipients, "Hi", concurrency=8, journal=url)
    delivered = [m.phone_number for m in many.fake.messages]
    assert sorted(delivered) == sorted(recipients)  # everyone once, nobody twice
    assert (report.sent, report.skipped, report.maybe_sent) == (50, 10, 0)
    with RedisJournal(url) as journal:
        assert journal.counts() == {"sent": 60}


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_record_many_stores_each_outcome_as_record_does(
    store: str, request: pytest.FixtureRequest
) -> None:
    clock = FakeClock()
    with _open(store, request, campaign(), clock) as journal:
        claims = _claims(3)
        assert journal.claim_many(claims, resend_maybe_sent=False) == [None] * 3
        journal.record_many(
            [
                (claims[0][0], "sent", "ok"),
                (claims[1][0], "refused", "no\x00pe"),
                (claims[2][0], "maybe_sent", None),
            ]
        )
        assert [journal.state(key) for key, _ in claims] == ["sent", "refused", "maybe_sent"]
        with pytest.raises(ValueError, match="sending"):
            journal.record_many([(claims[0][0], "sending", None)])
        assert journal.counts() == {"maybe_sent": 1, "refused": 1, "sent": 1}


def test_postgres_plans_made_on_a_tiny_campaign_find_rows_by_key_once_it_has_grown(
    journal_postgres: PostgresServer,
) -> None:
    """Statements are prepared and planned once per connection, their plans kept: plans
    made while the campaign was nearly empty must not look rows up by scanning the whole
    campaign once it has grown (the planner's cheapest way on a page or two)."""
    import psycopg
    from psycopg import sql

    name = campaign()
    journal = PostgresJournal(f"{journal_postgres.url()}?campaign={name}", heartbeat=False)
    try:
        claims = _claims(3010)
        for key, phone in claims[:10]:  # prepared and used while the campaign is tiny
            assert journal.claim_many([(key, phone)], resend_maybe_sent=False) == [None]
            journal.record_many([(key, "refused", "no")])
            assert journal.claim_many([(key, phone)], resend_maybe_sent=False) == [None]
            journal.record_many([(key, "sent", "ok")])
            assert journal.claim_many([(key, phone)], resend_maybe_sent=False) == ["sent"]
        with psycopg.connect(journal_postgres.url(), autocommit=True) as other:
            other.execute(  # the campaign grows (no ANALYZE: plans see the old sizes)
                "INSERT INTO textflow_journal SELECT %s, k, 'p', 'sent', NULL, NULL, NULL, 0 "
                "FROM unnest(%s::text[]) AS k",
                (name, [key for key, _ in claims[10:]]),
            )
        plans = []
        for db in (journal._db, journal._writer):
            statements = db.execute(
                "SELECT name, parameter_types::text[] FROM pg_prepared_statements "
                "WHERE statement LIKE '%%FROM textflow_journal AS t%%' "
                "AND statement NOT LIKE '%%pg_prepared_statements%%'"  # this query, prepared too
            ).fetchall()
            for statement, types in statements:  # the plan kept, whatever the values
                nulls = sql.SQL(", ").join(sql.SQL("NULL::" + kind) for kind in types)
                query = sql.SQL("EXPLAIN EXECUTE {}({})").format(sql.Identifier(statement), nulls)
                plans.append("\n".join(str(row[0]) for row in db.execute(query).fetchall()))
        assert len(plans) == 3  # a batch of claims, claims again, records
        for plan in plans:
            assert "Seq Scan" not in plan, plan
            assert "Bitmap" not in plan, plan
            assert "Index Cond: (campaign = $" not in plan, plan  # all of the campaign
            assert re.search(r"Index Cond: \(\(campaign = \$\d+\) AND \(key = ", plan), plan
    finally:
        journal.close()


def _while_another_session_moves_the_rows(
    server: PostgresServer, name: str, call: Callable[[], object]
) -> None:
    """Run ``call`` while another session holds the campaign's rows it has just updated
    (as a heartbeat does), committing once ``call`` waits for their lock."""
    import psycopg

    with psycopg.connect(server.url()) as other:
        other.execute(
            "UPDATE textflow_journal SET updated_at = updated_at + 1 WHERE campaign = %s",
            (name,),
        )
        running = threading.Thread(target=call)
        running.start()
        with psycopg.connect(server.url(), autocommit=True) as watch:
            waiting: Any = 0
            while waiting == 0 and running.is_alive():  # until it waits for the lock
                row = watch.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                waiting = row.fetchone()[0]  # type: ignore[index]
        other.commit()
        running.join()


def test_postgres_a_batch_waiting_on_rows_another_session_updated_still_lands(
    journal_postgres: PostgresServer,
) -> None:
    """Batches lock their rows, then update them by their place on disk (ctid): a row
    another session changed while the batch waited for its lock has moved. The batch
    must still write it (a record skipped would read maybe_sent; a claim skipped, not
    sent), and only if it is still its to write."""
    name = campaign()
    url = f"{journal_postgres.url()}?campaign={name}"
    with PostgresJournal(url, heartbeat=False) as journal:
        claims = _claims(3)
        assert journal.claim_many(claims, resend_maybe_sent=False) == [None] * 3
        records = [(claims[0][0], "sent", "ok"), (claims[1][0], "refused", "no")]
        _while_another_session_moves_the_rows(
            journal_postgres, name, lambda: journal.record_many(records)
        )
        assert [journal.state(key) for key, _ in claims] == ["sent", "refused", "sending"]
        # a claim batch waits too (its insert's conflict check, on the moved rows), then
        # claims the refused one again
        answers: list[list[Optional[str]]] = []
        _while_another_session_moves_the_rows(
            journal_postgres,
            name,
            lambda: answers.append(journal.claim_many(claims[:2], resend_maybe_sent=False)),
        )
        assert answers == [["sent", None]]
        assert journal.state(claims[1][0]) == "sending"


def test_postgres_renewing_claims_finds_them_by_key_not_by_scanning_the_campaign(
    journal_postgres: PostgresServer,
) -> None:
    """The heartbeat renews a worker's few open claims every third of a lease: on a
    campaign of millions of rows it must not walk them all (no index holds the owner)."""
    import psycopg
    from psycopg import sql

    name = campaign()
    journal = PostgresJournal(f"{journal_postgres.url()}?campaign={name}", heartbeat=False)
    try:
        claims = _claims(3002)
        assert journal.claim_many(claims[:2], resend_maybe_sent=False) == [None, None]
        journal.renew()
        assert journal.confirm_claim(claims[0][0])
        with psycopg.connect(journal_postgres.url(), autocommit=True) as other:
            other.execute(
                "INSERT INTO textflow_journal SELECT %s, k, 'p', 'sent', NULL, NULL, NULL, 0 "
                "FROM unnest(%s::text[]) AS k",
                (name, [key for key, _ in claims[2:]]),
            )
        statements = journal._writer.execute(
            "SELECT name, parameter_types::text[] FROM pg_prepared_statements "
            "WHERE statement LIKE '%%SET lease_until%%' "
            "AND statement NOT LIKE '%%pg_prepared_statements%%'"
        ).fetchall()
        plans = []
        for statement, types in statements:
            nulls = sql.SQL(", ").join(sql.SQL("NULL::" + kind) for kind in types)
            query = sql.SQL("EXPLAIN EXECUTE {}({})").format(sql.Identifier(statement), nulls)
            plans.append("\n".join(str(r[0]) for r in journal._writer.execute(query).fetchall()))
        assert len(plans) == 2  # renew, confirm_claim
        for plan in plans:
            assert "Seq Scan" not in plan, plan
            assert re.search(r"Index Cond: \(\(campaign = \$\d+\) AND \(key = ", plan), plan
    finally:
        journal.close()
