"""Concurrency on a prefix limit, stores that fail, and what a store's raw contents hold."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional, cast

import pytest

from textflow.errors import GuardStoreError
from textflow.guard import (
    AsyncRedisStore,
    AsyncVerificationGuard,
    GuardPolicy,
    MemoryStore,
    RedisStore,
    Velocity,
    VerificationGuard,
    VerificationRefused,
)
from textflow.guard._checks import Check, Write
from textflow.guard._store import Verdict
from textflow.testing import FakeTextFlow

from tests.guard.guard_support import NUMBER, Guarded, _free_port
from tests.tools import require_tool
from tests.watchdog import Watchdog

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "+4479460"
TEN_PER_PREFIX = GuardPolicy(
    velocity=Velocity(prefix_per_hour=10, prefix_per_day=None),
    prefix_conversion=None,
    country_conversion=None,
    codes_per_caller_per_hour=None,
)


# --- 50 concurrent sends to one prefix, a limit of 10 -------------------------------------


@pytest.mark.anyio
async def test_fifty_concurrent_sends_to_one_prefix_send_ten(guarded: Guarded) -> None:
    """Threads (sync guard) or tasks (async guard), each to another number of one prefix."""
    guarded.guard = guarded.make(TEN_PER_PREFIX)
    numbers = iter([f"{PREFIX}{n:04d}" for n in range(50)])  # next() is atomic on a list iterator
    guard = guarded.guard

    if isinstance(guard, AsyncVerificationGuard):
        async_guard = guard

        async def send_next() -> object:
            return await async_guard.send_code(next(numbers), service_name="Acme")

        outcomes = await run_parallel_calls(guarded, 50, send_next)
    else:
        sync_guard = guard
        outcomes = _threads(lambda: sync_guard.send_code(next(numbers), service_name="Acme"))
    refusals = [o for o in outcomes if isinstance(o, VerificationRefused)]
    assert len(outcomes) == 50
    assert {r.reason for r in refusals} == {"prefix_velocity"}
    assert len(refusals) == 40
    assert guarded.codes_sent() == 10
    assert guarded.requests.counts["send-code"] == 10


def _threads(call: Any, count: int = 50) -> list[object]:
    import concurrent.futures

    def one() -> object:
        try:
            return call()
        except VerificationRefused as exc:
            return exc

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        return [f.result(timeout=120) for f in [pool.submit(one) for _ in range(count)]]


async def run_parallel_calls(guarded: Guarded, count: int, call: Any) -> list[object]:
    import anyio

    outcomes: list[object] = []

    async def one() -> None:
        try:
            outcomes.append(await call())
        except VerificationRefused as exc:
            outcomes.append(exc)

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tasks:
            for _ in range(count):
                tasks.start_soon(one)
    return outcomes


_PROCESS = """
import concurrent.futures, sys
import redis
from textflow.guard import (
    GuardPolicy, RedisStore, SQLiteStore, Velocity, VerificationGuard, VerificationRefused,
)
from textflow.testing import FakeTextFlow

kind, where, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if kind == "sqlite":
    store = SQLiteStore(where)
else:
    store = RedisStore(redis.Redis(port=int(where)), prefix="procs:" + sys.argv[5] + ":")
policy = GuardPolicy(
    velocity=Velocity(prefix_per_hour=10, prefix_per_day=None),
    prefix_conversion=None, country_conversion=None, codes_per_caller_per_hour=None,
)
fake = FakeTextFlow()
with fake.client() as client:
    guard = VerificationGuard(client, store=store, policy=policy, secret="shared")

    def send(n):
        try:
            guard.send_code("+4479460%04d" % n, service_name="Acme")
        except VerificationRefused as exc:
            assert exc.reason == "prefix_velocity", exc.reason

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(send, range(first, first + count)))
print(len(fake.messages))
"""


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_four_processes_fifty_sends_to_one_prefix_send_ten(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    where = str(tmp_path / "shared.sqlite3")
    if kind == "redis":
        where = str(request.getfixturevalue("redis_port"))
    script = textwrap.dedent(_PROCESS)
    tag = tmp_path.name
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, kind, where, str(first), str(count), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for first, count in ((0, 13), (13, 13), (26, 12), (38, 12))
    ]
    sent = 0
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        sent += int(out)
    assert sent == 10


# --- a Redis server killed mid-run ----------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Any]:
    """A redis-server of this test's own (the test kills it); stopped after."""
    pytest.importorskip("redis")
    binary = require_tool("redis-server", "apt-get install redis-server")
    server = _RedisServer(binary, tmp_path)
    try:
        yield server
    finally:
        server.stop()


class _RedisServer:
    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary, self.workdir = binary, workdir
        self.port = _free_port()
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.watchdog: Optional[Watchdog] = None  # stops it should this test run be killed
        self.start()

    def start(self) -> None:
        import redis

        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.workdir)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._release()
        self.watchdog = Watchdog(self.process.pid)
        client = redis.Redis(port=self.port)
        for _ in range(400):  # up to 20 s
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=20)
        self._release()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self._release()

    def _release(self) -> None:
        if self.watchdog is not None:
            self.watchdog.release()
            self.watchdog = None


def _store(server: _RedisServer, is_async: bool) -> Any:
    import redis
    import redis.asyncio
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options: dict[str, Any] = {"port": server.port, "socket_timeout": 5}
    if is_async:
        from redis.asyncio.retry import Retry as AsyncRetry

        return AsyncRedisStore(redis.asyncio.Redis(retry=AsyncRetry(NoBackoff(), 0), **options))
    return RedisStore(redis.Redis(retry=Retry(NoBackoff(), 0), **options))


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # AsyncRedisStore is asyncio only
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("fail_open", [False, True], ids=["fail-closed", "fail-open"])
async def test_redis_killed_mid_run(
    own_redis: _RedisServer, is_async: bool, fail_open: bool
) -> None:
    fake = FakeTextFlow()
    policy = GuardPolicy(fail_open=fail_open)
    guard: Any
    if is_async:
        client: Any = fake.async_client()
        guard = AsyncVerificationGuard(client, store=_store(own_redis, True), policy=policy)
    else:
        client = fake.client()
        guard = VerificationGuard(client, store=_store(own_redis, False), policy=policy)

    async def send(number: str) -> Any:
        result = guard.send_code(number, service_name="Acme")
        return await result if is_async else result

    await send("+447700900001")
    own_redis.kill()
    if fail_open:
        await send("+447700900002")
        assert len(fake.messages) == 2
        stats = guard.stats()
        assert (stats["send_code.store_failed"], stats["send_code.not_recorded"]) == (1, 1)
    else:
        with pytest.raises(GuardStoreError) as caught:
            await send("+447700900002")
        assert caught.value.__cause__ is not None
        assert len(fake.messages) == 1  # fail closed: nothing sent
    own_redis.start()  # back, empty: the guard works again without a restart
    await send("+447700900003")
    assert len(fake.messages) == (3 if fail_open else 2)
    if is_async:
        await client.aclose()
        await guard._store._redis.aclose()
    else:
        client.close()
        guard._store._redis.close()


# --- a store failing after the SMS went out -----------------------------------------------


class _FailingWrites:
    """A memory store whose writes fail (as Redis going down right after a decision)."""

    def __init__(self) -> None:
        self.inner = MemoryStore()

    def decide(
        self,
        now: float,
        checks: Sequence[Check],
        *,
        always: bool = False,
        read: Optional[str] = None,
    ) -> Verdict:
        return self.inner.decide(now, checks, always=always, read=read)

    def write(self, now: float, writes: Sequence[Write]) -> None:
        raise GuardStoreError("The guard's store failed: down")


def test_a_store_failing_after_the_send_returns_the_result(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The SMS went out: the caller gets the result, not an error; the failure is logged."""
    fake = FakeTextFlow()
    with fake.client() as client:
        guard = VerificationGuard(client, store=_FailingWrites())
        with caplog.at_level(logging.WARNING, logger="textflow.guard"):
            result = guard.send_code(NUMBER, service_name="Acme")
        assert result.data.verification_code == fake.last_code(NUMBER)
        assert len(fake.messages) == 1
        assert guard.stats() == {"send_code.allowed": 1, "send_code.not_recorded": 1}
        assert "not recorded" in caplog.text
        code = fake.last_code(NUMBER)
        assert code is not None
        assert code not in caplog.text
        # that code was not recorded: checking it is answered locally, not valid
        assert not guard.check_code(NUMBER, code).valid


def test_client_key_and_session_are_keyword_only() -> None:
    fake = FakeTextFlow()
    with fake.client() as client:
        guard = VerificationGuard(client)
        with pytest.raises(TypeError):
            # through Any: mypy 1.x (Python 3.9) and 2.x name this error differently
            cast(Any, guard).check_code(NUMBER, "123456", "203.0.113.7")
