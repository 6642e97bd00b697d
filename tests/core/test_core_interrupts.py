"""A sync call interrupted at an unlucky moment must not break the client for good.

``KeyboardInterrupt`` (a notebook's stop button, Ctrl-C in a REPL that goes on),
or an exception a signal handler raises (Celery's soft time limit, timeout
decorators) can land between any two bytecodes. httpcore's sync code is not
safe against that: an interrupt between ``HTTPConnection`` creating its
``HTTP11Connection`` and that connection's ``handle_request`` leaves it in state
NEW for ever (neither idle, nor expired, nor closed), and one in a close path
leaves it ACTIVE. With one connection per shard that shard can serve nothing
again, and since the free list is LIFO and the dead shard is released like any
other, it is the one every later call takes: each waits the pool timeout and
fails. Seen first with SIGALRM raising KeyboardInterrupt at random points
(~1,500 calls: 5 slots gone, then every call ``PoolTimeout``); reproduced here
by raising at the two windows deterministically (the SDK's own connection, which
replaced httpcore's for direct requests, is held to the same).
"""

from __future__ import annotations

import socket
from typing import Any, Callable

import httpx
import pytest

import textflow
import textflow._config
from textflow._http.async_connection import AsyncConnection
from textflow._http.cookies import Jar
from textflow._http.sync_connection import SyncConnection

from tests.core.core_support import KEY
from tests.core.hostile_support import Answer, RawServer, json_answer


class Interrupted(BaseException):
    """Stands for KeyboardInterrupt (pytest treats a real one as the user's)."""


def verdict(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(json_answer({"ok": True, "valid": False, "status": 400, "message": "no"}))
    return True


def verdict_setting_a_cookie(conn: socket.socket, number: int, body: bytes) -> bool:
    answer = json_answer({"ok": True, "valid": False, "status": 400, "message": "no"})
    head, _, rest = answer.partition(b"\r\n")
    conn.sendall(head + b"\r\nSet-Cookie: session=abc; Path=/\r\n" + rest)
    return True


def _client(server_url: str) -> textflow.TextFlowClient:
    # A short pool timeout, so that a call that waits for a dead shard fails fast.
    return textflow.TextFlowClient(
        KEY, base_url=server_url, max_retries=0, timeout=httpx.Timeout(5.0, pool=0.5)
    )


def test_an_interrupted_call_does_not_break_every_later_call(
    hostile: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = hostile(verdict)
    client = _client(server.base_url)
    original = SyncConnection._exchange
    fired: list[bool] = []

    def interrupted_at_entry(self: SyncConnection, *args: Any) -> Any:
        if not fired:  # the interrupt lands once, right after the connection was made
            fired.append(True)
            raise Interrupted
        return original(self, *args)

    monkeypatch.setattr(SyncConnection, "_exchange", interrupted_at_entry)
    with pytest.raises(Interrupted):
        client.verify_code("+11234567890", "1")
    try:
        for _ in range(3):  # the user goes on with the same client
            assert client.verify_code("+11234567890", "1").valid is False
    finally:
        client.close()


def test_interrupts_after_the_answer_arrived_do_not_use_up_the_pool(
    hostile: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = hostile(verdict_setting_a_cookie)
    client = _client(server.base_url)

    def interrupted(self: Jar, response: object, request: object) -> None:
        raise Interrupted

    try:
        with monkeypatch.context() as patch:
            # an answer that sets a cookie goes to the client's jar (the SDK's own subclass)
            patch.setattr(Jar, "extract_cookies", interrupted)
            for _ in range(100):  # as many as the pool has connections
                with pytest.raises(Interrupted):
                    client.verify_code("+11234567890", "1")
        assert client.verify_code("+11234567890", "1").valid is False
    finally:
        client.close()


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_a_deadline_at_an_unlucky_checkpoint_does_not_break_later_calls(
    hostile: Callable[[Answer], RawServer], monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    import anyio

    server = hostile(verdict)
    client = textflow.AsyncTextFlowClient(KEY, base_url=server.base_url, max_retries=0, timeout=1.0)
    original = AsyncConnection._exchange
    fired: list[bool] = []

    async def slow_checkpoint(self: AsyncConnection, *args: Any) -> Any:
        if not fired:  # stands for a checkpoint inside the connection's cycle,
            fired.append(True)  # where a cancellation already requested is delivered
            if anyio_backend == "trio":
                # under trio no cancel scope cuts such a call: the deadline ends the
                # waits of the connection itself, so the checkpoint is one of them (a
                # read before anything was written: the server says nothing)
                await self.stream.read(1, 5.0)
            else:
                await anyio.sleep(5)
        return await original(self, *args)

    monkeypatch.setattr(AsyncConnection, "_exchange", slow_checkpoint)
    with pytest.raises(textflow.APITimeoutError):
        await client.verify_code("+11234567890", "1")
    try:
        for _ in range(3):
            assert (await client.verify_code("+11234567890", "1")).valid is False
    finally:
        await client.aclose()
