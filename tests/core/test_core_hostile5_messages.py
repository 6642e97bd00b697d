"""A server's message reaches ``str(exc)``: it must be safe to print and to log.

A refusal's message is the server's text. A lone surrogate (JSON's ``\\ud800``) made
``print(exc)`` and a log handler writing UTF-8 fail with UnicodeEncodeError, an error
that is no TextFlowError, in the caller's own error handling; escape sequences
recoloured the terminal or forged a log line. The command line escaped them; the
exception did not.
"""

from __future__ import annotations

from typing import Callable

import pytest

import textflow

from tests.core.core_support import Harness
from tests.core.hostile_support import RawServer, always, http_answer

pytestmark = pytest.mark.anyio

HOSTILE = (
    b'{"ok": false, "status": 400, "message": '
    b'"bad \\ud800 number\\n2026-12-06 INFO all fine \\u001b[31mred\\u001b[0m \\u202eevil"}'
)


async def test_a_refusals_message_is_printable_and_encodable(
    api: Harness, hostile: Callable[..., RawServer]
) -> None:
    server = hostile(always(http_answer(HOSTILE, 400)))
    client = api.make(base_url=server.base_url, max_retries=0)
    with pytest.raises(textflow.BadRequestError) as caught:
        await api.call("send_sms", "+11234567890", "Hello", client=client)
    for text in (str(caught.value), caught.value.message):
        assert text.isprintable(), ascii(text)
        text.encode("utf-8")  # no lone surrogate
        for word in ("bad ", "number", "red"):  # the words stay
            assert word in text


async def test_a_malformed_answers_field_names_are_printable(
    api: Harness, hostile: Callable[..., RawServer]
) -> None:
    """A field problem names its place, and a ``packages`` name is the server's."""
    body = b'{"ok": true, "credits": "1.5", "packages": {"\\u001b[2J\\ud800": "many"}}'
    server = hostile(always(http_answer(body)))
    client = api.make(base_url=server.base_url, max_retries=0)
    with pytest.raises(textflow.MalformedResponseError) as caught:
        await api.call("get_balance", client=client)
    text = str(caught.value)
    assert "packages" in text
    assert text.isprintable(), ascii(text)
    text.encode("utf-8")
