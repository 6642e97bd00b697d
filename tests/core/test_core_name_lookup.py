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

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any, Optional

import pytest
import trustme

import textflow
from textflow import _config
from textflow._http import deadline, net, sync_stream
from textflow._http.deadline import DEADLINE, DEADLINE_PASSED

from tests.core.core_support import Harness
from tests.core.hostile_support import LIMIT
from tests.core.proxy_support import TLSScriptedServer, client_context

TIMEOUT = 0.2  # the call's deadline: only it ends a call whose lookup never answers
NAME = "api.textflow.test"  # a name no test ever sends to a real resolver
REAL_GETADDRINFO = socket.getaddrinfo


class Resolver:
    """``socket.getaddrinfo`` for names: waits for ``release``, then answers 127.0.0.1 (or
    raises ``error``); an IP address is the real resolver's (numeric, no DNS)."""

    def __init__(self, error: Optional[OSError] = None) -> None:
        self.error = error
        self.release = threading.Event()
        self.asked = 0
        self.answered = 0
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.all_answered = threading.Event()

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        if flags & socket.AI_NUMERICHOST:
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        with self._lock:
            self.asked += 1
            self.threads.append(threading.current_thread())
            self.all_answered.clear()
        try:
            self.release.wait(LIMIT)
            if self.error is not None:
                raise self.error
            return REAL_GETADDRINFO("127.0.0.1", port, family, type, proto, flags)
        finally:
            with self._lock:
                self.answered += 1
                if self.answered == self.asked:
                    self.all_answered.set()

    def lookup_threads(self) -> list[threading.Thread]:
        """The threads it answered on that are the sync stream's own."""
        return [t for t in self.threads if t.name == sync_stream.LOOKUP_THREAD]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Resolver]:
    stand_in = Resolver()
    monkeypatch.setattr(socket, "getaddrinfo", stand_in)
    yield stand_in
    stand_in.release.set()  # (whatever the test did: no thread is left waiting)
    for thread in stand_in.lookup_threads():
        thread.join(LIMIT)


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
    assert resolver.all_answered.wait(LIMIT), "the abandoned lookup ends once released"
    for thread in resolver.lookup_threads():  # the sync stream's own: they end
        thread.join(LIMIT)
        assert not thread.is_alive()
    if api.kind == "sync":
        assert resolver.lookup_threads(), "the sync lookup ran in a thread of its own"


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
    assert resolver.threads == [threading.current_thread()] * 2


def test_a_resolver_error_in_the_lookup_thread_is_a_connect_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing = Resolver(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"))
    failing.release.set()
    monkeypatch.setattr(socket, "getaddrinfo", failing)
    with pytest.raises(net.ConnectError, match="Temporary failure"):
        sync_stream.connect_tcp(NAME, 80, 5.0)
    assert failing.lookup_threads()


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
    before = threading.active_count()
    for _ in range(50):
        with pytest.raises(net.ConnectTimeout):
            sync_stream.addresses(NAME, 80, 0.001)
    waiting = [t for t in threading.enumerate() if t.name == sync_stream.LOOKUP_THREAD]
    assert len(waiting) == 50  # one abandoned lookup per call, each held by the resolver
    resolver.release.set()
    for thread in waiting:
        thread.join(LIMIT)
        assert not thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name == sync_stream.LOOKUP_THREAD]
    assert threading.active_count() <= before  # (other tests' threads may end meanwhile)


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
