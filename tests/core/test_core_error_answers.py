"""An exception that carries the answer carries it readable, over a real connection.

A send reads the answer's body beside the streamed response (no second response per
answer); only an answer that becomes an exception is made into a readable response.
These check that one against what the server sent: body decoded, headers that framed
the wire body gone, closed.
"""

from __future__ import annotations

import gzip
import json
from typing import Callable

import pytest

import textflow

from tests.core.core_support import Harness, ok_sms
from tests.core.hostile_support import RawServer, always, http_answer, json_answer

pytestmark = pytest.mark.anyio


async def test_a_refusal_carries_its_answer_readable(
    api: Harness, hostile: Callable[..., RawServer]
) -> None:
    refusal = {"ok": False, "status": 400, "message": "Bad phone number"}
    server = hostile(always(json_answer(refusal, status=400)))
    client = api.make(base_url=server.base_url, max_retries=0)
    with pytest.raises(textflow.BadRequestError) as caught:
        await api.call("send_sms", "+11234567890", "Hello", client=client)
    answer = caught.value.response
    assert answer is not None
    assert answer.json() == refusal
    assert answer.is_closed
    assert answer.request.url.path.endswith("/send-sms")


async def test_a_compressed_refusal_is_carried_decoded(
    api: Harness, hostile: Callable[..., RawServer]
) -> None:
    refusal = {"ok": False, "status": 402, "message": "Not enough credits"}
    wire = gzip.compress(json.dumps(refusal).encode())
    server = hostile(always(http_answer(wire, 402, b"Content-Encoding: gzip\r\n")))
    client = api.make(base_url=server.base_url, max_retries=0)
    with pytest.raises(textflow.APIStatusError) as caught:
        await api.call("send_sms", "+11234567890", "Hello", client=client)
    answer = caught.value.response
    assert answer is not None
    assert answer.json() == refusal
    assert "content-encoding" not in answer.headers  # the body is the decoded one


async def test_an_answer_that_is_not_json_is_carried_as_sent(
    api: Harness, hostile: Callable[..., RawServer]
) -> None:
    server = hostile(always(http_answer(b"<html>maintenance</html>")))
    client = api.make(base_url=server.base_url)
    with pytest.raises(textflow.MalformedResponseError) as caught:
        await api.call("get_balance", client=client)
    assert caught.value.response is not None
    assert caught.value.response.text == "<html>maintenance</html>"


async def test_an_answer_about_another_number_is_carried_readable(
    api: Harness, hostile: Callable[..., RawServer]
) -> None:
    other = ok_sms(to="+15550001111")
    server = hostile(always(json_answer(other)))
    client = api.make(base_url=server.base_url)
    with pytest.raises(textflow.MalformedResponseError) as caught:
        await api.call("send_sms", "+11234567890", "Hello", client=client)
    assert caught.value.response is not None
    assert caught.value.response.json() == other
