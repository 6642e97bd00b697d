"""Interrupted calls do not keep their connections open until the client is closed.

A call interrupted inside its connection (Ctrl-C, a signal handler's exception, a
cancellation at an unlucky checkpoint) can leave its connection neither idle nor
closed; the transport puts it aside and uses another. What is put aside is closed
by the next call, so a long-lived client interrupted again and again holds one
connection, not one per interrupt (they piled up, open, until ``close()``).
"""

from __future__ import annotations

import socket
import time
from typing import Callable

import anyio
import pytest

import textflow
from textflow._http.async_connection import AsyncConnection
from textflow._http.sync_connection import SyncConnection

from tests.core.core_support import KEY
from tests.core.hostile_support import Answer, RawServer, json_answer

INTERRUPTS = 30
WAIT = 10.0  # seconds the server may take to see the connections closed (polled)


class Interrupted(BaseException):
    """Stands for KeyboardInterrupt (pytest treats a real one as the user's)."""


def verdict(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(json_answer({"ok": True, "valid": False, "status": 400, "message": "no"}))
    return True


def open_connections(server: RawServer, at_most: int) -> int:
    """The connections still open on the server, once at most ``at_most`` (or WAIT ends)."""
    give_up = time.monotonic() + WAIT
    while server.connections - server.ended > at_most and time.monotonic() < give_up:
        time.sleep(0.02)
    return server.connections - server.ended


def test_sync_interrupts_leave_no_connection_open(
    hostile: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = hostile(verdict)
    client = textflow.TextFlowClient(KEY, base_url=server.base_url, max_retries=0)

    def interrupted(self: SyncConnection, *args: object) -> object:
        raise Interrupted  # connected, nothing written yet

    try:
        with monkeypatch.context() as patch:
            patch.setattr(SyncConnection, "_exchange", interrupted)
            for _ in range(INTERRUPTS):
                with pytest.raises(Interrupted):
                    client.verify_code("+11234567890", "1")
        assert client.verify_code("+11234567890", "1").valid is False
        assert server.connections == INTERRUPTS + 1
        assert open_connections(server, at_most=1) == 1
    finally:
        client.close()


@pytest.mark.anyio
async def test_async_cancellations_leave_no_connection_open(
    hostile: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = hostile(verdict)
    client = textflow.AsyncTextFlowClient(KEY, base_url=server.base_url, max_retries=0)
    scope: list[anyio.CancelScope] = []

    async def cancelled(self: object, *args: object) -> object:
        scope[-1].cancel()  # a cancellation delivered at the connection's first checkpoint
        await anyio.sleep(0)
        raise AssertionError("not cancelled")

    try:
        with monkeypatch.context() as patch:
            patch.setattr(AsyncConnection, "_exchange", cancelled)
            for _ in range(INTERRUPTS):
                with anyio.CancelScope() as outer:
                    scope.append(outer)
                    await client.verify_code("+11234567890", "1")
                assert outer.cancelled_caught
        assert (await client.verify_code("+11234567890", "1")).valid is False
        assert server.connections == INTERRUPTS + 1
        assert open_connections(server, at_most=1) == 1
    finally:
        await client.aclose()
