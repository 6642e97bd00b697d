"""The SDK's own TLS under trio (``textflow._http.trio_tls``) on 127.0.0.1.

What its connection relies on: a handshake with a certificate made at test time, a
certificate refused (a name it is not for, a CA not trusted) before anything is sent,
a handshake that never ends cut by its timeout, data behind an answer seen as such
(and kept), records that carry no data (session tickets) not, the end read as ``b""``.
Each failed handshake leaves its socket closed. The deadline of a call without a
cancel scope (``deadline.DEADLINE``) ends a handshake and a trickled answer.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import trio
import trustme

from textflow._http import net, trio_stream, trio_tls
from textflow._http.deadline import DEADLINE, DEADLINE_PASSED

from tests.core.proxy_support import (
    Peer,
    certificate_authority,
    client_context,
    server_context,
)

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["trio"])]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return certificate_authority()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    yield server
    server.close()


async def connect(
    listener: socket.socket, context: ssl.SSLContext, hostname: str = "127.0.0.1"
) -> trio_tls.TrioTLSStream:
    raw = await trio_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    stream: trio_tls.TrioTLSStream = await raw.start_tls(context, hostname, 5.0)
    return stream


async def test_a_handshake_then_bytes_both_ways_then_the_servers_close_notify(
    ca: trustme.CA, listener: socket.socket
) -> None:
    peer = Peer(listener, server_context(ca))
    stream = await connect(listener, client_context(ca))
    closing = threading.Thread(target=lambda: peer.tls.unwrap(), daemon=True)  # close_notify
    try:
        assert peer.joined().error is None
        assert stream.get_extra_info("ssl_object").server_hostname == "127.0.0.1"
        await stream.write(b"ping", 5.0)
        assert peer.tls.recv(4) == b"ping"
        peer.tls.sendall(b"pong")
        assert await stream.read(100, 5.0) == b"pong"
        assert not stream.get_extra_info("is_readable")
        closing.start()
        assert await stream.read(100, 5.0) == b""
        assert stream.get_extra_info("is_readable")
    finally:
        await stream.aclose()  # answers the close_notify: the server's unwrap ends
        if closing.ident is not None:
            closing.join(10)
        peer.close()
    assert not closing.is_alive()
    assert stream.get_extra_info("socket").fileno() == -1


async def test_data_behind_an_answer_is_seen_while_idle_and_read_next(
    ca: trustme.CA, listener: socket.socket
) -> None:
    """Two records: the first read, the second (unasked) makes the connection readable
    wherever it is (the socket, or received with the first), and is not lost."""
    peer = Peer(listener, server_context(ca))
    stream = await connect(listener, client_context(ca))
    try:
        peer.joined().tls.sendall(b"answer")
        peer.tls.sendall(b"unasked")
        assert await stream.read(100, 5.0) == b"answer"
        if not stream.get_extra_info("is_readable"):  # still on its way
            with trio.fail_after(10):
                await trio.lowlevel.wait_readable(stream.get_extra_info("socket"))
        assert stream.get_extra_info("is_readable")
        assert await stream.read(100, 5.0) == b"unasked"
    finally:
        await stream.aclose()
        peer.close()


async def test_session_tickets_alone_leave_an_idle_connection_unreadable(
    ca: trustme.CA, listener: socket.socket
) -> None:
    peer = Peer(listener, server_context(ca))
    stream = await connect(listener, client_context(ca))
    try:
        assert stream.get_extra_info("ssl_object").version() == "TLSv1.3"
        peer.joined()  # TLS 1.3: the server sends its session tickets after the handshake
        with trio.fail_after(10):
            await trio.lowlevel.wait_readable(stream.get_extra_info("socket"))
        assert not stream.get_extra_info("is_readable")
        peer.tls.sendall(b"data")
        assert await stream.read(100, 5.0) == b"data"
    finally:
        await stream.aclose()
        peer.close()


@pytest.mark.parametrize("refused", ["another-name", "untrusted-ca"])
async def test_a_certificate_refused_is_a_connect_error_and_the_socket_closed(
    ca: trustme.CA, listener: socket.socket, refused: str
) -> None:
    peer = Peer(listener, server_context(ca))
    raw = await trio_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    try:
        if refused == "another-name":  # the certificate is for 127.0.0.1 and localhost
            context, hostname = client_context(ca), "api.example.org"
        else:  # a self-signed one, as far as this client knows
            context, hostname = client_context(trustme.CA()), "127.0.0.1"
        with pytest.raises(net.ConnectError, match="certificate"):
            await raw.start_tls(context, hostname, 5.0)
        assert raw.get_extra_info("socket").fileno() == -1
    finally:
        raw.close()
        peer.close()


async def test_a_server_that_never_answers_the_handshake_meets_its_timeout(
    listener: socket.socket, ca: trustme.CA
) -> None:
    peer = Peer(listener, None)
    raw = await trio_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    try:
        with pytest.raises(net.ConnectTimeout):
            await raw.start_tls(client_context(ca), "127.0.0.1", 0.2)
        assert raw.get_extra_info("socket").fileno() == -1
    finally:
        raw.close()
        peer.close()


async def test_a_server_that_closes_in_the_handshake_is_a_connect_error(
    listener: socket.socket, ca: trustme.CA
) -> None:
    peer = Peer(listener, None)
    raw = await trio_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    try:
        peer.joined().tls.close()
        with pytest.raises(net.ConnectError):
            await raw.start_tls(client_context(ca), "127.0.0.1", 5.0)
        assert raw.get_extra_info("socket").fileno() == -1
    finally:
        raw.close()
        peer.close()


async def test_a_handshake_cancelled_by_the_calls_deadline_closes_its_socket(
    listener: socket.socket, ca: trustme.CA
) -> None:
    peer = Peer(listener, None)
    raw = await trio_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    try:
        with trio.CancelScope() as scope:
            scope.cancel()  # the deadline passed while the handshake waits for the server
            await raw.start_tls(client_context(ca), "127.0.0.1", 5.0)
        assert scope.cancelled_caught
        assert raw.get_extra_info("socket").fileno() == -1
    finally:
        raw.close()
        peer.close()


@contextmanager
def call_deadline(seconds: float) -> Iterator[None]:
    """The deadline of a call in progress, as a trio call without a cancel scope sets it."""
    token = DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        DEADLINE.reset(token)


async def test_a_handshake_never_answered_ends_at_the_calls_deadline_and_closes_its_socket(
    listener: socket.socket, ca: trustme.CA
) -> None:
    peer = Peer(listener, None)
    raw = await trio_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    try:
        with call_deadline(0.2), pytest.raises(net.ConnectTimeout, match=DEADLINE_PASSED):
            await raw.start_tls(client_context(ca), "127.0.0.1", 5.0)  # its own timeout: 5 s
        assert raw.get_extra_info("socket").fileno() == -1
    finally:
        raw.close()
        peer.close()


async def test_an_answer_trickled_a_record_at_a_time_ends_at_the_calls_deadline(
    ca: trustme.CA, listener: socket.socket
) -> None:
    peer = Peer(listener, server_context(ca))
    stream = await connect(listener, client_context(ca))
    stop = threading.Event()

    def trickle() -> None:  # a TLS record of one byte every 10 ms, until the test ends
        while not stop.wait(0.01):
            peer.tls.sendall(b"x")

    sender = threading.Thread(target=trickle, daemon=True)
    got = [b""]

    async def read_on() -> None:  # each read returns within its own timeout (5 s)
        while True:
            got[0] += await stream.read(100, 5.0)

    try:
        assert peer.joined().error is None
        sender.start()
        with trio.fail_after(10):  # (a bound on the test, should the deadline not end it)
            with call_deadline(0.3), pytest.raises(net.ReadTimeout, match=DEADLINE_PASSED):
                await read_on()  # only the deadline ends it
        assert got[0], "bytes came before the deadline"
    finally:
        stop.set()
        sender.join(10)
        await stream.aclose()
        peer.close()
