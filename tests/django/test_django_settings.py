"""The TEXTFLOW setting: checked, one client per process, rebuilt when it changes."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import weakref
from typing import Any

import pytest
from django.test import override_settings

from textflow import (
    AsyncTextFlowClient,
    ClientStateError,
    ConfigurationError,
    TextFlowClient,
    VerificationRefused,
)
from textflow.contrib.django import (
    get_async_client,
    get_async_guard,
    get_client,
    get_fake,
    get_guard,
    get_settings,
    reset,
)
from textflow.contrib.django import settings as conf
from textflow.guard import GuardPolicy
from textflow.testing import FakeTextFlow

from tests.django.django_support import PHONE


def test_one_client_per_process_shared_by_threads(project_fake: FakeTextFlow) -> None:
    seen: list[TextFlowClient] = []
    threads = [threading.Thread(target=lambda: seen.append(get_client())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(client) for client in seen}) == 1
    assert seen[0] is get_client()
    assert get_client().send_sms(PHONE, "Hi").ok
    assert project_fake.messages[-1].text == "Hi"


def test_a_changed_setting_builds_a_new_client_and_closes_the_old(
    project_fake: FakeTextFlow,
) -> None:
    old = get_client()
    with override_settings(TEXTFLOW={"FAKE": True, "MAX_RETRIES": 0}):
        new = get_client()
        assert new is not old
        assert new.max_retries == 0
        with pytest.raises(ClientStateError, match="closed"):
            old.get_balance()
        assert get_fake() is not project_fake  # a fresh fake with the fresh setting
    assert get_client().max_retries == 2  # the setting restored: built from it again


REAL = {
    "API_KEY": "tf_live_not_a_real_key",
    "BASE_URL": "http://127.0.0.1:9/api",
    "TIMEOUT": 7.0,
    "MAX_RETRIES": 1,
}


@override_settings(TEXTFLOW=REAL)
def test_real_settings_reach_the_client() -> None:
    client = get_client()
    assert str(client.base_url).startswith("http://127.0.0.1:9/api")
    assert client.max_retries == 1
    assert "tf_live_not_a_real_key" not in repr(get_settings())
    with pytest.raises(ConfigurationError, match="FAKE"):
        get_fake()


@override_settings(TEXTFLOW={})
def test_no_key_anywhere_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="API key"):
        get_client()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"APIKEY": "x"}, "unknown keys \\['APIKEY'\\]"),
        ({"TIMEOUT": "30"}, "TIMEOUT"),
        ({"FAKE": 1}, "FAKE"),
        ({"MAX_RETRIES": True}, "MAX_RETRIES"),
        ({"MAX_RETRIES": -1}, "MAX_RETRIES"),
        ({"CODE_SECONDS": 0}, "CODE_SECONDS"),
        ({"SMS_TEXT": "no token here"}, "token"),
        ("not a dict", "must be a dict"),
    ],
)
def test_a_wrong_setting_is_refused_by_name(value: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        conf.load(value)


def test_the_key_and_the_secret_never_show_in_repr() -> None:
    loaded = conf.load({"API_KEY": "tf_key_abc123", "WEBHOOK_SECRET": "hook_secret_xyz"})
    assert "tf_key_abc123" not in repr(loaded)
    assert "hook_secret_xyz" not in repr(loaded)


def test_one_async_client_per_event_loop(project_fake: FakeTextFlow) -> None:
    async def twice() -> tuple[AsyncTextFlowClient, AsyncTextFlowClient]:
        first = get_async_client()
        await first.send_sms(PHONE, "in a loop")
        return first, get_async_client()

    first, second = asyncio.run(twice())
    assert first is second
    later, _ = asyncio.run(twice())
    assert later is not first  # another loop: another client


def test_event_loops_running_at_once_each_get_their_own_client(project_fake: FakeTextFlow) -> None:
    # As Django under WSGI runs async views: each request in an event loop of its own.
    both_running = threading.Barrier(2, timeout=60)  # a hang guard, not a timing margin
    clients: list[AsyncTextFlowClient] = []
    errors: list[BaseException] = []

    async def view(text: str) -> None:
        client = get_async_client()
        clients.append(client)
        await asyncio.get_running_loop().run_in_executor(None, both_running.wait)
        await client.send_sms(PHONE, text)

    def thread(text: str) -> None:
        try:
            asyncio.run(view(text))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(f"loop {i}",)) for i in range(2)]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    assert errors == []
    assert clients[0] is not clients[1]
    assert sorted(m.text for m in project_fake.messages) == ["loop 0", "loop 1"]


def test_reset_closes_the_sync_client(project_fake: FakeTextFlow) -> None:
    client = get_client()
    reset()
    with pytest.raises(ClientStateError, match="closed"):
        client.get_balance()


def test_ended_event_loops_leave_no_clients_behind() -> None:
    # Under WSGI each async view runs in an event loop of its own: one client per
    # loop must not pile up (a client keeps its loop alive, so it cannot be a weak key).
    server = FakeTextFlow(credits=1_000)
    with (
        server.serve() as url,
        override_settings(TEXTFLOW={"API_KEY": server.api_key, "BASE_URL": url}),
    ):
        made: list[weakref.ReferenceType[AsyncTextFlowClient]] = []

        async def view() -> None:
            client = get_async_client()
            made.append(weakref.ref(client))
            await client.send_sms(PHONE, "hi")

        try:
            for _ in range(10):
                asyncio.run(view())
            gc.collect()
            assert len(server.messages) == 10
            assert len({id(ref) for ref in made}) == 10
            assert sum(ref() is not None for ref in made) <= 1  # the last loop's, until the next
        finally:
            reset()


@override_settings(TEXTFLOW={"FAKE": True, "GUARD_POLICY": GuardPolicy(cooldown=86400)})
def test_the_guard_counts_across_event_loops() -> None:
    async def send_code() -> None:
        await get_async_guard().send_code(PHONE, service_name="Acme")

    asyncio.run(send_code())
    with pytest.raises(VerificationRefused) as refused:
        asyncio.run(send_code())  # another loop, another client: the same counts
    assert refused.value.reason == "cooldown"
    with pytest.raises(VerificationRefused):
        get_guard().send_code(PHONE)  # and the sync guard's
    assert len(get_fake().messages) == 1


class AsyncOnlyStore:
    """A store whose methods must be awaited (like AsyncRedisStore)."""

    async def decide(self, now: float, checks: Any, **options: Any) -> Any:
        return None

    async def write(self, now: float, writes: Any) -> None:
        return None


def test_an_async_store_is_refused_by_the_sync_guard_with_the_reason() -> None:
    setting = {"FAKE": True, "GUARD_STORE": AsyncOnlyStore()}
    with override_settings(TEXTFLOW=setting), pytest.raises(ConfigurationError, match="blocking"):
        get_guard()


def test_the_package_imports_before_django_is_configured() -> None:
    # settings.py names "textflow.contrib.django.TwoFactorGateway" and urls.py imports the
    # views: neither may need the app registry. The model comes on first use of its name.
    script = (
        "import textflow.contrib.django as d\n"
        "assert 'TextFlowDevice' in dir(d) and 'TextFlowDevice' in d.__all__\n"
        "try:\n"
        "    d.NoSuchName\n"
        "except AttributeError as exc:\n"
        "    assert 'NoSuchName' in str(exc)\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
