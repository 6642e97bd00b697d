"""The SDK's own transport: proxies from the environment, and the gate in front of its pools."""

from __future__ import annotations

import socket
import threading
from typing import Any, Callable

import anyio
import httpx
import pytest

from textflow._http.transport import AsyncTextFlowTransport, TextFlowTransport

from tests.core.core_support import Harness, ok_sms
from tests.core.hostile_support import Answer, RawServer, json_answer

pytestmark = pytest.mark.anyio


def ok(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(json_answer(ok_sms()))
    return True


@pytest.mark.not_on_aiohttp("aiohttp reads no proxy settings from the environment (trust_env)")
async def test_a_proxy_from_the_environment_is_used_unless_no_proxy_says_otherwise(
    api: Harness, hostile: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    target, proxy = hostile(ok), hostile(ok)
    monkeypatch.setenv("HTTP_PROXY", proxy.base_url.rsplit("/api", 1)[0])
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = api.make(base_url=target.base_url)
    assert (await api.call("send_sms", "+11234567890", "via proxy", client=client)).ok
    assert proxy.targets == [target.base_url.encode() + b"/send-sms"]  # absolute form
    assert target.targets == []

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = api.make(base_url=target.base_url)
    assert (await api.call("send_sms", "+11234567890", "direct", client=direct)).ok
    assert target.targets == [b"/api/send-sms"]
    assert len(proxy.targets) == 1


def slow_body(conn: socket.socket, number: int, body: bytes) -> bool:
    if number == 1:  # headers at once, the body never: the first request holds its slot
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        return True  # and keep the connection open, silent
    conn.sendall(json_answer(ok_sms()))
    return True


def test_the_gate_waits_at_most_the_pool_timeout_and_a_closed_answer_frees_its_slot(
    hostile: Callable[[Answer], RawServer],
) -> None:
    server = hostile(slow_body)
    transport = TextFlowTransport(httpx.Limits(max_connections=1))
    with httpx.Client(transport=transport, timeout=httpx.Timeout(5.0, pool=0.2)) as client:
        held = client.send(client.build_request("GET", server.base_url), stream=True)
        with pytest.raises(httpx.PoolTimeout):
            client.get(server.base_url)
        held.close()
        assert client.get(server.base_url).status_code == 200


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_the_async_gate_too(
    hostile: Callable[[Answer], RawServer], anyio_backend: str
) -> None:
    server = hostile(slow_body)
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=1))
    async with httpx.AsyncClient(
        transport=transport, timeout=httpx.Timeout(5.0, pool=0.2)
    ) as client:
        held = await client.send(client.build_request("GET", server.base_url), stream=True)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(server.base_url)
        await held.aclose()
        assert (await client.get(server.base_url)).status_code == 200


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_cancelled_request_gives_its_slot_back(
    hostile: Callable[[Answer], RawServer], anyio_backend: str
) -> None:
    server = hostile(slow_body)
    transport = AsyncTextFlowTransport(httpx.Limits(max_connections=1))
    async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
        with anyio.move_on_after(0.2):
            response = await client.get(server.base_url)  # the body never comes
            pytest.fail(f"answered {response}")
        assert (await client.get(server.base_url)).status_code == 200


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_send_queued_at_the_gate_until_its_deadline_was_not_sent(
    hostile: Callable[[Answer], RawServer], anyio_backend: str
) -> None:
    """A wait at a full gate that the call's deadline ends (no timer of its own) is a
    timeout that says "not sent", and leaves the slot to the next call."""
    import textflow

    server = hostile(slow_body)

    class OneConnection(textflow.AsyncTextFlowClient):
        @staticmethod
        def _new_transport() -> httpx.AsyncBaseTransport:
            return AsyncTextFlowTransport(httpx.Limits(max_connections=1))

    async with OneConnection("tf_test_key", base_url=server.base_url, max_retries=0) as one:
        holder = one.with_options(timeout=None)  # holds the slot until cancelled
        async with anyio.create_task_group() as group:
            group.start_soon(holder.send_sms, "+11234567890", "holds the slot")
            while not server.requests:
                await anyio.sleep(0.005)
            quick = one.with_options(timeout=0.3)  # a number: the whole call's deadline
            with pytest.raises(textflow.APITimeoutError) as queued:
                await quick.send_sms("+11234567890", "queued")
            group.cancel_scope.cancel()
        assert queued.value.may_have_been_sent is False
        assert len(server.requests) == 1  # the queued one never went out
        assert (await one.send_sms("+11234567890", "after")).ok


def sets_a_cookie(conn: socket.socket, number: int, body: bytes) -> bool:
    answer = json_answer(ok_sms())
    head, _, rest = answer.partition(b"\r\n")
    conn.sendall(head + b"\r\nSet-Cookie: session=abc; Path=/\r\n" + rest)
    return True


async def test_a_cookie_an_answer_sets_is_kept_by_the_clients_jar(
    api: Harness, hostile: Callable[[Answer], RawServer]
) -> None:
    """The client's own pool is sent to without httpx.Client.send: the jar is still fed."""
    server = hostile(sets_a_cookie)
    client = api.make(base_url=server.base_url)
    assert (await api.call("send_sms", "+11234567890", "hi", client=client)).ok
    assert client._http.cookies.get("session") == "abc"


def test_a_forked_childs_threads_never_take_the_parents_pools() -> None:
    # Threads of a forked child race to its first request: the one that lets the parent's
    # pools go must be the only one to see them. A second thread that got the parent's
    # pools used the parent's connections at the same time as the parent: the parent read
    # the child's answers (a crossed answer), and the child EBADF on sockets the first
    # thread had just let go. Here the fork is as the transport sees it (another pid), and
    # the first thread is held inside the change while a second one asks for the pools.
    transport = TextFlowTransport(httpx.Limits(max_connections=1))
    parents = transport._current()
    transport._pid = -1  # as in a forked child: the pools are the parent's
    make_pools = transport._new_pools
    second_done = threading.Event()
    seen: list[object] = []

    def second() -> None:
        seen.append(transport._current())
        second_done.set()

    def slow_new_pools() -> Any:
        thread = threading.Thread(target=second)
        thread.start()
        # the second thread waits for this one (then this wait runs out), or it got the
        # parent's pools at once
        second_done.wait(0.2)
        return make_pools()

    transport._new_pools = slow_new_pools  # type: ignore[method-assign]
    childs = transport._current()
    assert second_done.wait(10)
    assert seen == [childs]
    assert childs is not parents
    transport.close()
