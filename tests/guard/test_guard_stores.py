"""The stores: all-or-nothing counting, no number in clear, TTLs, processes sharing SQLite, trio."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import textflow
from textflow.guard import (
    AsyncRedisStore,
    AsyncVerificationGuard,
    GuardPolicy,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    VerificationGuard,
    VerificationRefused,
)
from textflow.testing import FakeTextFlow

from tests.guard.guard_support import NUMBER, Clock, Guarded

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh sync store of each kind."""
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        sqlite_store = SQLiteStore(tmp_path / "guard.sqlite3")
        yield sqlite_store
        sqlite_store.close()
    else:
        import redis

        client = redis.Redis(port=request.getfixturevalue("redis_port"))
        client.flushdb()
        yield RedisStore(client, prefix="unit:")
        client.close()


async def _stored_text(guarded: Guarded) -> str:
    """Everything the store holds, keys and values, as text."""
    if guarded.store_kind == "memory":
        return repr(guarded._memory._state)
    if guarded.store_kind == "sqlite":
        assert guarded.sqlite_path is not None
        with contextlib.closing(sqlite3.connect(guarded.sqlite_path)) as db:
            rows = db.execute("SELECT * FROM textflow_guard_state").fetchall()
        files = [guarded.sqlite_path, *guarded.sqlite_path.parent.glob("*-wal")]
        return repr(rows) + "".join(repr(path.read_bytes()) for path in files)
    import redis

    assert guarded.redis_port is not None
    client = redis.Redis(port=guarded.redis_port)
    keys: Any = client.keys(guarded.prefix + "*")  # Any: as above, for redis < 8
    values = [client.get(key) for key in keys]
    client.close()
    return repr(keys) + repr(values)


@pytest.mark.anyio
async def test_no_number_code_caller_or_key_in_the_store(guarded: Guarded) -> None:
    caller = "203.0.113.7"
    guarded.guard = guarded.make(GuardPolicy(codes_per_hour=100))
    await guarded.send(client_key=caller)
    code = guarded.code()
    await guarded.check("000000", client_key=caller)
    stored = await _stored_text(guarded)
    assert "attempts:" in stored  # the store does hold the counts
    assert "code:" in stored  # and the code's record: a salted keyed hash
    for secret in (NUMBER, NUMBER[1:], NUMBER[-7:], caller, guarded.fake.api_key):
        assert secret not in stored
    # the code as a value of its own (hex hashes and timestamps may hold its digits by chance)
    assert not re.search(rf"(?<![0-9a-f.]){code}(?![0-9a-f.])", stored)


@pytest.mark.anyio
async def test_the_secret_keys_the_hashes(guarded: Guarded) -> None:
    """Guards sharing a store share limits only with the same secret (or the same API key)."""
    same_key = guarded.make()
    other_secret = guarded.make(secret="another app")
    await guarded.send()
    with pytest.raises(VerificationRefused):
        await guarded.send(guard=same_key)
    await guarded.send(guard=other_secret)
    assert guarded.codes_sent() == 2


def test_guard_arguments_are_checked(tmp_path: Path) -> None:
    fake = FakeTextFlow()
    with fake.client() as client:
        with pytest.raises(textflow.ConfigurationError, match="AsyncVerificationGuard"):
            VerificationGuard(client, store=AsyncRedisStore(_FakeRedis()))  # type: ignore[arg-type]
        for options in ({"secret": ""}, {"secret": 42}, {"policy": {"cooldown": 1}}):
            with pytest.raises(textflow.ConfigurationError):
                VerificationGuard(client, **options)
        with pytest.raises(textflow.ConfigurationError, match="AsyncVerificationGuard"):
            VerificationGuard(fake.async_client(), secret="s")  # type: ignore[arg-type]
        with pytest.raises(textflow.ConfigurationError, match="works with AsyncTextFlowClient"):
            AsyncVerificationGuard(client)  # type: ignore[arg-type]
        lite = SQLiteStore(tmp_path / "g")
        guard = VerificationGuard(client, secret=b"s3cret", store=lite)
        assert "s3cret" not in repr(guard)
        assert guard.policy == GuardPolicy()
        lite.close()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # it ends on AsyncRedisStore: asyncio only
async def test_async_guard_defaults_to_a_memory_store() -> None:
    fake = FakeTextFlow()
    async with fake.async_client() as client:
        guard = AsyncVerificationGuard(client)
        assert "MemoryStore" in repr(guard)
        assert guard.policy == GuardPolicy()
        await guard.send_code(NUMBER)
        with pytest.raises(VerificationRefused):
            await guard.send_code(NUMBER)
    await AsyncRedisStore(_FakeRedis()).write(0.0, [])  # nothing to write: Redis is not asked


class _FakeRedis:
    """Just enough of redis.asyncio.Redis to build a store."""

    def register_script(self, script: str) -> Any:
        async def run(keys: Any, args: Any) -> Any:
            return []

        return run

    async def delete(self, *names: str) -> None:
        raise AssertionError("not called")


# --- trio: the async guard with each kind of store --------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
async def test_async_guard_under_trio(
    kind: str, tmp_path: Path, request: Any, anyio_backend: str
) -> None:
    """Under trio the blocking stores run in a worker thread (redis.asyncio is asyncio-only)."""
    clock, fake = Clock(), FakeTextFlow()
    if kind == "memory":
        store: Any = MemoryStore()
    elif kind == "sqlite":
        store = SQLiteStore(tmp_path / "g.sqlite3")
    else:
        import redis

        store = RedisStore(redis.Redis(port=request.getfixturevalue("redis_port")), prefix="trio:")
    async with fake.async_client() as client:
        guard = AsyncVerificationGuard(client, store=store, clock=clock)
        assert kind in repr(guard).lower()
        await guard.send_code(NUMBER, service_name="Acme")
        with pytest.raises(VerificationRefused):
            await guard.send_code(NUMBER, service_name="Acme")
        code = fake.last_code(NUMBER)
        assert code is not None
        assert (await guard.check_code(NUMBER, code)).valid
    assert len(fake.messages) == 1
    if kind == "redis":
        store._redis.close()
    elif kind == "sqlite":
        store.close()


# --- SQLite: two processes share the file -------------------------------------------------

_PROCESS = """
import concurrent.futures, sys
from textflow.guard import GuardPolicy, SQLiteStore, VerificationGuard, VerificationRefused
from textflow.testing import FakeTextFlow

fake = FakeTextFlow()
with fake.client() as client:
    guard = VerificationGuard(
        client, store=SQLiteStore(sys.argv[1]), policy=GuardPolicy(cooldown=3600),
        secret="shared",
    )

    def send(_):
        try:
            guard.send_code("+11234567890", service_name="Acme")
        except VerificationRefused:
            pass

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(25)))
print(len(fake.messages))
"""


def test_two_processes_sharing_one_sqlite_file_send_one_code(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    script = textwrap.dedent(_PROCESS)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    sent = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        sent.append(int(out))
    assert sorted(sent) == [0, 1]  # 50 attempts in two processes: one SMS


def test_a_store_opened_while_another_process_writes_the_file_waits_its_turn(
    tmp_path: Path,
) -> None:
    """Turning a new file to WAL under another writer's lock waits, as ``timeout`` says.

    SQLite answers "database is locked" at once there (it skips its busy handler to avoid a
    deadlock): two processes opening one new file at the same time failed in CI.
    """
    import threading

    path = tmp_path / "new.sqlite3"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE other_app (a)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO other_app VALUES (1)")
    opened: list[Any] = []

    def open_store() -> None:
        try:
            opened.append(SQLiteStore(path, timeout=60))
        except BaseException as exc:  # reported below, not lost in the thread
            opened.append(exc)

    thread = threading.Thread(target=open_store)
    thread.start()
    thread.join(0.2)  # the store meets the held lock (or, on a slow machine, comes after it)
    other.execute("COMMIT")
    other.close()
    thread.join(60)
    assert len(opened) == 1
    assert isinstance(opened[0], SQLiteStore), opened
    opened[0].close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    check.close()
