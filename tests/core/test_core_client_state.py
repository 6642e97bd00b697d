"""A closed client, or an async client taken to another event loop, fails with a clear error."""

from __future__ import annotations

import asyncio
import threading

import pytest

import textflow

from tests.core.core_support import KEY, Harness, ScriptedServer, ok_sms

pytestmark = pytest.mark.anyio


async def test_a_closed_client_says_so(api: Harness, server: ScriptedServer) -> None:
    client = api.make(base_url=server.base_url)
    assert (await api.call("send_sms", "+11234567890", "hi", client=client)).ok
    if isinstance(client, textflow.AsyncTextFlowClient):
        await client.aclose()
    else:
        client.close()
    with pytest.raises(textflow.ClientStateError, match="closed") as caught:
        await api.call("send_sms", "+11234567890", "hi", client=client)
    assert isinstance(caught.value, RuntimeError)  # what httpx raised before: still caught
    assert len(server.requests) == 1


def test_an_async_client_moves_on_to_a_new_event_loop_once_the_old_one_ended(
    server: ScriptedServer,
) -> None:
    """pytest-asyncio's loop per test with a client made once: each new loop works."""
    server.default = ("json", 200, ok_sms())
    client = textflow.AsyncTextFlowClient(KEY, base_url=server.base_url)
    for _ in range(3):
        assert asyncio.run(client.send_sms("+11234567890", "hi")).ok
    asyncio.run(client.aclose())
    assert len(server.requests) == 3


def test_the_same_under_trio(server: ScriptedServer) -> None:
    import trio

    server.default = ("json", 200, ok_sms())
    client = textflow.AsyncTextFlowClient(KEY, base_url=server.base_url)

    async def send() -> bool:
        return (await client.send_sms("+11234567890", "hi")).ok

    assert trio.run(send)
    assert trio.run(send)
    trio.run(client.aclose)


def test_an_async_client_refuses_a_second_event_loop_while_the_first_runs(
    server: ScriptedServer,
) -> None:
    server.default = ("json", 200, ok_sms())
    client = textflow.AsyncTextFlowClient(KEY, base_url=server.base_url)
    used, release = threading.Event(), threading.Event()

    async def first_loop() -> None:
        await client.send_sms("+11234567890", "hi")
        used.set()
        while not release.is_set():  # keep this loop running
            await asyncio.sleep(0.01)

    thread = threading.Thread(target=lambda: asyncio.run(first_loop()))
    thread.start()
    try:
        assert used.wait(30)
        with pytest.raises(textflow.ClientStateError, match="another event loop"):
            asyncio.run(client.send_sms("+11234567890", "hi"))
    finally:
        release.set()
        thread.join(30)
    asyncio.run(client.aclose())
    assert len(server.requests) == 1


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_callers_async_http_client_from_an_ended_loop_is_a_clear_error(
    server: ScriptedServer,
) -> None:
    import gc

    import httpx

    server.default = ("json", 200, ok_sms())
    own = httpx.AsyncClient()
    client = textflow.AsyncTextFlowClient(KEY, base_url=server.base_url, http_client=own)
    assert asyncio.run(client.send_sms("+11234567890", "hi")).ok
    with pytest.raises(textflow.ClientStateError, match="event loop"):
        asyncio.run(client.send_sms("+11234567890", "hi"))
    # The caller's connection from the ended loop cannot be closed gracefully (httpx's own
    # behaviour, which the SDK does not change for a client it does not own): collect it here.
    del own, client
    gc.collect()


@pytest.mark.not_on_aiohttp("the test closes its own http_client")
async def test_a_callers_http_client_closed_during_a_call_is_a_clear_error(
    api: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    attempts: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("refused", request=request)

    transport = httpx.MockTransport(refuse)
    own: httpx.Client | httpx.AsyncClient
    if api.is_async:
        own = httpx.AsyncClient(transport=transport)

        async def close_while_waiting(seconds: float) -> None:
            assert isinstance(own, httpx.AsyncClient)
            await own.aclose()

        monkeypatch.setattr(
            textflow.AsyncTextFlowClient, "_sleep", staticmethod(close_while_waiting)
        )
    else:
        own = httpx.Client(transport=transport)

        def close_while_sleeping(seconds: float) -> None:
            assert isinstance(own, httpx.Client)
            own.close()

        monkeypatch.setattr(textflow.TextFlowClient, "_sleep", staticmethod(close_while_sleeping))
    client = api.make(http_client=own)
    # The owner closes its http_client while the call waits to retry: the retry cannot send.
    with pytest.raises(textflow.ClientStateError, match="closed by its owner") as caught:
        await api.call("get_balance", client=client)
    assert isinstance(caught.value, textflow.TextFlowError)
    assert len(attempts) == 1
