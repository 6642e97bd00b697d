"""A shared journal that fails: its store killed mid-run, not a journal, a bad URL.

Every failure is a `JournalError` with the client's error as its cause and the
run's report so far; sends in flight are ``maybe_sent`` in it; after the
store comes back, a rerun sends nobody twice.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any, Callable

import pytest

from textflow import InputValidationError, JournalError
from textflow._many._postgres_journal import PostgresJournal
from textflow._many._redis_journal import RedisJournal
from textflow._report import Progress

from tests.many.many_support import Sender, numbers
from tests.many.stores_support import PostgresServer, RedisServer, campaign


def _killing_after(done: int, kill: Callable[[], None]) -> Callable[[Progress], None]:
    def on_progress(progress: Progress) -> None:
        if progress.done == done:
            kill()

    return on_progress


async def _killed_mid_run_then_rerun(
    many: Sender, url: str, kill: Callable[[], None], start: Callable[[], None]
) -> None:
    recipients = numbers(60)
    with pytest.raises(JournalError) as caught:
        await many.send(
            recipients, "Hi", journal=url, concurrency=4, on_progress=_killing_after(10, kill)
        )
    stopped = caught.value
    assert stopped.__cause__ is not None
    assert stopped.report is not None
    assert stopped.report.sent >= 10
    first = collections.Counter(m.phone_number for m in many.fake.messages)
    assert stopped.report.sent + stopped.report.maybe_sent == sum(first.values())
    start()
    report = await many.send(recipients, "Hi", journal=url, concurrency=4)
    delivered = collections.Counter(m.phone_number for m in many.fake.messages)
    assert set(delivered.values()) == {1}  # nobody twice
    # the first run's claims in flight are still leased: skipped now, maybe sent later
    assert report.sent + report.skipped == 60
    held = {o.phone_number for o in report.with_status("skipped") if o.previous == "sending"}
    assert set(recipients) - held <= set(delivered)


@pytest.mark.anyio
async def test_redis_killed_mid_run(many: Sender, tmp_path: Path) -> None:
    server = RedisServer(str(tmp_path), persistent=True)
    server.start()
    try:
        url = f"{server.url}?campaign={campaign()}"
        await _killed_mid_run_then_rerun(many, url, server.kill, server.start)
    finally:
        server.stop()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # a restart takes a second: one loop
async def test_postgres_killed_mid_run(many: Sender, journal_postgres: PostgresServer) -> None:
    url = f"{journal_postgres.url()}?campaign={campaign()}"
    await _killed_mid_run_then_rerun(many, url, journal_postgres.kill, journal_postgres.start)


def test_redis_keys_that_are_not_a_journal(journal_redis: RedisServer) -> None:
    import redis

    name = campaign()
    client = redis.Redis.from_url(journal_redis.url)
    try:
        client.set(f"textflow:journal:{{{name}}}:meta", "someone else's")
        with pytest.raises(JournalError, match="cannot be used") as caught:
            RedisJournal(f"{journal_redis.url}?campaign={name}")
        assert isinstance(caught.value.__cause__, redis.ResponseError)
        other = campaign()
        client.hset(f"textflow:journal:{{{other}}}:meta", "schema_version", "99")
        with pytest.raises(JournalError, match="not a textflow journal"):
            RedisJournal(f"{journal_redis.url}?campaign={other}")
    finally:
        client.close()


def test_a_postgres_table_that_is_not_a_journal(journal_postgres: PostgresServer) -> None:
    import psycopg

    database = campaign().replace("-", "_")
    with psycopg.connect(journal_postgres.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    with psycopg.connect(journal_postgres.url(database), autocommit=True) as db:
        db.execute("CREATE TABLE textflow_journal (id INT)")
    with pytest.raises(JournalError, match="cannot be used") as caught:
        PostgresJournal(f"{journal_postgres.url(database)}?campaign=x")
    assert isinstance(caught.value.__cause__, psycopg.Error)


def test_a_store_that_is_not_there_is_a_journal_error_without_the_password() -> None:
    for url in (
        "redis://user:hunter2@127.0.0.1:1/0?campaign=x",
        "postgresql://user:hunter2@127.0.0.1:1/db?campaign=x",
    ):
        opener: Any = RedisJournal if url.startswith("redis") else PostgresJournal
        with pytest.raises(JournalError) as caught:
            opener(url)
        assert "hunter2" not in str(caught.value)
        assert caught.value.__cause__ is not None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("journal", "says"),
    [
        ("redis://127.0.0.1:1/0", "campaign=NAME"),
        ("postgresql://127.0.0.1:1/db?campaign=a&campaign=b", "campaign=NAME"),
        ("redis://127.0.0.1:1/0?campaign=spring:sale", "campaign name"),
        ("mysql://127.0.0.1/db?campaign=x", "redis:// or a postgresql://"),
    ],
)
async def test_a_bad_journal_url_is_refused_before_sending(
    many: Sender, journal: str, says: str
) -> None:
    with pytest.raises(InputValidationError, match=says):
        await many.send(numbers(2), "Hi", journal=journal)
    assert many.fake.messages == []


def test_a_postgres_lock_held_too_long_ends_in_a_journal_error(
    journal_postgres: PostgresServer,
) -> None:
    import psycopg

    name = campaign()
    journal = PostgresJournal(f"{journal_postgres.url()}?campaign={name}&timeout=1")
    try:
        assert journal.claim("k1", "+12025550100", resend_maybe_sent=False)
        with psycopg.connect(journal_postgres.url()) as other:  # a transaction left open
            other.execute("SELECT * FROM textflow_journal WHERE campaign = %s FOR UPDATE", (name,))
            with pytest.raises(JournalError, match="cannot be used") as caught:
                journal.record("k1", "sent", "ok")
            assert isinstance(caught.value.__cause__, psycopg.errors.QueryCanceled)
            assert journal.state("k1") == "sending"  # reads wait for no lock
        journal.record("k1", "sent", "ok")  # the lock released: the same journal goes on
        assert journal.state("k1") == "sent"
    finally:
        journal.close()


def test_a_postgres_journal_url_gives_its_timeouts(journal_postgres: PostgresServer) -> None:
    url = f"{journal_postgres.url()}?campaign={campaign()}&timeout=2.5&connect_timeout=3"
    with PostgresJournal(url) as journal:
        row = journal._db.execute(  # the session's settings, as the server has them
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
        ).fetchone()
        assert row == ("2500ms", "2500ms")
        assert journal._db.info.get_parameters()["connect_timeout"] == "3"
    for bad in ("0", "-1", "soon", "nan", "1e9"):
        with pytest.raises(InputValidationError, match="timeout="):
            PostgresJournal(f"{journal_postgres.url()}?campaign=x&timeout={bad}")


def test_a_postgres_that_never_answers_ends_in_a_journal_error() -> None:
    import socket

    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        url = f"postgresql://postgres@127.0.0.1:{port}/db?campaign=x&connect_timeout=2"
        with pytest.raises(JournalError, match="cannot be used") as caught:
            PostgresJournal(url)
    assert caught.value.__cause__ is not None


def test_a_postgres_journal_connects_again_after_the_server_restarts(
    journal_postgres: PostgresServer,
) -> None:
    url = f"{journal_postgres.url()}?campaign={campaign()}"
    with PostgresJournal(url, heartbeat=False) as journal:
        assert journal.claim_many(
            [("a", "+12025550100"), ("b", "+12025550101")], resend_maybe_sent=False
        ) == [None, None]
        journal_postgres.kill()
        journal_postgres.start()
        # the statement under way when the connection was lost fails: its outcome is
        # unknown, so the run stops there and nothing is tried again on its own
        with pytest.raises(JournalError):
            journal.claim("c", "+12025550102", resend_maybe_sent=False)
        with pytest.raises(JournalError):
            journal.record("a", "sent", "ok")
        # the next calls connect again: the claims made before the restart are still
        # this worker's, the one whose statement failed is not claimed twice
        journal.record("a", "sent", "ok")
        journal.record("b", "refused", "no")
        assert journal.claim("c", "+12025550102", resend_maybe_sent=False)
        journal.renew()
        assert journal.counts() == {"refused": 1, "sending": 1, "sent": 1}


def test_a_redis_that_stops_answering_ends_in_a_journal_error(tmp_path: Path) -> None:
    import signal

    import redis

    server = RedisServer(str(tmp_path), persistent=True)
    server.start()
    try:
        url = f"{server.url}?campaign={campaign()}&socket_timeout=1"
        with RedisJournal(url, heartbeat=False) as journal:
            assert journal.claim("a", "+12025550100", resend_maybe_sent=False)
            assert server.process is not None
            server.process.send_signal(signal.SIGSTOP)  # alive, its socket open, silent
            try:
                with pytest.raises(JournalError, match="cannot be used") as caught:
                    journal.record("a", "sent", "ok")
                assert isinstance(caught.value.__cause__, redis.TimeoutError)
            finally:
                server.process.send_signal(signal.SIGCONT)
            journal.record("a", "sent", "ok")  # answering again: the same journal goes on
            assert journal.state("a") == "sent"
            server.kill()
            server.start()  # restarted with its data (append-only file, fsync always)
            assert journal.claim("b", "+12025550101", resend_maybe_sent=False)
            assert journal.counts() == {"sending": 1, "sent": 1}
    finally:
        server.stop()


class _KilledAtAStatement(PostgresJournal):
    """A Postgres journal whose server is killed at the n-th claim or record statement:
    before it runs (the statement fails), or after it ran (it committed, its answer is
    lost: the worker cannot know, as when the server dies between the two)."""

    def __init__(self, url: str, server: PostgresServer, where: str, when: str) -> None:
        super().__init__(url)
        self.server, self.where, self.when, self.calls = server, where, when, 0

    def _at(self, where: str, statement: Callable[[], Any]) -> Any:
        if where == self.where:
            self.calls += 1
            if self.calls == 5:
                if self.when == "before":
                    self.server.kill()
                    return statement()  # fails: the connection is gone
                statement()
                self.server.kill()
                raise JournalError("the answer was lost") from ConnectionError("lost")
        return statement()

    def claim_many(self, claims: Any, *, resend_maybe_sent: bool) -> Any:
        parent = super().claim_many
        return self._at("claim", lambda: parent(claims, resend_maybe_sent=resend_maybe_sent))

    def _write(self, records: Any) -> None:
        parent = super()._write
        self._at("record", lambda: parent(records))


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # a restart takes a second: one loop
@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("where", ["claim", "record"])
async def test_postgres_killed_at_a_statement_then_rerun_sends_nobody_twice(
    many: Sender, journal_postgres: PostgresServer, where: str, when: str
) -> None:
    url = f"{journal_postgres.url()}?campaign={campaign()}"
    recipients = numbers(40)
    journal = _KilledAtAStatement(url, journal_postgres, where, when)
    try:
        with pytest.raises(JournalError) as caught:
            await many.send(recipients, "Hi", journal=journal, concurrency=4)
    finally:
        journal_postgres.start()
        journal.close()
    stopped = caught.value.report
    assert stopped is not None
    first = collections.Counter(m.phone_number for m in many.fake.messages)
    assert stopped.sent + stopped.maybe_sent == sum(first.values())
    report = await many.send(recipients, "Hi", journal=url, concurrency=4)
    delivered = collections.Counter(m.phone_number for m in many.fake.messages)
    assert set(delivered.values()) == {1}  # nobody twice
    held = {o.phone_number for o in report.with_status("skipped") if o.previous == "sending"}
    assert set(recipients) - held <= set(delivered)  # the rest were sent, once
    assert report.sent + report.skipped == 40


def test_a_postgres_that_stops_answering_mid_statement_ends_in_a_journal_error(
    journal_postgres: PostgresServer,
) -> None:
    """A server process that is stopped (a frozen machine, a hung disk) cannot enforce
    its own timeout, and its kernel keeps the connection up: the client gives up."""
    import os
    import signal

    url = f"{journal_postgres.url()}?campaign={campaign()}&timeout=1"
    with PostgresJournal(url, heartbeat=False) as journal:
        assert journal.claim("a", "+12025550100", resend_maybe_sent=False)
        backend = journal._writer.info.backend_pid
        os.kill(backend, signal.SIGSTOP)
        try:
            stopped = False
            while not stopped:  # the signal taken: the process runs no more
                with open(f"/proc/{backend}/stat") as stat:
                    stopped = stat.read().rsplit(")", 1)[1].split()[0] == "T"
            with pytest.raises(JournalError, match="did not answer within 3 seconds"):
                journal.record("a", "sent", "ok")
        finally:
            os.kill(backend, signal.SIGCONT)
        journal.record("a", "sent", "ok")  # connected again
        assert journal.state("a") == "sent"


@pytest.mark.anyio
async def test_a_full_redis_mid_run_stops_with_journal_error_and_a_rerun_sends_nobody_twice(
    many: Sender, tmp_path: Path
) -> None:
    import redis

    server = RedisServer(str(tmp_path))
    server.start()
    admin = redis.Redis.from_url(server.url)
    try:
        url = f"{server.url}?campaign={campaign()}"

        def full(progress: Progress) -> None:  # Redis's "full disk": maxmemory, noeviction
            if progress.done == 50:
                memory: Any = admin.info("memory")  # redis < 8 types it Awaitable | Any
                admin.config_set("maxmemory", int(memory["used_memory"]))

        with pytest.raises(JournalError, match="OutOfMemory") as caught:
            await many.send(numbers(400), "Hi", journal=url, concurrency=4, on_progress=full)
        assert caught.value.__cause__ is not None
        report = caught.value.report
        assert report is not None
        assert report.sent >= 50
        assert report.sent + report.maybe_sent == len(many.fake.messages)
        admin.config_set("maxmemory", 0)
        rerun = await many.send(numbers(400), "Hi", journal=url, concurrency=4)
        delivered = collections.Counter(m.phone_number for m in many.fake.messages)
        assert set(delivered.values()) == {1}  # nobody twice
        # the first run's maybe_sent, and claims it could not give back (a full Redis
        # takes no write), still leased: skipped now; everyone else is sent
        assert rerun.sent + rerun.skipped == 400
        held = {o.phone_number for o in rerun.with_status("skipped") if o.previous != "sent"}
        assert len(held) <= 2 * 4
        assert set(numbers(400)) - held <= set(delivered)
    finally:
        admin.close()
        server.stop()
