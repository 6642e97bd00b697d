"""The fake's HTTP server: keep-alive, concurrency, clean shutdown, raw-socket behaviour."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import BinaryIO

import httpx
import pytest

from textflow.testing import PRICE_PER_SMS, FakeMessage, FakeTextFlow
from textflow.testing._server import FakeHTTPServer

from tests.testing.fake_helpers import auth

US = "+11234567890"
SMS = {"phone_number": US, "text": "x"}
BALANCE_REQUEST = (
    b"GET /api/balance HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tf_test_key\r\n\r\n"
)


def post_bytes(
    body: Mapping[str, object], path: str = "/api/send-sms", extra: bytes = b""
) -> bytes:
    content = json.dumps(body).encode()
    return (
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tf_test_key\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n"
        ).encode()
        + extra
        + b"\r\n"
        + content
    )


def read_response(stream: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response from ``stream``: status, lower-cased headers, body."""
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers = {}
    for _ in range(100):
        line = stream.readline().decode("latin-1").strip()
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.lower()] = value.strip()
    body = stream.read(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body


@contextlib.contextmanager
def connection(server: FakeHTTPServer) -> Iterator[tuple[socket.socket, BinaryIO]]:
    sock = socket.create_connection(("127.0.0.1", server.server_port), timeout=5)
    stream = sock.makefile("rb")
    try:
        yield sock, stream
    finally:
        stream.close()
        sock.close()


def test_base_url_is_loopback_api(fake: FakeTextFlow) -> None:
    with fake.serve() as base_url:
        url = httpx.URL(base_url)
        assert (url.scheme, url.host, url.path) == ("http", "127.0.0.1", "/api")
        assert url.port


def test_thirty_requests_use_one_kept_alive_connection(server: FakeHTTPServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        for _ in range(30):
            response = client.post("/send-sms", json=SMS, headers=auth())
            assert response.status_code == 200
            assert response.headers["content-length"] == str(len(response.content))
            assert "close" not in response.headers.get("connection", "")
    assert server.connections_accepted == 1


def test_a_hundred_connections_held_open_at_once(server: FakeHTTPServer) -> None:
    with contextlib.ExitStack() as stack:
        streams = [stack.enter_context(connection(server)) for _ in range(100)]
        for sock, _ in streams:  # every connection is open before any is answered
            sock.sendall(BALANCE_REQUEST)
        for _, stream in streams:
            status, _, body = read_response(stream)
            assert (status, json.loads(body)["ok"]) == (200, True)
        for sock, _ in streams:  # and they are all still usable
            sock.sendall(BALANCE_REQUEST)
        for _, stream in streams:
            assert read_response(stream)[0] == 200
    assert server.connections_accepted == 100


def test_concurrent_sends_debit_exactly(server: FakeHTTPServer, fake: FakeTextFlow) -> None:
    def send(_: int) -> int:
        return client.post("/send-sms", json=SMS, headers=auth()).status_code

    limits = httpx.Limits(max_connections=20)
    client = httpx.Client(base_url=server.base_url, timeout=5, limits=limits)
    with client, ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(send, range(200)))
    assert statuses == [200] * 200
    assert len(fake.messages) == 200
    assert fake.balance == Decimal(100) - 200 * PRICE_PER_SMS


def test_disconnect_reads_the_whole_request_then_closes(
    server: FakeHTTPServer, fake: FakeTextFlow
) -> None:
    fake.fail_next("send_sms", disconnect=True)
    with connection(server) as (sock, stream):
        sock.sendall(post_bytes(SMS))
        assert stream.read() == b""  # closed, no answer
    with connection(server) as (sock, stream):
        sock.sendall(BALANCE_REQUEST)
        assert read_response(stream)[0] == 200


def test_connection_close_is_honoured(server: FakeHTTPServer) -> None:
    with connection(server) as (sock, stream):
        sock.sendall(post_bytes(SMS, extra=b"Connection: close\r\n"))
        status, headers, _ = read_response(stream)
        assert (status, headers["connection"]) == (200, "close")
        assert stream.read() == b""


def test_a_chunked_body_is_read(server: FakeHTTPServer, fake: FakeTextFlow) -> None:
    content = json.dumps(SMS).encode()
    request = (
        b"POST /api/send-sms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tf_test_key\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{5:x}\r\n".encode()
        + content[:5]
        + f"\r\n{len(content) - 5:x}\r\n".encode()
        + content[5:]
        + b"\r\n0\r\n\r\n"
    )
    with connection(server) as (sock, stream):
        sock.sendall(request)
        assert read_response(stream)[0] == 200
    assert fake.messages[0].text == "x"


def test_a_body_over_a_mebibyte_is_refused(server: FakeHTTPServer) -> None:
    request = (
        b"POST /api/send-sms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000000\r\n"
        b"Content-Type: application/json\r\n\r\n"
    )
    with connection(server) as (sock, stream):
        sock.sendall(request)
        status, headers, body = read_response(stream)
    assert (status, headers["connection"]) == (413, "close")
    assert json.loads(body) == {"ok": False, "status": 413, "message": "Request body too large."}


def test_stop_closes_idle_connections_and_does_not_wait_for_delays(fake: FakeTextFlow) -> None:
    server = FakeHTTPServer("127.0.0.1", 0, fake._handle)
    server.start()
    fake.fail_next("send_sms", delay=600)
    with connection(server) as (idle, idle_stream), connection(server) as (slow, slow_stream):
        idle.sendall(BALANCE_REQUEST)
        assert read_response(idle_stream)[0] == 200
        slow.sendall(post_bytes(SMS))
        for _ in range(100):  # until the slow request is being handled
            if fake.messages:
                break
            time.sleep(0.01)
        stopper = threading.Thread(target=server.stop, daemon=True)
        stopper.start()
        # A hang guard, not a margin: stop() returns at once; only a stop that waits
        # for the 600 s delay is still running after 30 s.
        stopper.join(30)
        assert not stopper.is_alive()
        assert idle_stream.read() == b""
        with contextlib.suppress(OSError):
            assert slow_stream.read() == b""
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.server_port), timeout=1).close()


def test_nothing_is_logged_unless_asked(
    fake: FakeTextFlow, capfd: pytest.CaptureFixture[str]
) -> None:
    with fake.serve() as base_url, httpx.Client(base_url=base_url) as client:
        client.get("/balance", headers=auth())
    assert capfd.readouterr().err == ""
    with fake.serve(log_requests=True) as base_url, httpx.Client(base_url=base_url) as client:
        client.get("/balance", headers=auth())
    assert "GET /api/balance HTTP/1.1" in capfd.readouterr().err


def test_on_message_sees_every_delivered_message() -> None:
    seen: list[FakeMessage] = []
    fake = FakeTextFlow(on_message=seen.append)
    with fake.serve() as base_url, httpx.Client(base_url=base_url) as client:
        client.post("/send-sms", json=SMS, headers=auth())
        client.post("/send-code", json={"phone_number": US, "service_name": "A"}, headers=auth())
        client.post("/bulk-sms", json={"phone_numbers": [US, US], "text": "b"}, headers=auth())
        client.post("/send-sms", json={"phone_number": "1"}, headers=auth())  # refused
    assert [m.kind for m in seen] == ["sms", "code", "bulk", "bulk"]
    assert seen == fake.messages


def test_a_failing_on_message_does_not_break_the_answer(caplog: pytest.LogCaptureFixture) -> None:
    def explode(message: FakeMessage) -> None:
        raise RuntimeError("boom")

    fake = FakeTextFlow(on_message=explode)
    with httpx.Client(transport=fake.transport(), base_url="https://x.invalid/api") as client:
        assert client.post("/send-sms", json=SMS, headers=auth()).status_code == 200
    assert "on_message callback failed" in caplog.text


def test_serves_ipv6_loopback(fake: FakeTextFlow) -> None:
    try:
        socket.socket(socket.AF_INET6).close()
        with fake.serve("::1") as base_url:
            assert base_url.startswith("http://[::1]:")
            with httpx.Client(base_url=base_url, timeout=5) as client:
                assert client.get("/balance", headers=auth()).status_code == 200
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")


def test_the_server_thread_is_gone_after_the_block(fake: FakeTextFlow) -> None:
    before = {t.name for t in threading.enumerate()}
    with fake.serve() as base_url, httpx.Client(base_url=base_url) as client:
        client.get("/balance", headers=auth())
    after = {t.name for t in threading.enumerate()} - before
    assert not any(name.startswith("textflow-fake-server") for name in after)
