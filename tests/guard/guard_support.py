"""Fixtures and helpers for the guard tests: every rule runs sync and async, on every store.

``guarded`` is a `Guarded` harness for one (mode, store) pair: ``mode`` is
``sync`` (`VerificationGuard` over `TextFlowClient`) or ``async``
(`AsyncVerificationGuard` over `AsyncTextFlowClient`); the store is memory,
SQLite (a file in tmp_path) or Redis (a real ``redis-server`` this test session
starts on a free 127.0.0.1 port). Tests are ``async def`` and ``await
guarded.send(...)``, which calls the sync guard directly or awaits the async one.
Time is a `Clock` the test moves; nothing sleeps.

The clients count the requests that reach the fake, so a test can say
"TextFlow was not asked".
"""

from __future__ import annotations

import collections
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Optional, Union

import httpx
import pytest

from textflow import AsyncTextFlowClient, TextFlowClient
from textflow.guard import (
    AsyncRedisStore,
    AsyncVerificationGuard,
    GuardPolicy,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    Velocity,
    VerificationGuard,
)
from textflow.testing import FakeTextFlow

from tests.tools import missing, require_tool
from tests.watchdog import Watchdog

START = 1_700_000_000.0
NUMBER = "+11234567890"
OTHER = "+447700900123"
IN_PROCESS = "https://textflow.invalid/api"
Guard = Union[VerificationGuard, AsyncVerificationGuard]
V1_RULES = GuardPolicy(
    velocity=Velocity(prefix_per_hour=None, prefix_per_day=None),
    prefix_conversion=None,
    country_conversion=None,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Requests:
    """How many requests reached the fake, per path (``"verify-code"``, ``"send-code"``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()

    def count(self, request: httpx.Request) -> None:
        with self._lock:
            self.counts[request.url.path.rsplit("/", 1)[-1]] += 1


def counting_client(fake: FakeTextFlow, requests: Requests) -> TextFlowClient:
    inner = fake.transport()

    def handle(request: httpx.Request) -> httpx.Response:
        requests.count(request)
        return inner.handle_request(request)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    return TextFlowClient(fake.api_key, base_url=IN_PROCESS, http_client=http, max_retries=0)


def counting_async_client(fake: FakeTextFlow, requests: Requests) -> AsyncTextFlowClient:
    inner = fake.async_transport()

    async def handle(request: httpx.Request) -> httpx.Response:
        requests.count(request)
        return await inner.handle_async_request(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return AsyncTextFlowClient(fake.api_key, base_url=IN_PROCESS, http_client=http, max_retries=0)


# --- a real redis-server for the session --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A ``redis-server`` on a free 127.0.0.1 port, no persistence; stopped after the session."""
    try:
        import redis
    except ImportError:
        missing("the redis package", "pip install -e '.[redis]'")
    binary = require_tool("redis-server", "apt-get install redis-server")
    workdir = tmp_path_factory.mktemp("redis")
    for _ in range(3):  # another process may take the free port first: try another
        port = _free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(workdir)]
        server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        watchdog = Watchdog(server.pid)  # stops it should this test run be killed
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 20
        while server.poll() is None and time.monotonic() < deadline:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        if server.poll() is None and time.monotonic() < deadline:
            try:
                yield port
            finally:
                server.terminate()
                server.wait(timeout=20)
                watchdog.release()
            return
        server.kill()
        server.wait(timeout=20)
        watchdog.release()
    pytest.fail("redis-server did not start")


# --- the harness ---------------------------------------------------------------------------


class Guarded:
    """Guards of one mode over one kind of store, sharing a fake, a clock and a backend."""

    def __init__(
        self,
        mode: str,
        store: str,
        fake: FakeTextFlow,
        clock: Clock,
        *,
        sqlite_path: Optional[Path] = None,
        redis_port: Optional[int] = None,
    ) -> None:
        self.mode = mode
        self.store_kind = store
        self.fake = fake
        self.clock = clock
        self.requests = Requests()
        self.sqlite_path = sqlite_path
        self.redis_port = redis_port
        self.prefix = f"test:{uuid.uuid4().hex}:"
        self._clients: list[Union[TextFlowClient, AsyncTextFlowClient]] = []
        self._closers: list[Any] = []
        self._memory = MemoryStore()
        self.guard = self.make()

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    def store(self) -> Any:
        """A new store object on this harness's backend (as another process would make)."""
        if self.store_kind == "memory":
            return self._memory  # one process: guards share the object
        if self.store_kind == "sqlite":
            assert self.sqlite_path is not None
            store = SQLiteStore(self.sqlite_path)
            self._closers.append(store.close)
            return store
        import redis
        import redis.asyncio

        assert self.redis_port is not None
        if self.is_async:
            async_client = redis.asyncio.Redis(port=self.redis_port)
            self._closers.append(async_client.aclose)
            return AsyncRedisStore(async_client, prefix=self.prefix)
        sync_client = redis.Redis(port=self.redis_port)
        self._closers.append(sync_client.close)
        return RedisStore(sync_client, prefix=self.prefix)

    def make(self, policy: Optional[GuardPolicy] = None, **options: Any) -> Guard:
        """A guard on this harness; without a policy, the v1 rules only (the pumping
        rules, tested in test_guard_pumping.py with policies of their own, off)."""
        if policy is None:
            policy = V1_RULES
        options.setdefault("clock", self.clock)
        if "store" not in options:
            options["store"] = self.store()
        if self.is_async:
            client: Union[TextFlowClient, AsyncTextFlowClient]
            client = counting_async_client(self.fake, self.requests)
            self._clients.append(client)
            return AsyncVerificationGuard(client, policy=policy, **options)
        client = counting_client(self.fake, self.requests)
        self._clients.append(client)
        return VerificationGuard(client, policy=policy, **options)

    async def send(self, number: str = NUMBER, guard: Optional[Guard] = None, **kw: Any) -> Any:
        guard = guard or self.guard
        kw.setdefault("service_name", "Acme")
        if isinstance(guard, AsyncVerificationGuard):
            return await guard.send_code(number, **kw)
        return guard.send_code(number, **kw)

    async def check(
        self, code: str, number: str = NUMBER, guard: Optional[Guard] = None, **kw: Any
    ) -> Any:
        guard = guard or self.guard
        if isinstance(guard, AsyncVerificationGuard):
            return await guard.check_code(number, code, **kw)
        return guard.check_code(number, code, **kw)

    def code(self, number: str = NUMBER) -> str:
        return self.fake.last_code(number)

    def codes_sent(self) -> int:
        return sum(1 for m in self.fake.messages if m.kind == "code")

    async def close(self) -> None:
        for client in self._clients:
            if isinstance(client, AsyncTextFlowClient):
                await client.aclose()
            else:
                client.close()
        for close in self._closers:
            result = close()
            if hasattr(result, "__await__"):
                await result


STORES = ["memory", "sqlite", "redis"]


PAIRS = [(mode, store) for store in STORES for mode in ("sync", "async")]


@pytest.fixture(params=PAIRS, ids=[f"{mode}-{store}" for mode, store in PAIRS])
async def guarded(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Guarded]:
    mode, store = request.param
    clock = Clock()
    fake = FakeTextFlow(clock=clock)
    port = request.getfixturevalue("redis_port") if store == "redis" else None
    harness = Guarded(
        mode, store, fake, clock, sqlite_path=tmp_path / "guard.sqlite3", redis_port=port
    )
    try:
        yield harness
    finally:
        await harness.close()
