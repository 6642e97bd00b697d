"""The SDK's own TLS on the sync stream (``textflow._http.sync_tls``) on 127.0.0.1.

The TLS is done in memory (``memory_tls``) over the plain socket, which the stream keeps:
what the sync connection relies on, as under trio (test_core_trio_tls): a handshake
with a certificate made at test time, a certificate refused before anything is sent, a
server that answers the handshake with garbage, stalls in it or closes in it, data
behind an answer seen as such (and kept), session tickets not, the end read as ``b""``,
a record cut by the end of the connection; the call's deadline ends a handshake and a
trickled answer. Each failed handshake leaves the socket it ran on closed.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import trustme

from textflow._http import net, sync_stream, sync_tls
from textflow._http.deadline import DEADLINE, DEADLINE_PASSED

from tests.core.proxy_support import (
    Peer,
    certificate_authority,
    client_context,
    server_context,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return certificate_authority()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    yield server
    server.close()


def plain(listener: socket.socket) -> sync_stream.SocketStream:
    return sync_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)


def connect(listener: socket.socket, context: ssl.SSLContext) -> sync_tls.TLSStream:
    stream = plain(listener).start_tls(context, "127.0.0.1", 5.0)
    assert isinstance(stream, sync_tls.TLSStream)
    return stream


def wait_readable(sock: socket.socket) -> None:
    assert select.select([sock], [], [], 10)[0], "nothing came"


@contextmanager
def call_deadline(seconds: float) -> Iterator[None]:
    token = DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        DEADLINE.reset(token)


def test_a_handshake_then_bytes_both_ways_then_the_servers_close_notify(
    ca: trustme.CA, listener: socket.socket
) -> None:
    peer = Peer(listener, server_context(ca))
    stream = connect(listener, client_context(ca))
    closing = threading.Thread(target=lambda: peer.tls.unwrap(), daemon=True)  # close_notify
    try:
        assert peer.joined().error is None
        assert stream.get_extra_info("ssl_object").server_hostname == "127.0.0.1"
        stream.write(b"ping", 5.0)
        assert peer.tls.recv(4) == b"ping"
        peer.tls.sendall(b"pong")
        assert stream.read(100, 5.0) == b"pong"
        assert not stream.get_extra_info("is_readable")
        closing.start()
        assert stream.read(100, 5.0) == b""
        assert stream.get_extra_info("is_readable")
        assert stream.read(100, 5.0) == b""  # (the end stays the end)
    finally:
        stream.close()  # answers the close_notify: the server's unwrap ends
        if closing.ident is not None:
            closing.join(10)
        peer.close()
    assert not closing.is_alive()
    assert stream.get_extra_info("socket").fileno() == -1


def test_data_behind_an_answer_is_seen_while_idle_and_read_next(
    ca: trustme.CA, listener: socket.socket
) -> None:
    peer = Peer(listener, server_context(ca))
    stream = connect(listener, client_context(ca))
    try:
        peer.joined().tls.sendall(b"answer")
        peer.tls.sendall(b"unasked")
        assert stream.read(100, 5.0) == b"answer"
        if not stream.get_extra_info("is_readable"):  # still on its way
            wait_readable(stream.get_extra_info("socket"))
        assert stream.get_extra_info("is_readable")
        assert stream.read(100, 5.0) == b"unasked"
    finally:
        stream.close()
        peer.close()


def test_session_tickets_alone_leave_an_idle_connection_unreadable(
    ca: trustme.CA, listener: socket.socket
) -> None:
    peer = Peer(listener, server_context(ca))
    stream = connect(listener, client_context(ca))
    try:
        assert stream.get_extra_info("ssl_object").version() == "TLSv1.3"
        peer.joined()  # TLS 1.3: the server sends its session tickets after the handshake
        wait_readable(stream.get_extra_info("socket"))
        assert not stream.get_extra_info("is_readable")
        peer.tls.sendall(b"data")
        assert stream.read(100, 5.0) == b"data"
    finally:
        stream.close()
        peer.close()


@pytest.mark.parametrize("refused", ["another-name", "untrusted-ca"])
def test_a_certificate_refused_is_a_connect_error_and_the_socket_closed(
    ca: trustme.CA, listener: socket.socket, refused: str
) -> None:
    peer = Peer(listener, server_context(ca))
    raw = plain(listener)
    try:
        if refused == "another-name":  # the certificate is for 127.0.0.1 and localhost
            context, hostname = client_context(ca), "api.example.org"
        else:  # a self-signed one, as far as this client knows
            context, hostname = client_context(trustme.CA()), "127.0.0.1"
        with pytest.raises(net.ConnectError, match="certificate"):
            raw.start_tls(context, hostname, 5.0)
        assert raw.get_extra_info("socket").fileno() == -1
    finally:
        raw.close()
        peer.close()


@pytest.mark.parametrize(
    "server",
    [
        b"HTTP/1.1 400 Bad Request\r\n\r\n",  # not TLS at all
        b"\x16\x03\x03\x00\x05garbage",  # a handshake record holding nonsense
        b"\x15\x03\x03\x00\x02\x02\x28",  # a fatal alert: handshake failure
    ],
    ids=["http", "bad-record", "alert"],
)
def test_a_server_that_answers_the_handshake_with_garbage_is_a_connect_error(
    ca: trustme.CA, listener: socket.socket, server: bytes
) -> None:
    peer = Peer(listener, None)
    raw = plain(listener)
    try:
        peer.joined().tls.sendall(server)
        with pytest.raises(net.ConnectError):
            raw.start_tls(client_context(ca), "127.0.0.1", 5.0)
        assert raw.get_extra_info("socket").fileno() == -1
    finally:
        raw.close()
        peer.close()


@pytest.mark.parametrize("when", ["at-once", "mid-handshake"])
def test_a_server_that_closes_in_the_handshake_is_a_connect_error(
    ca: trustme.CA, listener: socket.socket, when: str
) -> None:
    peer = Peer(listener, None)
    raw = plain(listener)
    try:
        conn = peer.joined().tls
        if when == "mid-handshake":  # half a record of a server hello, then the end
            conn.sendall(b"\x16\x03\x03\x00\x40" + b"\x02" * 20)
        conn.close()
        with pytest.raises(net.ConnectError):
            raw.start_tls(client_context(ca), "127.0.0.1", 5.0)
        assert raw.get_extra_info("socket").fileno() == -1
    finally:
        raw.close()
        peer.close()


@pytest.mark.parametrize("cut_by", ["timeout", "deadline"])
def test_a_handshake_that_stalls_ends_at_its_timeout_or_the_calls_deadline(
    ca: trustme.CA, listener: socket.socket, cut_by: str
) -> None:
    peer = Peer(listener, None)
    raw = plain(listener)
    timeout = 0.2 if cut_by == "timeout" else 5.0
    try:
        peer.joined().tls.sendall(b"\x16\x03\x03\x00\x40" + b"\x02" * 20)  # then silence
        with (
            call_deadline(0.2 if cut_by == "deadline" else 60),
            pytest.raises(net.ConnectTimeout) as caught,
        ):
            raw.start_tls(client_context(ca), "127.0.0.1", timeout)
        assert (str(caught.value) == DEADLINE_PASSED) is (cut_by == "deadline")
        assert raw.get_extra_info("socket").fileno() == -1
    finally:
        raw.close()
        peer.close()


def test_a_record_cut_by_the_end_of_the_connection_reads_as_the_end(
    ca: trustme.CA, listener: socket.socket
) -> None:
    """Half a record, then the end: the end (HTTP's framing tells a cut answer, as
    test_core_hostile3_tls checks through the clients), nothing made up. The server does
    its TLS in memory, to hand the socket half a record."""
    peer = Peer(listener, None)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_context(ca).wrap_bio(incoming, outgoing, server_side=True)
    made: list[sync_tls.TLSStream] = []
    client = threading.Thread(
        target=lambda: made.append(connect(listener, client_context(ca))), daemon=True
    )
    client.start()
    conn = peer.joined().tls
    try:
        while True:
            try:
                server.do_handshake()
                break
            except ssl.SSLWantReadError:
                conn.sendall(outgoing.read())
                incoming.write(conn.recv(65536))
        conn.sendall(outgoing.read())
        client.join(10)
        (stream,) = made
        server.write(b"a record cut in half")
        record = outgoing.read()
        conn.sendall(record[: len(record) // 2])
        conn.shutdown(socket.SHUT_WR)
        assert stream.read(100, 5.0) == b""
        stream.close()
    finally:
        peer.close()


def test_an_answer_trickled_a_record_at_a_time_ends_at_the_calls_deadline(
    ca: trustme.CA, listener: socket.socket
) -> None:
    peer = Peer(listener, server_context(ca))
    stream = connect(listener, client_context(ca))
    stop = threading.Event()

    def trickle() -> None:  # a TLS record of one byte every 10 ms, until the test ends
        while not stop.wait(0.01):
            peer.tls.sendall(b"x")

    sender = threading.Thread(target=trickle, daemon=True)
    got = [b""]

    def read_on() -> None:  # each read returns within its own timeout (5 s)
        while True:
            got[0] += stream.read(100, 5.0)

    try:
        assert peer.joined().error is None
        sender.start()
        with call_deadline(0.3), pytest.raises(net.ReadTimeout, match=DEADLINE_PASSED):
            read_on()
        assert got[0]  # it was reading, and the deadline ended it
    finally:
        stop.set()
        sender.join(10)
        stream.close()
        peer.close()
