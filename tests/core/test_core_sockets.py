"""Behaviour that needs a real socket: connection reuse, dropped connections, timeouts."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

import textflow

from tests.core.core_support import CALLS, KEY, OK_BODIES, SENDS, Harness, ScriptedServer, ok_sms


@pytest.mark.anyio
async def test_30_sequential_sends_use_one_connection(api: Harness, server: ScriptedServer) -> None:
    client = api.make(base_url=server.base_url)
    for i in range(30):
        result = await api.call("send_sms", "+11234567890", f"message {i}", client=client)
        assert result.ok
    assert len(server.requests) == 30
    assert server.connections == 1


@pytest.mark.anyio
@pytest.mark.parametrize("name", SENDS)
async def test_send_is_transmitted_once_when_the_connection_drops(
    api: Harness, server: ScriptedServer, no_backoff: None, name: str
) -> None:
    server.script = [("drop",)]
    client = api.make(base_url=server.base_url)
    with pytest.raises(textflow.APIConnectionError) as info:
        await api.call(name, *CALLS[name][1], client=client)
    assert not isinstance(info.value, textflow.APITimeoutError)
    assert len(server.requests) == 1
    assert "may have reached TextFlow" in str(info.value)


@pytest.mark.anyio
async def test_send_is_transmitted_once_when_the_read_times_out(
    api: Harness, server: ScriptedServer, no_backoff: None
) -> None:
    server.script = [("hang", 2.0)]
    client = api.make(base_url=server.base_url, timeout=httpx.Timeout(0.3, connect=2.0))
    with pytest.raises(textflow.APITimeoutError):
        await api.call("send_sms", "+11234567890", "hi", client=client)
    assert len(server.requests) == 1


@pytest.mark.anyio
async def test_balance_is_retried_when_the_connection_drops_or_times_out(
    api: Harness, server: ScriptedServer, no_backoff: None
) -> None:
    server.script = [("drop",), ("hang", 2.0)]
    server.default = ("json", 200, OK_BODIES["get_balance"])
    client = api.make(base_url=server.base_url, timeout=httpx.Timeout(0.3, connect=2.0))
    result = await api.call("get_balance", client=client)
    assert result.ok
    assert [path for _, path, _ in server.requests] == ["/api/balance"] * 3


@pytest.mark.anyio
async def test_connection_refused_is_retried_then_reported(api: Harness, no_backoff: None) -> None:
    import socket

    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = api.make(base_url=f"http://127.0.0.1:{port}/api")
    with pytest.raises(textflow.APIConnectionError, match="was not sent"):
        await api.call("send_sms", "+11234567890", "hi", client=client)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_200_concurrent_sends_on_one_async_client(
    server: ScriptedServer, anyio_backend: str
) -> None:
    server.default = ("json", 200, ok_sms())
    results: list[textflow.SendMessageResult] = []
    async with textflow.AsyncTextFlowClient(KEY, base_url=server.base_url) as client:

        async def send(i: int) -> None:
            results.append(await client.send_sms("+11234567890", f"message {i}"))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                for i in range(200):
                    group.start_soon(send, i)
    assert len(results) == 200
    assert all(r.ok for r in results)
    texts = sorted(json.loads(body)["text"] for _, _, body in server.requests)
    assert texts == sorted(f"message {i}" for i in range(200))


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_async_client_retries_with_the_running_loops_sleep(
    server: ScriptedServer, anyio_backend: str, no_backoff: None
) -> None:
    server.script = [("drop",)]
    server.default = ("json", 200, OK_BODIES["get_balance"])
    async with textflow.AsyncTextFlowClient(KEY, base_url=server.base_url) as client:
        assert (await client.get_balance()).ok
    assert len(server.requests) == 2
