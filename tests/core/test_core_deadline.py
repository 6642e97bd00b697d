"""A float ``timeout`` bounds the whole call: trickled headers or bodies cannot hold it."""

from __future__ import annotations

import socket
import time
from typing import Any, Callable

import anyio
import pytest

import textflow
from textflow._http.backends import SyncBackend
from textflow._http.deadline import DEADLINE

from tests.core.core_support import KEY, Harness, ScriptedServer, ok_sms
from tests.core.hostile_support import Answer, RawServer, always, http_answer, trickle

pytestmark = pytest.mark.anyio

T = 1.0  # the call's timeout; the server trickles a byte every 50 ms, so no read times out


def trickled_headers(server_ref: list[RawServer]) -> Answer:
    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        trickle(
            conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ", server_ref[0]
        )
        return False

    return answer


def trickled_body(server_ref: list[RawServer]) -> Answer:
    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        )
        trickle(conn, b'{"ok": true', server_ref[0])
        return False

    return answer


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.parametrize("shape", [trickled_headers, trickled_body])
@pytest.mark.parametrize("method", ["send_sms", "get_balance"])
async def test_a_trickling_server_cannot_hold_a_call_past_its_timeout(
    api: Harness,
    hostile: Callable[[Answer], RawServer],
    anyio_backend: str,
    shape: Callable[[list[RawServer]], Answer],
    method: str,
) -> None:
    ref: list[RawServer] = []
    server = hostile(shape(ref))
    ref.append(server)
    client = api.make(base_url=server.base_url, timeout=T)
    args = ("+11234567890", "hi") if method == "send_sms" else ()
    # The server trickles for 30 s (LIMIT), then closes: a call that was not cut by its
    # deadline would end as a connection error after that, not an APITimeoutError.
    started = time.monotonic()
    with pytest.raises(textflow.APITimeoutError) as caught:
        await api.call(method, *args, client=client)
    assert time.monotonic() - started >= T
    assert "deadline" in str(caught.value)
    # get_balance is retried after a read timeout, but no retry starts after the deadline.
    assert len(server.requests) <= 1 + (method == "get_balance") * 2


async def test_a_read_cut_by_the_deadline_is_not_retried(
    api: Harness, server: ScriptedServer
) -> None:
    # Each request hangs 30 s and is then dropped: waiting that out would end in a
    # connection error (and a retry), so an APITimeoutError after one request is the cut.
    server.script = [("hang", 30)] * 3
    client = api.make(base_url=server.base_url, timeout=T, max_retries=5)
    with pytest.raises(textflow.APITimeoutError):
        await api.call("get_balance", client=client)
    assert len(server.requests) == 1


async def test_no_retry_starts_if_its_wait_would_end_past_the_deadline(
    api: Harness, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each attempt fails at once (dropped). The first backoff is 0.375-0.5 s, the second
    # 0.75-1 s: with 1 s in all, the second wait would always end past the deadline, so
    # there is no third attempt (a slower machine only leaves less time for a second).
    # The waits are the SDK's own numbers, recorded (then slept): none ends past the deadline.
    waits: list[float] = []
    real_sleep, real_asleep = textflow.TextFlowClient._sleep, textflow.AsyncTextFlowClient._sleep

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        real_sleep(seconds)

    async def asleep(seconds: float) -> None:
        waits.append(seconds)
        await real_asleep(seconds)

    monkeypatch.setattr(textflow.TextFlowClient, "_sleep", staticmethod(sleep))
    monkeypatch.setattr(textflow.AsyncTextFlowClient, "_sleep", staticmethod(asleep))
    server.script = [("drop",)] * 6
    client = api.make(base_url=server.base_url, timeout=1.0, max_retries=5)
    with pytest.raises(textflow.APIConnectionError):
        await api.call("get_balance", client=client)
    assert sum(waits) < 1.0, waits
    # aiohttp re-sends an idempotent GET once by itself when a connection breaks (never a POST)
    assert 1 <= len(server.requests) <= (4 if api.kind == "aiohttp" else 2)


async def test_the_default_has_an_overall_bound_and_a_timeout_object_keeps_its_phases(
    api: Harness,
) -> None:
    from textflow import _config

    client = api.make()
    assert client.timeout == textflow.TextFlowClient(api_key="k").timeout
    assert client._deadline == _config.DEFAULT_DEADLINE == 60.0
    import httpx

    custom = api.make(timeout=httpx.Timeout(10.0, connect=2.0))
    assert custom.timeout.connect == 2.0
    assert custom._deadline == 60.0
    assert api.make(timeout=7.5)._deadline == 7.5
    assert api.make(timeout=None)._deadline is None


async def test_a_prompt_answer_is_unaffected_by_the_deadline(
    api: Harness, server: ScriptedServer
) -> None:
    server.default = ("json", 200, ok_sms())
    client = api.make(base_url=server.base_url, timeout=T)
    for _ in range(3):
        assert (await api.call("send_sms", "+11234567890", "hi", client=client)).ok
    assert server.connections == 1


def test_http_answer_helper_frames_bodies() -> None:
    assert http_answer(b"{}").endswith(b"Content-Length: 2\r\n\r\n{}")


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_send_cut_while_waiting_for_a_connection_was_not_sent(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    import httpx

    from textflow import _config

    monkeypatch.setattr(_config, "DEFAULT_LIMITS", httpx.Limits(max_connections=1))
    server.script = [("hang", 10)]  # the first send holds the only connection
    errors: list[textflow.APITimeoutError] = []

    async with textflow.AsyncTextFlowClient(KEY, base_url=server.base_url, timeout=T) as client:

        async def send(client: textflow.AsyncTextFlowClient) -> None:
            try:
                await client.send_sms("+11234567890", "hi")
            except textflow.APITimeoutError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as group:
            group.start_soon(send, client)
            with anyio.fail_after(T / 2):
                while not server.requests:  # the first send holds the connection now
                    await anyio.sleep(0.01)
            # The second's deadline comes first: cut while it waits, never after the first
            # one's cut freed the connection (which a busy machine can make a race).
            group.start_soon(send, client.with_options(timeout=T / 2))
    assert sorted(exc.may_have_been_sent for exc in errors) == [False, True]
    assert "was not sent" in str(next(e for e in errors if not e.may_have_been_sent))
    assert len(server.requests) == 1


def test_a_sync_deadline_passed_before_tls_closes_the_open_socket(
    hostile: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sync client's own deadline (the async one's is a cancel scope): it passes once
    # the socket is open, before the handshake. Nothing was sent, and the socket is closed.
    server = hostile(always(b""))
    sockets: list[socket.socket] = []
    connect = SyncBackend.connect_raw

    def connect_then_expire(self: SyncBackend, *args: Any) -> Any:
        stream = connect(self, *args)
        sockets.append(stream.get_extra_info("socket"))
        DEADLINE.set(0.0)  # long past: the call's deadline passes right here
        return stream

    monkeypatch.setattr(SyncBackend, "connect_raw", connect_then_expire)
    https = server.base_url.replace("http://", "https://")
    client = textflow.TextFlowClient(api_key=KEY, base_url=https, max_retries=0)
    with client, pytest.raises(textflow.APITimeoutError) as caught:
        client.send_sms("+11234567890", "hi")
    assert caught.value.may_have_been_sent is False
    assert [sock.fileno() for sock in sockets] == [-1]
