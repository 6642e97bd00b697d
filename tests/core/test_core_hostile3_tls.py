"""A TLS server (certificate made at test time) that breaks off inside a TLS record.

The server does its TLS in memory (``ssl.MemoryBIO``) so it can hand the socket any
prefix of its records: the answer's head whole, then half of the record that carries
the body, then the end of the connection (FIN, or RST). On every transport the user
gets a `TextFlowError` that says the message may have been sent, and the next call
goes on a new connection and gets its own answer.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading

import pytest

import textflow
from textflow import _config

from tests.core.core_support import Harness, ok_sms

pytestmark = pytest.mark.anyio

TO = "+11234567890"
PRICES = (1.25, 2.5, 3.75)


def sms(price: float) -> bytes:
    answer = ok_sms(TO)
    answer["data"]["price"] = price
    return json.dumps(answer).encode()


SMUGGLED = sms(6.75)  # an answer nobody asked for


class CutTLSServer:
    """Answers the first request with its head, then half the body's record, then ends
    the connection (``rst``: with a reset); answers later requests whole."""

    def __init__(self, context: ssl.SSLContext, mode: str) -> None:
        self._context = context
        self._mode = mode
        self.smuggled = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(10)
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self.requests = 0
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self._sock.close()
        self._thread.join(10)
        for conn in self._conns:  # a client that keeps its connection: the thread ends now
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(10)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve_one, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve_one(self, conn: socket.socket) -> None:
        self._conns.append(conn)
        with conn:
            conn.settimeout(10)
            with contextlib.suppress(OSError, ssl.SSLError):
                self._one(conn)

    def _one(self, conn: socket.socket) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self._context.wrap_bio(incoming, outgoing, server_side=True)

        def pump() -> None:
            data = outgoing.read()
            if data:
                conn.sendall(data)

        def recv() -> bool:
            data = conn.recv(65536)
            if not data:
                return False
            incoming.write(data)
            return True

        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pump()
                if not recv():
                    return
        pump()
        while True:
            buf = b""
            while b"\r\n\r\n" not in buf:
                try:
                    data = tls.read(65536)
                except ssl.SSLWantReadError:
                    pump()
                    if not recv():
                        return
                    continue
                if not data:  # the client's close_notify
                    return
                buf += data
            head, _, body = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                try:
                    data = tls.read(65536)
                except ssl.SSLWantReadError:
                    if not recv():
                        return
                    continue
                if not data:
                    return
                body += data
            self.requests += 1
            answer = sms(PRICES[self.requests - 1])
            head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(answer)
            mode = self._mode if self.requests == 1 else "whole"
            if mode in ("fin", "rst"):
                tls.write(head)
                pump()
                tls.write(answer)
                record = outgoing.read()
                conn.sendall(record[: len(record) // 2])
                if mode == "rst":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            unasked = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (
                len(SMUGGLED),
                SMUGGLED,
            )
            if mode == "same-record":
                tls.write(head + answer + unasked)
                pump()
            elif mode == "next-record":
                tls.write(head + answer)
                tls.write(unasked)
                pump()
            else:
                tls.write(head + answer)
                pump()
                return  # a later answer's connection ends with it: the test ends unhurried


@pytest.mark.parametrize("rst", [False, True], ids=["fin", "rst"])
async def test_a_tls_record_cut_in_half_is_a_may_have_been_sent_error(
    api: Harness,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    monkeypatch: pytest.MonkeyPatch,
    rst: bool,
) -> None:
    monkeypatch.setattr(_config, "_ssl_context", tls[1])
    server = CutTLSServer(tls[0], "rst" if rst else "fin")
    try:
        client = api.make(base_url=f"https://127.0.0.1:{server.port}", max_retries=0, timeout=10)
        with pytest.raises(textflow.TextFlowError) as caught:
            await api.call("send_sms", TO, "Hello", client=client)
        assert isinstance(caught.value, textflow.APIError), repr(caught.value)
        assert caught.value.may_have_been_sent is True
        result = await api.call("send_sms", TO, "Hello", client=client)
        assert result.ok
        assert (server.connections, server.requests) == (2, 2)
    finally:
        await api.close()  # (aiohttp keeps a connection open until then)
        server.close()


@pytest.mark.parametrize("mode", ["same-record", "next-record"])
async def test_an_unasked_answer_after_the_first_over_tls_is_never_the_next_ones(
    api: Harness,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    """The first answer comes whole, an unasked one right behind it (in its record, or
    the next): the next call gets its own answer, on a new connection."""
    monkeypatch.setattr(_config, "_ssl_context", tls[1])
    server = CutTLSServer(tls[0], mode)
    try:
        client = api.make(base_url=f"https://127.0.0.1:{server.port}", max_retries=0, timeout=10)
        first = await api.call("send_sms", TO, "Hello", client=client)
        assert str(first.data.price) == "1.25"
        second = await api.call("send_sms", TO, "Hello", client=client)
        assert str(second.data.price) == "2.5"
        assert (server.connections, server.requests) == (2, 2)
    finally:
        await api.close()  # (aiohttp keeps a connection open until then)
        server.close()
