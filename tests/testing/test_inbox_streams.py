"""The inbox's live event streams: capped, and ended as soon as their client goes away.

Each stream holds a server thread. Before the cap, 1,000 open streams pinned
1,000 threads; before the client check, a closed stream's thread lived on until
the next heartbeat (15 s) failed to write. Here the heartbeat is pushed out of
reach, so a stream that ends at all ended because its client was seen gone.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from textflow.testing import FakeTextFlow, _inbox
from textflow.testing._inbox import InboxApp
from textflow.testing._server import FakeHTTPServer

HANG_GUARD = 20.0  # seconds; the client check runs every 0.25 s, so 80x that


@pytest.fixture
def server(fake: FakeTextFlow, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHTTPServer]:
    monkeypatch.setattr(_inbox, "HEARTBEAT", 10_000.0)  # never within a test
    inbox = InboxApp(fake, fake._inbox, now_ms=fake._state.now_ms, clear=fake._clear_inbox)
    server = FakeHTTPServer("127.0.0.1", 0, fake._handle, inbox=inbox, max_streams=5)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def open_stream(server: FakeHTTPServer) -> tuple[socket.socket, bytes]:
    """A raw event-stream request; returns the socket and the first bytes answered."""
    sock = socket.create_connection(("127.0.0.1", server.server_port), timeout=HANG_GUARD)
    sock.sendall(b"GET /_inbox/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"hang guard: {what}"
        time.sleep(0.02)


def test_streams_above_the_cap_are_answered_503_and_a_freed_slot_is_reused(
    server: FakeHTTPServer,
) -> None:
    with ExitStack() as stack:
        socks = []
        for _ in range(5):
            sock, head = open_stream(server)
            stack.callback(sock.close)
            socks.append(sock)
            assert head.startswith(b"HTTP/1.1 200")
        assert server.live_streams == 5
        extra, head = open_stream(server)
        stack.callback(extra.close)
        assert head.startswith(b"HTTP/1.1 503")
        assert b"retry-after: 5" in head.lower()
        assert server.live_streams == 5

        socks[0].close()
        wait_until(lambda: server.live_streams == 4, "a closed stream's slot was never freed")
        again, head = open_stream(server)
        stack.callback(again.close)
        assert head.startswith(b"HTTP/1.1 200")


def test_a_closed_streams_thread_ends_without_waiting_for_a_heartbeat(
    server: FakeHTTPServer,
) -> None:
    before = {t for t in threading.enumerate() if t.name == "textflow-fake-connection"}
    sock, head = open_stream(server)
    assert head.startswith(b"HTTP/1.1 200")
    assert server.live_streams == 1
    (thread,) = {t for t in threading.enumerate() if t.name == "textflow-fake-connection"} - before
    sock.close()
    thread.join(HANG_GUARD)
    assert not thread.is_alive()
    assert server.live_streams == 0


def test_many_streams_opened_and_dropped_at_once_leave_no_thread_or_slot(
    fake: FakeTextFlow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adversarial: 150 clients open streams together and vanish (some with a reset)."""
    monkeypatch.setattr(_inbox, "HEARTBEAT", 10_000.0)
    inbox = InboxApp(fake, fake._inbox, now_ms=fake._state.now_ms, clear=fake._clear_inbox)
    server = FakeHTTPServer("127.0.0.1", 0, fake._handle, inbox=inbox)
    before = set(threading.enumerate())
    server.start()
    try:
        opened = [open_stream(server) for _ in range(150)]
        statuses = [head.split(b" ", 2)[1] for _, head in opened]
        assert statuses.count(b"200") == 100
        assert statuses.count(b"503") == 50
        for index, (sock, _) in enumerate(opened):
            if index % 2:  # an abortive close: RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        wait_until(lambda: server.live_streams == 0, "streams outlived their clients")
        wait_until(
            lambda: (
                not [
                    t
                    for t in set(threading.enumerate()) - before
                    if t.name == "textflow-fake-connection"
                ]
            ),
            "connection threads outlived their clients",
        )
        with fake.client() as client:  # and the API still answers
            assert client.send_sms("+11234567890", "still here").ok
    finally:
        server.stop()
