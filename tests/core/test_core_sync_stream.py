"""The sync client's own network stream (``textflow._http.sync_stream``) on 127.0.0.1.

What its connection relies on: the bytes, the end of the connection, readability of
an idle one, the SDK's stream exceptions (``textflow._http.net``) for a refused
connection, a read or write past its timeout or the call's deadline, and a TLS
handshake that fails (its socket closed).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import pytest

from textflow._http import net, sync_stream
from textflow._http.deadline import DEADLINE, DEADLINE_PASSED


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


def _connect(listener: socket.socket) -> tuple[sync_stream.SocketStream, socket.socket]:
    stream = sync_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    peer, _ = listener.accept()
    return stream, peer


def test_bytes_then_the_end(listener: socket.socket) -> None:
    stream, peer = _connect(listener)
    try:
        assert stream.get_extra_info("ssl_object") is None
        stream.write(b"ping", 5.0)
        assert peer.recv(4) == b"ping"
        peer.sendall(b"pong")
        assert stream.read(100, 5.0) == b"pong"
        assert not stream.get_extra_info("is_readable")
        peer.close()
        assert stream.read(100, 5.0) == b""
        assert stream.get_extra_info("is_readable")
    finally:
        stream.close()
    assert stream.get_extra_info("socket").fileno() == -1


def test_a_refused_connection_is_a_connect_error(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(net.ConnectError):
        sync_stream.connect_tcp("127.0.0.1", port, 5.0)


def test_a_silent_peer_meets_the_read_timeout(listener: socket.socket) -> None:
    stream, peer = _connect(listener)
    try:
        with pytest.raises(net.ReadTimeout) as caught:
            stream.read(100, 0.05)
        assert str(caught.value) != DEADLINE_PASSED  # its own timeout, not the call's
    finally:
        stream.close()
        peer.close()


def test_a_peer_that_does_not_read_meets_the_write_timeout(listener: socket.socket) -> None:
    stream, peer = _connect(listener)
    try:
        with pytest.raises(net.WriteTimeout):
            stream.write(b"x" * (32 * 1024 * 1024), 0.2)
    finally:
        stream.close()
        peer.close()


def test_the_calls_deadline_cuts_every_phase_and_says_so(listener: socket.socket) -> None:
    stream, peer = _connect(listener)
    token = DEADLINE.set(time.monotonic() + 0.05)
    try:
        with pytest.raises(net.ReadTimeout, match=DEADLINE_PASSED):
            stream.read(100, 5.0)  # a silent peer: the deadline, not the 5 s, ends it
        DEADLINE.set(time.monotonic() - 1)  # passed: nothing is tried
        with pytest.raises(net.WriteTimeout, match=DEADLINE_PASSED):
            stream.write(b"ping", 5.0)
        with pytest.raises(net.ConnectTimeout, match=DEADLINE_PASSED):
            sync_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    finally:
        DEADLINE.reset(token)
        stream.close()
        peer.close()
    assert peer.fileno() == -1


@pytest.mark.parametrize("server", ["closes", "silent"])
def test_a_tls_handshake_that_fails_or_stalls_closes_its_socket(
    listener: socket.socket, server: str
) -> None:
    stream, peer = _connect(listener)
    sock = stream.get_extra_info("socket")
    if server == "closes":
        peer.close()
    try:
        expected = net.ConnectError if server == "closes" else net.ConnectTimeout
        with pytest.raises(expected):
            stream.start_tls(ssl.create_default_context(), "localhost", 0.1)
        assert sock.fileno() == -1
    finally:
        peer.close()
