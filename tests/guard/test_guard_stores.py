"""The stores: all-or-nothing counting, no number in clear, TTLs, processes sharing SQLite, trio."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import textflow
from textflow.errors import GuardStoreError
from textflow.guard import (
    AsyncRedisStore,
    AsyncVerificationGuard,
    GuardPolicy,
    GuardStore,
    Limit,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    VerificationGuard,
    VerificationRefused,
    _memory,
    _sqlite,
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


def test_acquire_is_all_or_nothing(store: Any) -> None:
    one, three = Limit("a", 1, 10.0), Limit("b", 3, 100.0)
    assert store.acquire(1000.0, [one, three]) is None
    denial = store.acquire(1001.0, [three, one])  # "a" is full: "b" must not count this
    assert (denial.index, denial.retry_after) == (1, pytest.approx(9.0))
    assert store.acquire(1010.0, [one, three]) is None  # "a" aged out; "b" now holds 2
    assert store.acquire(1011.0, [three]) is None
    denial = store.acquire(1012.0, [three])
    assert (denial.index, denial.retry_after) == (0, pytest.approx(88.0))
    store.clear(["b", "never-used"])
    assert store.acquire(1012.0, [three]) is None
    assert store.acquire(1012.0, []) is None
    long, short = Limit("long", 1, 100.0), Limit("short", 1, 10.0)
    assert store.acquire(2000.0, [long, short]) is None
    for limits, index in (([long, short], 0), ([short, long], 1)):  # the longest wait wins
        denial = store.acquire(2001.0, limits)
        assert (denial.index, denial.retry_after) == (index, pytest.approx(99.0))


def test_sweeps_drop_expired_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_memory, "_SWEEP_EVERY", 2)
    monkeypatch.setattr(_sqlite, "_SWEEP_EVERY", 2)
    memory, lite = MemoryStore(), SQLiteStore(tmp_path / "g.sqlite3")
    for store in (memory, lite):
        store.acquire(0.0, [Limit("old", 1, 10.0)])
        store.acquire(100.0, [Limit("new", 1, 10.0)])  # the second call sweeps
    assert repr(memory) == "MemoryStore(keys=1)"
    with contextlib.closing(sqlite3.connect(tmp_path / "g.sqlite3")) as db:
        rows = db.execute("SELECT key FROM textflow_guard_events").fetchall()
    assert [key for (key,) in rows] == ["new"]
    lite.close()


def test_sqlite_rolls_back_a_failed_transaction(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "g.sqlite3")
    with pytest.raises(GuardStoreError) as caught:
        store.acquire(0.0, [Limit("ok", 1, 10.0), Limit(None, 1, 10.0)])  # type: ignore[arg-type]
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert store.acquire(0.0, [Limit("ok", 1, 10.0)]) is None  # "ok" was not counted
    store.close()
    store.close()
    assert store.acquire(1.0, [Limit("ok", 1, 10.0)]) is not None  # reopens after close
    store.close()


def test_redis_keys_have_the_prefix_and_expire(redis_port: int) -> None:
    import redis

    client = redis.Redis(port=redis_port)
    store = RedisStore(client, prefix="app1:")
    store.acquire(0.0, [Limit("k", 2, 30.0)])
    assert client.keys("app1:*") == [b"app1:k"]
    # Any: redis < 8 (the last for Python 3.9) types a sync reply as "Awaitable | Any"
    pttl: Any = client.pttl("app1:k")
    assert 29_000 < pttl <= 30_000
    store.clear([])
    client.close()
    decoding = redis.Redis(port=redis_port, decode_responses=True)  # str replies, not bytes
    store = RedisStore(decoding, prefix="app2:")
    assert store.acquire(0.0, [Limit("k", 1, 30.0)]) is None
    denial = store.acquire(10.5, [Limit("k", 1, 30.0)])
    assert denial is not None
    assert denial.retry_after == pytest.approx(19.5)
    decoding.close()
    with pytest.raises(textflow.ConfigurationError):
        RedisStore(client, prefix=None)  # type: ignore[arg-type]


async def _stored_text(guarded: Guarded) -> str:
    """Everything the store holds, keys and values, as text."""
    if guarded.store_kind == "memory":
        return repr(guarded._memory._events)
    if guarded.store_kind == "sqlite":
        assert guarded.sqlite_path is not None
        with contextlib.closing(sqlite3.connect(guarded.sqlite_path)) as db:
            rows = db.execute("SELECT * FROM textflow_guard_events").fetchall()
        return repr(rows) + repr(guarded.sqlite_path.read_bytes())
    import redis

    assert guarded.redis_port is not None
    client = redis.Redis(port=guarded.redis_port)
    keys: Any = client.keys(guarded.prefix + "*")  # Any: as above, for redis < 8
    values = [client.zrange(key, 0, -1, withscores=True) for key in keys]
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
    for secret in (NUMBER, NUMBER[1:], NUMBER[-7:], code, caller, guarded.fake.api_key):
        assert secret not in stored


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
    await AsyncRedisStore(_FakeRedis()).clear([])  # nothing to clear: Redis is not asked


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


# --- the three stores agree ---------------------------------------------------------------

_LIMITS = {"a": Limit("a", 1, 5.0), "b": Limit("b", 3, 20.0), "c": Limit("c", 2, 7.5)}
_STEP = st.tuples(
    st.floats(min_value=0, max_value=12, allow_nan=False).map(lambda t: round(t, 3)),
    st.sampled_from(["acquire", "acquire", "acquire", "clear"]),
    st.lists(st.sampled_from(sorted(_LIMITS)), min_size=1, max_size=3, unique=True),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_STEP, max_size=25))
def test_memory_sqlite_and_redis_give_the_same_answers(
    redis_port: int, steps: list[tuple[float, str, list[str]]]
) -> None:
    """A random history of acquires and clears: every store answers each step alike."""
    import redis

    client = redis.Redis(port=redis_port)
    prefix = f"agree:{uuid.uuid4().hex}:"
    with tempfile.TemporaryDirectory() as folder:
        lite = SQLiteStore(Path(folder) / "g.sqlite3")
        stores: list[GuardStore] = [MemoryStore(), lite, RedisStore(client, prefix=prefix)]
        now = 1_700_000_000.0
        for delay, op, names in steps:
            now += delay
            limits = [_LIMITS[name] for name in names]
            if op == "clear":
                for store in stores:
                    store.clear(names)
                continue
            answers = [store.acquire(now, limits) for store in stores]
            first = answers[0]
            for answer in answers[1:]:
                if first is None:
                    assert answer is None
                else:
                    assert answer is not None
                    assert answer.index == first.index
                    assert answer.retry_after == pytest.approx(first.retry_after, abs=1e-6)
        lite.close()
    client.close()
