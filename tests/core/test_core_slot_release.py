"""Attacks on the gate and the free list: after any number of failed calls every slot is free."""

from __future__ import annotations

import socket
import struct
from typing import Callable

import pytest

import textflow

from tests.core.core_support import Harness
from tests.core.hostile_support import Answer, RawServer, http_answer, json_answer

pytestmark = pytest.mark.anyio

FAILURES = 110  # more than the pool's 100 connections: one leaked slot per failure would show


def failing(kind: str) -> Answer:
    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        if number > FAILURES:
            conn.sendall(json_answer({"ok": True, "valid": False, "status": 400, "message": "no"}))
            return True
        if kind == "reset":  # RST right after reading the request
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if kind == "too-large":
            conn.sendall(http_answer(b" " * (1024 * 1024 + 1)))
            return True
        conn.sendall(http_answer(b"not gzip", extra=b"Content-Encoding: gzip\r\n"))
        return True

    return answer


@pytest.mark.parametrize("kind", ["reset", "too-large", "broken-gzip"])
async def test_many_failed_calls_leave_every_slot_free(
    api: Harness, hostile: Callable[[Answer], RawServer], kind: str
) -> None:
    server = hostile(failing(kind))
    client = api.make(base_url=server.base_url, max_retries=0, timeout=5.0)
    for _ in range(FAILURES):
        with pytest.raises((textflow.APIConnectionError, textflow.MalformedResponseError)):
            await api.call("verify_code", "+11234567890", "1", client=client)
    assert (await api.call("verify_code", "+11234567890", "1", client=client)).valid is False
