"""A caller's own transport that raises what httpx would not still ends the call in a TextFlowError.

httpx lets a transport's foreign exception (a ``ValueError``, an ``OSError`` of its own
socket code) through as it is; the SDK's contract is that every failure is a
`TextFlowError`, and a send whose fate is unknown says it may have been sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, Union

import httpx
import pytest

import textflow

from tests.core.core_support import Harness, ok_sms

pytestmark = [pytest.mark.anyio, pytest.mark.not_on_aiohttp("the test brings its own transport")]


class Boom(ValueError):
    pass


class _Stream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """An answer's body that breaks after its first chunk, either way it is read."""

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"ok": tr'
        raise Boom("the body reader broke")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"ok": tr'
        raise Boom("the body reader broke")


class _Transport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Raises ``Boom`` while sending, or answers with a body that raises it."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.where == "sending":
            raise Boom("the transport broke")
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=_Stream())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.handle_request(request)


def _client_over(api: Harness, transport: Any) -> Any:
    own: Union[httpx.Client, httpx.AsyncClient]
    own = (
        httpx.AsyncClient(transport=transport)
        if api.is_async
        else httpx.Client(transport=transport)
    )
    return api.make(http_client=own, max_retries=3)


@pytest.mark.parametrize("where", ["sending", "reading"])
async def test_a_send_through_a_transport_raising_a_foreign_exception_may_have_been_sent(
    api: Harness, where: str
) -> None:
    transport = _Transport(where)
    client = _client_over(api, transport)
    with pytest.raises(textflow.APIConnectionError) as caught:
        await api.call("send_sms", "+11234567890", "hi", client=client)
    error = caught.value
    assert isinstance(error.__cause__, httpx.TransportError)
    assert isinstance(error.__cause__.__cause__, Boom)  # the original, for the traceback
    assert "Boom" in str(error)
    assert error.may_have_been_sent is True  # the SDK cannot tell how far it got
    assert len(transport.requests) == 1  # and so it is not sent again


async def test_a_read_only_call_through_such_a_transport_is_a_textflow_error(
    api: Harness, no_backoff: list[float]
) -> None:
    transport = _Transport("sending")
    client = _client_over(api, transport)
    with pytest.raises(textflow.APIConnectionError) as caught:
        await api.call("get_balance", client=client)
    assert caught.value.may_have_been_sent is False  # nothing changes on a balance read
    assert "Nothing was changed" in str(caught.value)
    # Only timeouts and 5xx are retried; an unknown failure of a foreign transport is not.
    assert len(transport.requests) == 1
    assert no_backoff == []


async def test_a_well_behaved_custom_transport_still_answers(api: Harness) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        return httpx.Response(200, json=ok_sms(sent["phone_number"]))

    client = _client_over(api, httpx.MockTransport(answer))
    assert (await api.call("send_sms", "+11234567890", "hi", client=client)).ok
