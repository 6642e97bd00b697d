"""A send_sms answer about another number is not this send's answer.

It raises MalformedResponseError (the SMS may have been sent, and is not re-sent)
and its connection is never used again: the next call opens a new one. The text is
not compared: TextFlow's documented answer shows a placeholder, not the text sent.
"""

from __future__ import annotations

import socket
from typing import Callable

import pytest

import textflow

from tests.core.core_support import Harness, ok_sms
from tests.core.hostile_support import RawServer, json_answer

pytestmark = pytest.mark.anyio

SENT_TO = "+11234567890"


def answering(to: str) -> Callable[[socket.socket, int, bytes], bool]:
    """Answers the first request about ``to``, every later one about SENT_TO; keeps the
    connection open (keep-alive), so that a client reusing it would use it."""

    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(json_answer(ok_sms(to=to if number == 1 else SENT_TO)))
        return True

    return answer


async def test_an_answer_about_another_number_is_malformed_and_its_connection_dropped(
    api: Harness, hostile: Callable[..., RawServer], no_backoff: list[float]
) -> None:
    server = hostile(answering("+15550001111"))
    client = api.make(base_url=server.base_url)
    with pytest.raises(textflow.MalformedResponseError) as caught:
        await api.call("send_sms", SENT_TO, "Hello", client=client)
    assert caught.value.may_have_been_sent is True
    assert "+1555" not in str(caught.value) or "*" in str(caught.value)  # masked
    assert len(server.requests) == 1  # not re-sent
    assert server.connections == 1
    result = await api.call("send_sms", SENT_TO, "Hello", client=client)
    assert result.data.to == SENT_TO
    assert server.connections == 2  # the suspect connection was not reused


@pytest.mark.parametrize("to", ["+1 (123) 456-7890", "11234567890", "0011234567890"])
async def test_the_same_number_written_otherwise_is_this_sends_answer(
    api: Harness, hostile: Callable[..., RawServer], to: str
) -> None:
    server = hostile(answering(to))
    client = api.make(base_url=server.base_url)
    result = await api.call("send_sms", SENT_TO, "Hello", client=client)
    # the placeholder text of TextFlow's answer is not compared with the text sent
    assert result.data.content == "Dummy message text..."
    assert server.connections == 1


async def test_an_answer_writing_a_trunk_zero_in_brackets_is_this_sends_answer(
    api: Harness, hostile: Callable[..., RawServer]
) -> None:
    """The SDK takes "+44 (0)20 7946 0018" as +442079460018; an answer may write it so too."""

    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(json_answer(ok_sms(to="+44 (0)20 7946 0018")))
        return True

    client = api.make(base_url=hostile(answer).base_url)
    result = await api.call("send_sms", "+442079460018", "Hello", client=client)
    assert result.ok


async def test_an_answer_without_a_number_is_malformed(
    api: Harness, hostile: Callable[..., RawServer]
) -> None:
    server = hostile(answering(""))
    client = api.make(base_url=server.base_url)
    with pytest.raises(textflow.MalformedResponseError) as caught:
        await api.call("send_sms", SENT_TO, "Hello", client=client)
    assert caught.value.may_have_been_sent is True
