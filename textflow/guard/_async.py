"""``AsyncVerificationGuard``: the same rules around an `AsyncTextFlowClient` (asyncio or trio)."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Sequence
from typing import Callable, Optional, Union, cast

import anyio.to_thread

from textflow._async_client import AsyncTextFlowClient
from textflow.guard._core import GuardCore, Secret, check_client, default_secret
from textflow.guard._memory import MemoryStore
from textflow.guard._policy import GuardPolicy
from textflow.guard._store import AsyncGuardStore, Denial, GuardStore, Limit
from textflow.models import VerifyCodeResult, VerifyPhoneOk


class _Inline:
    """A `MemoryStore` called directly: each call takes microseconds and never blocks."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return repr(self._store)

    async def acquire(self, now: float, limits: Sequence[Limit]) -> Optional[Denial]:
        return self._store.acquire(now, limits)

    async def clear(self, keys: Sequence[str]) -> None:
        self._store.clear(keys)


class _InThread:
    """A blocking store (SQLite, sync Redis) called from a worker thread."""

    def __init__(self, store: GuardStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return repr(self._store)

    async def acquire(self, now: float, limits: Sequence[Limit]) -> Optional[Denial]:
        call = functools.partial(self._store.acquire, now, list(limits))
        return await anyio.to_thread.run_sync(call)

    async def clear(self, keys: Sequence[str]) -> None:
        await anyio.to_thread.run_sync(functools.partial(self._store.clear, list(keys)))


def _async_store(store: Union[GuardStore, AsyncGuardStore, None]) -> AsyncGuardStore:
    if store is None:
        return _Inline(MemoryStore())
    if isinstance(store, MemoryStore):
        return _Inline(store)
    if inspect.iscoroutinefunction(store.acquire):
        return cast(AsyncGuardStore, store)
    return _InThread(cast(GuardStore, store))


class AsyncVerificationGuard:
    """`VerificationGuard` for an `AsyncTextFlowClient`, under asyncio or trio.

    Args:
        client: The `AsyncTextFlowClient` that sends and checks codes (not closed by the guard).
        policy: The limits; `GuardPolicy()` defaults if None.
        store: `MemoryStore()` (the default), `AsyncRedisStore` (asyncio), or a
            blocking store (`SQLiteStore`, `RedisStore`), which is then called
            from a worker thread (so it works under trio too).
        secret: Key of the HMAC that hides phone numbers and ``client_key`` in
            the store; defaults to a hash of the client's API key.
        clock: Seconds since the epoch, like ``time.time`` (the default); for tests.

    Examples:
        >>> guard = AsyncVerificationGuard(client)
        >>> await guard.send_code("+11234567890", service_name="Acme", client_key=ip)
        >>> (await guard.check_code("+11234567890", "123456", client_key=ip)).valid
        False
    """

    def __init__(
        self,
        client: AsyncTextFlowClient,
        *,
        policy: Optional[GuardPolicy] = None,
        store: Union[GuardStore, AsyncGuardStore, None] = None,
        secret: Optional[Secret] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_client(client, AsyncTextFlowClient, "AsyncVerificationGuard", "VerificationGuard")
        self._core = GuardCore(policy, default_secret(client) if secret is None else secret, clock)
        self._client = client
        self._store = _async_store(store)

    def __repr__(self) -> str:
        return f"AsyncVerificationGuard(policy={self.policy!r}, store={self._store!r})"

    @property
    def policy(self) -> GuardPolicy:
        """The limits this guard enforces."""
        return self._core.policy

    async def send_code(
        self,
        phone_number: str,
        *,
        service_name: str = "",
        seconds: int = 600,
        client_key: Optional[str] = None,
    ) -> VerifyPhoneOk:
        """As `VerificationGuard.send_code`."""
        plan = self._core.plan_send(phone_number, service_name, seconds, client_key)
        if plan.rules:
            denial = await self._store.acquire(plan.now, plan.limits)
            if denial is not None:
                raise self._core.refused("send_code", plan, denial)
        result = await self._client.send_verification_sms(plan.number, service_name, seconds)
        await self._store.clear([plan.attempts_key])
        return result

    async def check_code(
        self, phone_number: str, code: Union[str, int], client_key: Optional[str] = None
    ) -> VerifyCodeResult:
        """As `VerificationGuard.check_code`."""
        plan = self._core.plan_check(phone_number, code, client_key)
        if plan.rules:
            denial = await self._store.acquire(plan.now, plan.limits)
            if denial is not None:
                raise self._core.refused("check_code", plan, denial)
        result = await self._client.verify_code(plan.number, code)
        if result.valid:
            await self._store.clear([plan.attempts_key])
        return result
