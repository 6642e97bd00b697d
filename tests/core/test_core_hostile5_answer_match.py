"""Adversarial pass over the answer-match check (issue 20's point 6, made cheaper in cpu2).

A ``send_sms`` answer whose ``data.to`` is the number sent, written with any separator
the SDK itself accepts in a number it is given, is this send's answer: the SMS was
sent, and calling it "another request's answer" would report a real send as a failure.
"""

from __future__ import annotations

import socket
from typing import Callable

import pytest

from tests.core.core_support import Harness, ok_sms
from tests.core.hostile_support import RawServer, json_answer

pytestmark = pytest.mark.anyio

SENT_TO = "+11234567890"


def answering(to: str) -> Callable[[socket.socket, int, bytes], bool]:
    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(json_answer(ok_sms(to=to)))
        return True

    return answer


@pytest.mark.parametrize(
    "to",
    [
        "+1\u00a0123\u00a0456\u00a07890",  # no-break spaces, as some formatters write them
        "+1\t123 456 7890",
        "+1 123\u2009456\u20097890",  # thin spaces
    ],
)
async def test_an_answer_written_with_separators_the_sdk_accepts_is_this_sends_answer(
    api: Harness, hostile: Callable[..., RawServer], to: str
) -> None:
    server = hostile(answering(to))
    client = api.make(base_url=server.base_url)
    # the SDK takes this very spelling as the number sent, when it is given one
    await api.call("send_sms", to, "Hello", client=client)
    result = await api.call("send_sms", SENT_TO, "Hello", client=client)
    assert result.data.to == to
    assert len(server.requests) == 2
    assert server.connections == 1  # kept: nothing about the answers was suspect
