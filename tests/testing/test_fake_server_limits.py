"""The fake's HTTP server against broken or hostile clients: framing errors, idle
connections, foreign Host headers. Raw sockets on 127.0.0.1, each read bounded."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from textflow.testing import FakeTextFlow
from textflow.testing._server import HOST_REFUSED_MESSAGE, FakeHTTPServer

from tests.testing.test_fake_server import (
    BALANCE_REQUEST,
    SMS,
    connection,
    post_bytes,
    read_response,
)


def send_raw(server: FakeHTTPServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with connection(server) as (sock, stream):
        sock.sendall(request)
        return read_response(stream)


def chunked(size_line: bytes, rest: bytes = b"") -> bytes:
    return (
        b"POST /api/send-sms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tf_test_key\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + size_line + b"\r\n" + rest
    )


@pytest.mark.parametrize("length", [b"abc", b"-5", b"5_0", b"+4", b"1e3", b"0x10", b""])
def test_a_malformed_content_length_is_a_400_and_no_traceback(
    server: FakeHTTPServer, capfd: pytest.CaptureFixture[str], length: bytes
) -> None:
    request = post_bytes(SMS).replace(b"Content-Length: ", b"X-Was: ", 1)
    request = request.replace(b"\r\n\r\n", b"\r\nContent-Length: " + length + b"\r\n\r\n", 1)
    status, headers, body = send_raw(server, request)
    assert (status, headers["connection"]) == (400, "close")
    assert json.loads(body)["message"] == "Malformed Content-Length header."
    assert capfd.readouterr().err == ""


def test_two_different_content_lengths_are_a_400(server: FakeHTTPServer) -> None:
    request = post_bytes(SMS, extra=b"Content-Length: 3\r\n")
    assert send_raw(server, request)[0] == 400


@pytest.mark.parametrize("size_line", [b"zz", b"-1", b"0x5", b"", b"1" * 40, b"\xff\xfe"], ids=repr)
def test_a_malformed_chunk_size_is_a_400_and_no_traceback(
    server: FakeHTTPServer, fake: FakeTextFlow, capfd: pytest.CaptureFixture[str], size_line: bytes
) -> None:
    status, headers, body = send_raw(server, chunked(size_line, b"abc\r\n0\r\n\r\n"))
    assert (status, headers["connection"]) == (400, "close")
    assert "chunk" in json.loads(body)["message"]
    assert fake.messages == []
    assert capfd.readouterr().err == ""


def test_a_chunk_longer_than_its_size_is_a_400(server: FakeHTTPServer) -> None:
    assert send_raw(server, chunked(b"2", b"abcdef\r\n0\r\n\r\n"))[0] == 400


def test_a_body_cut_short_closes_without_a_traceback(
    fake: FakeTextFlow, capfd: pytest.CaptureFixture[str]
) -> None:
    server = FakeHTTPServer("127.0.0.1", 0, fake._handle)
    server.start()
    try:
        with connection(server) as (sock, stream):
            sock.sendall(post_bytes(SMS)[:-3])
            sock.shutdown(socket.SHUT_WR)
            status, _, _ = read_response(stream)
        assert status == 400
    finally:
        server.stop()
    assert fake.messages == []
    assert capfd.readouterr().err == ""


def test_idle_connections_are_closed_and_their_threads_end(fake: FakeTextFlow) -> None:
    server = FakeHTTPServer("127.0.0.1", 0, fake._handle, idle_timeout=0.5)
    server.start()
    before = threading.active_count()
    try:
        socks = [socket.create_connection(("127.0.0.1", server.server_port), timeout=10)]
        socks += [socket.create_connection(("127.0.0.1", server.server_port), timeout=10)]
        socks[1].sendall(BALANCE_REQUEST)  # one answered, then idle; one never says anything
        for _ in range(20):  # more connections that never speak
            socks.append(socket.create_connection(("127.0.0.1", server.server_port), timeout=10))
        deadline = time.monotonic() + 10
        while server.connections_accepted < 22 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert threading.active_count() >= before + 20
        for sock in socks:  # the server closes each one: EOF, well before our 10 s timeout
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            assert data == b"" or data.startswith(b"HTTP/1.1 200")
        while threading.active_count() > before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert threading.active_count() <= before
    finally:
        for sock in socks:
            sock.close()
        server.stop()


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.1:8765", "localhost", "LOCALHOST:1", "[::1]:80", "10.0.0.1"]
)
def test_loopback_and_address_hosts_are_served(server: FakeHTTPServer, host: str) -> None:
    request = BALANCE_REQUEST.replace(b"Host: 127.0.0.1", b"Host: " + host.encode())
    assert send_raw(server, request)[0] == 200


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:8765", "localhost.attacker.example", "[::1"]
)
def test_a_foreign_host_is_refused_dns_rebinding(
    server: FakeHTTPServer, fake: FakeTextFlow, host: str
) -> None:
    request = post_bytes(SMS).replace(b"Host: 127.0.0.1", b"Host: " + host.encode())
    status, headers, body = send_raw(server, request)
    assert (status, headers["connection"]) == (403, "close")
    assert json.loads(body)["message"] == HOST_REFUSED_MESSAGE
    assert fake.messages == []


def test_the_name_it_was_bound_to_is_accepted(fake: FakeTextFlow) -> None:
    server = FakeHTTPServer("localhost", 0, fake._handle)
    server.start()
    try:
        assert server.host_allowed("LocalHost:9")
        assert not server.host_allowed("evil.test")
        assert server.host_allowed(None)  # not a browser: no rebinding possible
    finally:
        server.stop()


def test_chunk_trailers_are_read_and_a_chunked_body_over_a_mebibyte_is_refused(
    server: FakeHTTPServer, fake: FakeTextFlow
) -> None:
    content = json.dumps(SMS).encode()
    with_trailer = chunked(f"{len(content):x}".encode(), content + b"\r\n0\r\nX-T: 1\r\n\r\n")
    assert send_raw(server, with_trailer)[0] == 200
    huge = chunked(b"200000", b"")  # 2 MiB announced: refused before reading it
    status, headers, _ = send_raw(server, huge)
    assert (status, headers["connection"]) == (413, "close")
    assert len(fake.messages) == 1
