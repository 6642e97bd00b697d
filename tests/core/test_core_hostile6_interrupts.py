"""Adversarial pass (issue 20): an interrupt at every function entry of a sync send.

Python runs a signal's handler (Ctrl-C's ``KeyboardInterrupt``, a soft time limit's
exception) at the entry of a Python function, among other points; so an interrupt can
land at the entry of any function a send calls, the standard library's included. Here
one send is interrupted at each of its function entries in turn (a trace function
raising there, where the signal's handler would), and after each a later call on the
same client must be answered, with every slot back.

Found so: ``threading.Semaphore`` (the sync gate was one) runs Python code under its
condition's lock, and an interrupt landing as that lock is let go left it held for
ever: every later call of the client, in any thread, hung (not even the pool timeout
ended the wait).
"""

from __future__ import annotations

import contextvars
import gc
import json
import socket
import ssl
import sys
import threading
import warnings
from types import FrameType
from typing import Any, Callable, Optional

import httpx
import pytest

import textflow

from tests.core.core_support import KEY, ok_sms
from tests.core.hostile_support import Answer, RawServer, http_answer, json_answer
from tests.core.proxy_support import TLSRawServer

GUARD = 30.0  # seconds: a guard against a hang, not a measure


class Interrupted(BaseException):
    """Stands for KeyboardInterrupt (pytest treats a real one as the user's)."""


def answered(conn: socket.socket, number: int, body: bytes) -> bool:
    conn.sendall(json_answer(ok_sms()))
    return True


def _send(client: textflow.TextFlowClient) -> None:
    client.send_sms("+11234567890", "hi")


def _interrupted_at(entry: int, run: Callable[[], None]) -> Optional[str]:
    """Runs ``run()`` with an interrupt at its ``entry``-th function entry (from 0); where
    it landed, or ``None`` if ``run`` has fewer entries (it ran to its end)."""
    entries = 0
    previous = sys.gettrace()

    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal entries
        if event == "call":
            entries += 1
            if entries > entry:
                sys.settrace(previous)
                raise Interrupted(f"{frame.f_code.co_name} ({frame.f_code.co_filename})")

    sys.settrace(tracer)
    try:
        # In a copy of the context: an interrupt as the call's deadline scope ends leaves
        # the deadline set in its context (each call sets its own, so no later call sees
        # it), which the tests after this one would otherwise see.
        contextvars.copy_context().run(run)
    except Interrupted as exc:
        return str(exc)
    finally:
        sys.settrace(previous)
    return None


def _answers_in_time(client: textflow.TextFlowClient) -> str:
    """A later call, in a thread of its own: how it ended, or "hung" past the guard."""
    ended: list[str] = []

    def later() -> None:
        try:
            _send(client)
            ended.append("answered")
        except BaseException as exc:  # reported, not raised in the thread
            ended.append(repr(exc))

    thread = threading.Thread(target=later, daemon=True)
    thread.start()
    thread.join(GUARD)
    return ended[0] if ended else "hung"


def test_an_interrupt_at_any_function_entry_of_a_send_leaves_the_client_working(
    hostile: Callable[[Answer], RawServer],
) -> None:
    server = hostile(answered)
    client = textflow.TextFlowClient(
        KEY, base_url=server.base_url, max_retries=0, timeout=httpx.Timeout(GUARD, pool=1.0)
    )
    try:
        _send(client)  # warm: the connection made, the lazy imports done
        pools: Any = client._http._transport._pools  # type: ignore[attr-defined]
        slots = pools.size
        entry = 0
        while (where := _interrupted_at(entry, lambda: _send(client))) is not None:
            assert _answers_in_time(client) == "answered", f"interrupted at {where}"
            entry += 1
        assert entry > 50  # (the send has that many function entries: they were all tried)
        # Every slot still serves: as many requests at once as there are connections (a
        # shard left to a body dropped unclosed comes back when the gate is full).
        http: httpx.Client = client._http
        held = [
            http.send(http.build_request("POST", server.base_url, content=b"held"), stream=True)
            for _ in range(slots)
        ]
        for response in held:
            response.close()
        assert pools.gate.free == slots
        assert sorted(pools.free) == list(range(slots))
    finally:
        client.close()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_an_interrupt_at_any_function_entry_of_a_new_connection_leaves_no_socket_open(
    scheme: str,
    hostile: Callable[[Answer], RawServer],
    trusted: ssl.SSLContext,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    """Every send on a connection of its own (the server says ``Connection: close``):
    an interrupt in the connect, the TLS handshake, at their end or in the close leaves
    no socket for garbage collection to close (a REPL keeps the last traceback, and any
    socket only it holds).

    Over TLS too: the TLS is done in memory (``sync_tls``) over the plain socket, which
    the stream keeps. ``ssl.SSLContext.wrap_socket``, which the sync stream used before,
    made the TLS socket on the plain one's descriptor and detached the plain one in
    Python code of its own: an interrupt there left two socket objects on one
    descriptor, and the one closed at collection closed whatever socket had that number
    by then (another test's)."""
    closing = http_answer(json.dumps(ok_sms()).encode(), extra=b"Connection: close\r\n")

    def answer(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(closing)
        return False

    server = hostile(answer) if scheme == "http" else TLSRawServer(tls[0], answer)
    client = textflow.TextFlowClient(
        KEY, base_url=server.base_url, max_retries=0, timeout=httpx.Timeout(GUARD, pool=1.0)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        try:
            _send(client)
            entry = 0
            while (where := _interrupted_at(entry, lambda: _send(client))) is not None:
                gc.collect()  # (the interrupt's traceback is gone)
                unclosed = [w for w in caught if issubclass(w.category, ResourceWarning)]
                assert not unclosed, f"interrupted at {where}: {unclosed[0].message}"
                entry += 1
            assert entry > 100
        finally:
            client.close()
            if scheme == "https":
                server.close()
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
