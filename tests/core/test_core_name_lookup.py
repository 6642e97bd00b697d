"""The host's name lookup is part of connecting: cut at the call's deadline, its errors
the SDK's (issue 20).

``socket.getaddrinfo`` cannot be timed out: a dead DNS server holds it 5 s an attempt.
asyncio (``wait_for`` over ``create_connection``) and trio (a lookup thread it abandons)
cut it with the connect; the sync stream looks a name up in a thread of its own when
the call has a time limit (``sync_stream.addresses``). The resolver here is a stand-in
for ``socket.getaddrinfo`` that blocks on an event until the test releases it: the
event, not a clock, decides what happens first. Numeric lookups (an IP address, which
asyncio, trio and the sync stream try first) go to the real resolver, on loopback only.
"""

from __future__ import annotations

import _thread
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable, Optional

import pytest
import trustme

import textflow
from textflow import _config
from textflow._http import deadline, net, sync_stream
from textflow._http.deadline import DEADLINE, DEADLINE_PASSED

from tests.core.core_support import KEY, Harness
from tests.core.hostile_support import LIMIT
from tests.core.proxy_support import TLSScriptedServer, client_context

TIMEOUT = 0.2  # the call's deadline: only it ends a call whose lookup never answers
NAME = "api.textflow.test"  # a name no test ever sends to a real resolver
REAL_GETADDRINFO = socket.getaddrinfo


class Resolver:
    """``socket.getaddrinfo`` for names: waits for ``release``, then answers 127.0.0.1 (or
    raises ``error``); an IP address is the real resolver's (numeric, no DNS).

    Counts the sync stream's lookup threads (``sync_stream._look_up`` run in a thread of
    its own): ``threads_ended`` is set once every one started has returned."""

    def __init__(self, error: Optional[OSError] = None) -> None:
        self.error = error
        self.release = threading.Event()
        self.asked = 0
        self.answered = 0
        self.askers: list[int] = []  # the threads (idents) that asked
        self.threads = 0  # sync lookup threads started
        self.threads_ended = threading.Event()
        self._ended = 0
        self._lock = threading.Lock()

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        if flags & socket.AI_NUMERICHOST:
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        with self._lock:
            self.asked += 1
            self.askers.append(threading.get_ident())
        try:
            self.release.wait(LIMIT)
            if self.error is not None:
                raise self.error
            return REAL_GETADDRINFO("127.0.0.1", port, family, type, proto, flags)
        finally:
            with self._lock:
                self.answered += 1

    def look_up_in_thread(self, look_up: Any) -> Any:
        """``sync_stream._look_up``, counted when it runs in a thread of its own."""

        def counted(host: str, port: int, answers: Any = None) -> Any:
            if answers is None:
                return look_up(host, port)
            with self._lock:
                self.threads += 1
                self.threads_ended.clear()
            try:
                return look_up(host, port, answers)
            finally:
                with self._lock:
                    self._ended += 1
                    if self._ended == self.threads:
                        self.threads_ended.set()

        return counted


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Resolver]:
    stand_in = Resolver()
    monkeypatch.setattr(socket, "getaddrinfo", stand_in)
    monkeypatch.setattr(sync_stream, "_look_up", stand_in.look_up_in_thread(sync_stream._look_up))
    yield stand_in
    stand_in.release.set()  # (whatever the test did: no thread is left waiting)
    if stand_in.threads:
        stand_in.threads_ended.wait(LIMIT)


def eventually(fact: Callable[[], bool]) -> bool:
    """Whether ``fact()`` comes true (bounded: a guard against a hang, not a measure)."""
    give_up = time.monotonic() + LIMIT
    while not fact():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.001)
    return True


def _aiohttp_looks_up_through_getaddrinfo(api: Harness) -> None:
    """aiohttp's resolver is the stand-in's only with its threaded resolver (with aiodns it
    would ask a real DNS server: never in a test)."""
    if api.kind == "aiohttp":
        import aiohttp

        assert aiohttp.DefaultResolver is aiohttp.ThreadedResolver, "aiodns is installed"


pytestmark = pytest.mark.anyio


async def test_a_lookup_that_never_answers_is_cut_at_the_deadline_and_was_not_sent(
    api: Harness, resolver: Resolver
) -> None:
    _aiohttp_looks_up_through_getaddrinfo(api)
    client = api.make(base_url=f"https://{NAME}:9/api", timeout=TIMEOUT, max_retries=0)
    with pytest.raises(textflow.APITimeoutError) as caught:
        await api.call("send_sms", "+11234567890", "hi", client=client)
    assert caught.value.may_have_been_sent is False, str(caught.value)
    assert resolver.asked >= 1
    assert resolver.answered == 0  # cut while the lookup hung
    resolver.release.set()
    if api.kind == "sync":
        assert resolver.threads >= 1, "the sync lookup ran in a thread of its own"
        assert resolver.threads_ended.wait(LIMIT), "the abandoned lookup ends once released"


async def test_a_resolver_error_is_a_connection_error_with_its_message(
    api: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _aiohttp_looks_up_through_getaddrinfo(api)
    failing = Resolver(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    failing.release.set()
    monkeypatch.setattr(socket, "getaddrinfo", failing)
    client = api.make(base_url=f"https://{NAME}:9/api", timeout=LIMIT, max_retries=0)
    with pytest.raises(textflow.APIConnectionError) as caught:
        await api.call("get_balance", client=client)
    assert not isinstance(caught.value, textflow.APITimeoutError)
    assert caught.value.may_have_been_sent is False
    assert "Name or service not known" in str(caught.value)


@pytest.fixture
def named_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[TLSScriptedServer]:
    """The scripted API server on 127.0.0.1 with a certificate for ``NAME``, trusted."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(NAME).configure_cert(context)
    monkeypatch.setattr(_config, "_ssl_context", client_context(ca))
    server = TLSScriptedServer(context)
    yield server
    server.close()


async def test_a_name_that_resolves_is_sent_to(
    api: Harness, resolver: Resolver, named_server: TLSScriptedServer
) -> None:
    _aiohttp_looks_up_through_getaddrinfo(api)
    resolver.release.set()
    client = api.make(base_url=f"https://{NAME}:{named_server.port}/api", timeout=LIMIT)
    await api.call("send_sms", "+11234567890", "hi", client=client)
    assert len(named_server.requests) == 1
    assert resolver.asked >= 1


# The sync stream itself (no event loop).


def test_an_ip_address_localhost_or_no_time_limit_take_no_thread(resolver: Resolver) -> None:
    resolver.release.set()
    (v4,) = sync_stream.addresses("127.0.0.1", 80, 5.0)
    assert v4[4] == ("127.0.0.1", 80)
    (v6,) = sync_stream.addresses("::1", 80, 5.0)
    assert v6[0] == socket.AF_INET6
    assert v6[4][:2] == ("::1", 80)
    assert resolver.asked == 0  # numeric: no resolver at all
    sync_stream.addresses("localhost", 80, 5.0)
    sync_stream.addresses(NAME, 80, None)
    assert resolver.asked == 2
    assert resolver.askers == [threading.get_ident()] * 2
    assert resolver.threads == 0


def test_a_resolver_error_in_the_lookup_thread_is_a_connect_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing = Resolver(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"))
    failing.release.set()
    monkeypatch.setattr(socket, "getaddrinfo", failing)
    with pytest.raises(net.ConnectError, match="Temporary failure"):
        sync_stream.connect_tcp(NAME, 80, 5.0)
    assert failing.askers != [threading.get_ident()]  # asked from the lookup's thread


def test_a_lookup_cut_by_the_connect_timeout_says_so(resolver: Resolver) -> None:
    with pytest.raises(net.ConnectTimeout) as caught:
        sync_stream.addresses(NAME, 80, 0.01)  # no call deadline: the connect timeout
    assert str(caught.value) == sync_stream.LOOKUP_TIMED_OUT
    token = DEADLINE.set(time.monotonic() + 0.01)
    try:
        with pytest.raises(net.ConnectTimeout, match=DEADLINE_PASSED):
            sync_stream.addresses(NAME, 80, 5.0)  # the call's deadline, sooner
    finally:
        DEADLINE.reset(token)


def test_many_lookups_that_hang_leave_no_thread_once_released(resolver: Resolver) -> None:
    """The lookups' threads are ``_thread``'s, not ``threading``'s: counted by
    ``_thread._count()``, which a thread leaves as it exits (just after its function)."""
    before = _thread._count()
    for _ in range(50):
        with pytest.raises(net.ConnectTimeout):
            sync_stream.addresses(NAME, 80, 0.001)
    resolver.release.set()
    assert eventually(lambda: resolver.threads == 50 and resolver.threads_ended.is_set())
    assert resolver.answered == 50
    assert eventually(lambda: _thread._count() <= before)


def test_many_calls_at_once_on_a_hung_resolver_all_end_at_their_deadline(
    resolver: Resolver,
) -> None:
    """20 threads call one sync client at once while the resolver hangs: each call ends
    at its deadline, not sent; once released, every lookup's thread ends."""
    client = textflow.TextFlowClient(
        api_key=KEY, base_url=f"https://{NAME}:9/api", timeout=TIMEOUT, max_retries=0
    )
    before = _thread._count()
    ended: list[BaseException] = []
    lock = threading.Lock()

    def call() -> None:
        try:
            client.get_balance()
        except BaseException as exc:  # (the test's thread reports it)
            with lock:
                ended.append(exc)

    callers = [threading.Thread(target=call, daemon=True) for _ in range(20)]
    try:
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(LIMIT)
        assert len(ended) == 20
        assert all(isinstance(exc, textflow.APITimeoutError) for exc in ended), ended
        assert not any(exc.may_have_been_sent for exc in ended)  # type: ignore[attr-defined]
        assert resolver.answered == 0
    finally:
        resolver.release.set()
        client.close()
    assert eventually(lambda: resolver.threads_ended.is_set())
    assert eventually(lambda: _thread._count() <= before)


class _Clock:
    """``time`` for ``textflow._http.deadline``: moved by the resolver as it answers."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_a_deadline_that_passes_as_the_lookup_answers_connects_to_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    monkeypatch.setattr(deadline, "time", clock)
    connected: list[Any] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, a: connected.append(a))

    def answer_late(*args: Any) -> Any:
        clock.now = 1002.0  # the deadline (1001) passes as the answer comes
        return REAL_GETADDRINFO("127.0.0.1", 80, 0, socket.SOCK_STREAM)

    monkeypatch.setattr(socket, "getaddrinfo", _numeric_or(answer_late))
    token = DEADLINE.set(1001.0)
    try:
        with pytest.raises(net.ConnectTimeout, match=DEADLINE_PASSED):
            sync_stream.connect_tcp(NAME, 80, 5.0)
    finally:
        DEADLINE.reset(token)
    assert connected == []


def _numeric_or(lookup: Any) -> Any:
    def getaddrinfo(host: Any, port: Any, *args: Any) -> Any:
        if len(args) >= 4 and args[3] & socket.AI_NUMERICHOST:
            return REAL_GETADDRINFO(host, port, *args)
        return lookup(host, port, *args)

    return getaddrinfo
