"""Attacks on the gate and the free list: after any number of failed calls every slot is free."""

from __future__ import annotations

import socket
import struct
from typing import Any, Callable

import httpx
import pytest

import textflow
from textflow._http.async_shard import AsyncShard
from textflow._http.sync_shard import SyncShard
from textflow._http.transport import AsyncTextFlowTransport, TextFlowTransport

from tests.core.core_support import Harness
from tests.core.hostile_support import Answer, RawServer, always, http_answer, json_answer

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


class _Interrupted(BaseException):
    """Ctrl-C (or a signal handler's exception) while a shard is being made."""


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_shard_interrupted_while_made_loses_no_slot(
    hostile: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # With one connection, a slot whose shard index was lost would fail every later call.
    server = hostile(always(json_answer({"ok": True})))
    shard: Any = SyncShard if kind == "sync" else AsyncShard
    made = shard.__init__
    interrupted: list[bool] = []

    def once(self: object, *args: Any) -> None:
        if not interrupted:
            interrupted.append(True)
            raise _Interrupted
        made(self, *args)

    monkeypatch.setattr(shard, "__init__", once)
    limits = httpx.Limits(max_connections=1)
    if kind == "sync":
        with httpx.Client(transport=TextFlowTransport(limits)) as client:
            with pytest.raises(_Interrupted):
                client.get(server.base_url)
            assert [client.get(server.base_url).status_code for _ in range(3)] == [200] * 3
    else:
        async with httpx.AsyncClient(transport=AsyncTextFlowTransport(limits)) as aclient:
            with pytest.raises(_Interrupted):
                await aclient.get(server.base_url)
            for _ in range(3):
                assert (await aclient.get(server.base_url)).status_code == 200
