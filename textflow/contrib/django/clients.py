"""The project's clients, fake and guard: one of each per process, built on first use.

* `get_client()` returns one `TextFlowClient` per process, shared by every thread.
  A process forked after using it (gunicorn ``--preload``, uWSGI, Celery prefork)
  keeps the same object: the client's own transport notices the fork and opens the
  child's own connections, never using or closing the parent's.
* `get_async_client()` returns one `AsyncTextFlowClient` per process and event
  loop: under an ASGI server that is one client. Under WSGI, Django runs each async
  view in an event loop of its own, and an async client belongs to one running
  loop at a time, so each loop gets its own (its connections are let go as the
  loop ends).
* At interpreter exit the sync client is closed (``atexit``); an async client's
  connections are let go by its event loop's end.
* ``TEXTFLOW = {"FAKE": True}`` makes every client talk in process to one
  `textflow.testing.FakeTextFlow` (`get_fake()`): nothing is sent.
* A change of the ``TEXTFLOW`` setting (``override_settings`` in tests) drops
  them all (`reset()`), so the next call builds them anew from the new setting.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import os
import threading
from typing import TYPE_CHECKING, Any, Optional, Union, cast

from django.core.signals import setting_changed

from textflow._async_client import AsyncTextFlowClient
from textflow._client import TextFlowClient
from textflow.contrib.django import settings as conf
from textflow.errors import ConfigurationError
from textflow.guard import (
    AsyncGuardStore,
    AsyncVerificationGuard,
    GuardStore,
    MemoryStore,
    VerificationGuard,
)

if TYPE_CHECKING:
    from textflow.testing import FakeTextFlow


class _Async:
    """An event loop's client, and its guard once asked for."""

    __slots__ = ("client", "guard")

    def __init__(self, client: AsyncTextFlowClient) -> None:
        self.client = client
        self.guard: Optional[AsyncVerificationGuard] = None


class _Registry:
    """What one process holds; every field is guarded by ``_lock``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings: Optional[conf.TextFlowSettings] = None
        self._fake: Optional[FakeTextFlow] = None
        self._client: Optional[TextFlowClient] = None
        self._guard: Optional[VerificationGuard] = None
        # By event loop; a closed loop's client is dropped at the next miss (a client
        # holds its loop alive, so weak keys would keep one client per loop forever).
        self._async: dict[Optional[asyncio.AbstractEventLoop], _Async] = {}
        self._store: Union[GuardStore, AsyncGuardStore, None] = None

    def settings(self) -> conf.TextFlowSettings:
        with self._lock:
            return self._loaded()

    def _loaded(self) -> conf.TextFlowSettings:
        if self._settings is None:
            self._settings = conf.load()
        return self._settings

    def _the_fake(self) -> FakeTextFlow:
        if self._fake is None:
            from textflow.testing import FakeTextFlow

            self._fake = FakeTextFlow()
        return self._fake

    def fake(self) -> FakeTextFlow:
        with self._lock:
            if not self._loaded().fake:
                raise ConfigurationError(
                    f"get_fake() needs settings.{conf.SETTING} = {{'FAKE': True}} (tests only)."
                )
            return self._the_fake()

    def client(self) -> TextFlowClient:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                loaded = self._loaded()
                if loaded.fake:
                    self._client = self._the_fake().client(**_options(loaded, fake=True))
                else:
                    self._client = TextFlowClient(loaded.api_key, **_options(loaded))
            return self._client

    def _for_this_loop(self) -> _Async:
        """This event loop's client (None: code outside any asyncio loop). Caller holds
        the lock."""
        try:
            loop: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:  # no asyncio loop runs in this thread (sync code, or trio)
            loop = None
        entry = self._async.get(loop)
        if entry is None:
            self._async = {
                old: kept for old, kept in self._async.items() if old is None or not old.is_closed()
            }
            loaded = self._loaded()
            if loaded.fake:
                client = self._the_fake().async_client(**_options(loaded, fake=True))
            else:
                client = AsyncTextFlowClient(loaded.api_key, **_options(loaded))
            entry = self._async[loop] = _Async(client)
        return entry

    def async_client(self) -> AsyncTextFlowClient:
        with self._lock:
            return self._for_this_loop().client

    def _guard_store(self) -> Union[GuardStore, AsyncGuardStore]:
        """The setting's store, else one `MemoryStore` that every guard of the process
        shares (one per event loop would forget its counts with each loop)."""
        if self._store is None:
            given = self._loaded().guard_store
            self._store = MemoryStore() if given is None else given
        return self._store

    def guard(self) -> VerificationGuard:
        client = self.client()
        with self._lock:
            if self._guard is None:
                policy = self._loaded().guard_policy
                store = self._guard_store()
                if inspect.iscoroutinefunction(store.decide):
                    raise ConfigurationError(
                        f"settings.{conf.SETTING}['GUARD_STORE'] is an async store: the sync "
                        "guard (get_guard(), TextFlowDevice) needs a blocking one, such as "
                        "RedisStore or SQLiteStore (the async guard takes those too)."
                    )
                self._guard = VerificationGuard(
                    client, policy=policy, store=cast(GuardStore, store)
                )
            return self._guard

    def async_guard(self) -> AsyncVerificationGuard:
        with self._lock:
            entry = self._for_this_loop()
            if entry.guard is None:
                entry.guard = AsyncVerificationGuard(
                    entry.client, policy=self._loaded().guard_policy, store=self._guard_store()
                )
            return entry.guard

    def reset(self) -> None:
        """Forget the setting and every client; close the sync one."""
        with self._lock:
            client = self._client
            self._settings = self._fake = self._client = self._guard = self._store = None
            self._async = {}
        if client is not None:
            client.close()

    def after_fork(self) -> None:
        # Another thread may have held the lock as the process forked: the child's is free.
        self._lock = threading.Lock()


def _options(loaded: conf.TextFlowSettings, *, fake: bool = False) -> dict[str, Any]:
    options: dict[str, Any] = {"timeout": loaded.timeout, "max_retries": loaded.max_retries}
    if not fake:
        options["base_url"] = loaded.base_url
    return options


_registry = _Registry()
if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_registry.after_fork)
atexit.register(_registry.reset)


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting == conf.SETTING:
        _registry.reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="textflow.contrib.django.settings")


def get_client() -> TextFlowClient:
    """The process's `TextFlowClient`, built from ``settings.TEXTFLOW`` on first use.

    Raises:
        ConfigurationError: The setting is wrong, or there is no API key at all.

    Examples:
        >>> from textflow.contrib.django import get_client
        >>> get_client().send_sms("+11234567890", "Your table is ready")
    """
    return _registry.client()


def get_async_client() -> AsyncTextFlowClient:
    """The `AsyncTextFlowClient` of this process and running event loop.

    Examples:
        >>> from textflow.contrib.django import get_async_client
        >>> await get_async_client().send_sms("+11234567890", "Your table is ready")
    """
    return _registry.async_client()


def get_guard() -> VerificationGuard:
    """The process's `VerificationGuard` over `get_client()`, with the setting's
    ``GUARD_POLICY`` and ``GUARD_STORE`` (default: one `MemoryStore` per process).

    Raises:
        ConfigurationError: ``GUARD_STORE`` is an async-only store.

    Examples:
        >>> get_guard().send_code("+11234567890", service_name="Acme", client_key=ip)
    """
    return _registry.guard()


def get_async_guard() -> AsyncVerificationGuard:
    """The `AsyncVerificationGuard` over `get_async_client()` (same policy and store,
    so its counts are the sync guard's).

    Examples:
        >>> await get_async_guard().send_code("+11234567890", service_name="Acme")
    """
    return _registry.async_guard()


def get_fake() -> FakeTextFlow:
    """The `FakeTextFlow` every client talks to under ``TEXTFLOW = {"FAKE": True}``.

    Raises:
        ConfigurationError: The setting does not say ``"FAKE": True``.

    Examples:
        >>> get_client().send_sms("+11234567890", "Hi")
        >>> get_fake().messages[-1].text
        'Hi'
    """
    return _registry.fake()


def get_settings() -> conf.TextFlowSettings:
    """The ``TEXTFLOW`` setting, checked (read once, until `reset()`).

    Examples:
        >>> get_settings().service_name
        'Acme'
    """
    return _registry.settings()


def reset() -> None:
    """Drop the clients, the guard and the fake; the next call builds them anew.

    Called when the ``TEXTFLOW`` setting changes (``override_settings``) and at exit.

    Examples:
        >>> reset()  # the next get_client() reads settings.TEXTFLOW again
    """
    _registry.reset()
