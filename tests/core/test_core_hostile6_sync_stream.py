"""Adversarial pass (issue 20) on the sync client's own socket stream (``sync_stream``).

- A peer that takes a few bytes of a large request at a time (a trickling reader) must
  not keep the write going past the call's deadline: every ``send`` gets what is left
  of the deadline, not what was left when the write began.
- An interrupt (a signal handler raising, Ctrl-C) in the middle of a connect or a TLS
  handshake must not leave the socket open until garbage collection: a REPL keeps the
  last traceback, and with it the socket, for as long as it runs.
"""

from __future__ import annotations

import gc
import signal
import socket
import ssl
import sys
import threading
import time
import warnings
from types import FrameType
from typing import Any, Optional
from urllib.parse import urlsplit

import pytest

from textflow._http import deadline, net, sync_stream, sync_tls
from textflow._http.deadline import DEADLINE, DEADLINE_PASSED

from .hostile_support import full_accept_queue

TLS_FILE = sync_tls.__file__


class _Clock:
    """``time`` for ``textflow._http.deadline``: a monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class _TricklingSocket:
    """A socket whose peer takes one byte per ``send``, each taking 0.4 s of the clock."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.sent = 0
        self.timeouts: list[tuple[Optional[float], float]] = []  # (timeout, deadline left)

    def settimeout(self, timeout: Optional[float]) -> None:
        self.timeouts.append((timeout, 1001.0 - self.clock.now))

    def send(self, data: bytes, flags: int = 0) -> int:
        self.clock.now += 0.4
        self.sent += 1
        return 1


def test_a_trickling_reader_does_not_keep_a_write_past_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    monkeypatch.setattr(deadline, "time", clock)
    sock = _TricklingSocket(clock)
    stream = sync_stream.SocketStream(sock)  # type: ignore[arg-type]
    token = DEADLINE.set(1001.0)  # one second of the clock left
    try:
        with pytest.raises(net.WriteTimeout, match=DEADLINE_PASSED):
            stream.write(b"x" * 10, 5.0)
    finally:
        DEADLINE.reset(token)
    # Sends began at 0, 0.4 and 0.8 s; none after the deadline, each cut to what was left.
    assert sock.sent == 3
    for timeout, left in sock.timeouts:
        assert timeout is not None
        assert timeout <= left


class _Interrupt(BaseException):
    """What a signal handler raises (as Ctrl-C raises KeyboardInterrupt)."""


needs_timer = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")


def _unclosed_sockets(run: object) -> list[str]:
    """The ResourceWarnings of sockets left open by ``run()`` (interrupted), found once
    its traceback is gone."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        try:
            run()  # type: ignore[operator]
        except _Interrupt:
            pass
        else:  # pragma: no cover - the failure this test exists for
            pytest.fail("not interrupted")
        sys.exc_info()  # (the handled exception is gone once the except clause ends)
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


@needs_timer
def test_an_interrupted_connect_closes_its_socket() -> None:
    with full_accept_queue() as url:
        port = urlsplit(url).port
        assert port is not None
        leaked = _unclosed_sockets(
            _interrupting(lambda: sync_stream.connect_tcp("127.0.0.1", port, 30.0))
        )
    assert leaked == []


@needs_timer
def test_an_interrupted_tls_handshake_closes_its_socket() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        stream = sync_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
        peer, _ = listener.accept()  # and never a byte of a handshake back
        try:
            with_timer = _interrupting(
                lambda: stream.start_tls(ssl.create_default_context(), "localhost", 30.0)
            )
            leaked = _unclosed_sockets(with_timer)
        finally:
            peer.close()
            stream.close()
    finally:
        listener.close()
    assert leaked == []


def _interrupting(run: object) -> object:
    def wrapped() -> object:
        def handler(signum: int, frame: Optional[FrameType]) -> None:
            raise _Interrupt

        previous = signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        try:
            return run()  # type: ignore[operator]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    return wrapped


def test_the_name_localhost_connects_whichever_loopback_it_lists_first() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # not on ::1: that one is refused
    try:
        stream = sync_stream.connect_tcp("localhost", listener.getsockname()[1], 5.0)
        peer, _ = listener.accept()
        try:
            stream.write(b"ping", 5.0)
            assert peer.recv(4) == b"ping"
        finally:
            peer.close()
            stream.close()
    finally:
        listener.close()


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:  # pragma: no cover - a Python without IPv6
        pytest.skip("no IPv6 in this Python")
    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:  # pragma: no cover - a host without ::1
        pytest.skip("no ::1 on this host")
    try:
        stream = sync_stream.connect_tcp("::1", listener.getsockname()[1], 5.0)
        peer, _ = listener.accept()
        try:
            assert stream.get_extra_info("server_addr")[0] == "::1"
        finally:
            peer.close()
            stream.close()
    finally:
        listener.close()


def test_a_stalled_connect_ends_at_the_deadline_and_says_so() -> None:
    with full_accept_queue() as url:
        port = urlsplit(url).port
        assert port is not None
        token = DEADLINE.set(time.monotonic() + 0.1)
        try:
            with pytest.raises(net.ConnectTimeout, match=DEADLINE_PASSED):
                sync_stream.connect_tcp("127.0.0.1", port, 30.0)
        finally:
            DEADLINE.reset(token)


def test_an_interrupt_once_the_tls_handshake_is_done_closes_its_socket(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    """An interrupt as the handshake returns, before the stream is handed back (where a
    signal's handler can run), closes the socket, not collection."""
    server_side, client_side = tls
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        conn, _ = listener.accept()
        conn.settimeout(5.0)
        try:
            accepted.append(server_side.wrap_socket(conn, server_side=True))
        except OSError:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    stream = sync_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    previous = sys.gettrace()

    def on_return(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "return":
            sys.settrace(previous)
            raise _Interrupt  # the handshake done, the stream not yet returned
        return on_return

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        if event == "call" and code.co_name == "handshake" and code.co_filename == TLS_FILE:
            return on_return
        return None

    def start_tls() -> None:
        sys.settrace(tracer)
        try:
            stream.start_tls(client_side, "127.0.0.1", 5.0)
        finally:
            sys.settrace(previous)

    try:
        leaked = _unclosed_sockets(start_tls)
    finally:
        thread.join(5.0)
        for conn in accepted:
            conn.close()
        listener.close()
    assert accepted, "the handshake was done"
    assert leaked == []
