"""A small proxy on 127.0.0.1 (CONNECT tunnels and absolute-form forwarding), TLS made at test time.

``ConnectProxy`` reads one request head with h11. ``CONNECT host:port`` opens a
tunnel to 127.0.0.1 and relays bytes both ways; a request in absolute form is sent
on to its origin in origin form, and the connection then relays the same way. It
records what it was asked (method, target, whether it carried Proxy-Authorization).
With ``tls`` it speaks TLS to the client first (an ``https://`` proxy).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from typing import Any, Optional

import h11
import pytest
import trustme

from textflow import _config

from tests.core.core_support import ScriptedServer
from tests.core.hostile_support import Answer, LoopbackServer, RawServer, read_head

LIMIT = 20.0  # a relay gives up after this long without a byte either way


class TLSScriptedServer(ScriptedServer):
    """The scripted API server, speaking TLS with a certificate for 127.0.0.1."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()
        self.base_url = f"https://127.0.0.1:{self.port}/api"

    def _serve(self, conn: socket.socket) -> None:
        tls = self._accept_tls(self._context, conn, LIMIT)
        if tls is not None:
            super()._serve(tls)


class TLSRawServer(RawServer):
    """The raw (hostile) server, speaking TLS with a certificate for 127.0.0.1."""

    def __init__(self, context: ssl.SSLContext, answer: Answer, *, early: bool = False) -> None:
        self._context = context
        super().__init__(answer, early=early)
        self.base_url = f"https://127.0.0.1:{self.port}/api"

    def _serve(self, conn: socket.socket) -> None:
        tls = self._accept_tls(self._context, conn, LIMIT)
        if tls is not None:
            super()._serve(tls)


class ConnectProxy(LoopbackServer):
    def __init__(self, tls: Optional[ssl.SSLContext] = None) -> None:
        self._tls = tls
        self.asked: list[tuple[str, str, bool]] = []  # method, target, had Proxy-Authorization
        self.heads: list[list[tuple[bytes, bytes]]] = []  # each request's headers, as sent
        super().__init__()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(LIMIT)
        client: socket.socket = conn
        upstream: Optional[socket.socket] = None
        try:
            if self._tls is not None:
                client = self._tls.wrap_socket(conn, server_side=True)
                with self._lock:  # wrapping took the descriptor: close() shuts this one down
                    self._conns.append(client)
            parser = h11.Connection(h11.SERVER)
            head = read_head(client, parser)
            if head is None:
                return
            method, target = head.method.decode(), head.target.decode()
            authorized = any(name == b"proxy-authorization" for name, _ in head.headers)
            with self._lock:
                self.asked.append((method, target, authorized))
                self.heads.append(list(head.headers.raw_items()))
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=LIMIT)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pending = parser.trailing_data[0]
            else:
                url = h11_url(target)
                upstream = socket.create_connection(url[:2], timeout=LIMIT)
                lines = [f"{method} {url[2]} HTTP/1.1".encode()]
                lines += [name + b": " + value for name, value in head.headers]
                upstream.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
                pending = parser.trailing_data[0]
            if pending:
                upstream.sendall(pending)
            _relay(client, upstream, self)
        except (OSError, ssl.SSLError, h11.ProtocolError, ValueError):
            return
        finally:
            for sock in (upstream, client):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()


def h11_url(target: str) -> tuple[str, int, str]:
    """host, port and origin-form path of an absolute-form target."""
    rest = target.split("://", 1)[1]
    authority, _, path = rest.partition("/")
    host, _, port = authority.rpartition(":")
    return host, int(port), "/" + path


def _relay(a: socket.socket, b: socket.socket, server: LoopbackServer) -> None:
    peers = {a: b, b: a}
    while not server.stopping():
        ready: list[socket.socket] = [
            s for s in (a, b) if isinstance(s, ssl.SSLSocket) and s.pending()
        ]
        if not ready:
            ready, _, _ = select.select([a, b], [], [], LIMIT)
            if not ready:
                return
        for source in ready:
            data = source.recv(65536)
            if not data:
                return
            peers[source].sendall(data)


class Peer:
    """The server's side of one connection accepted on ``listener``, its TLS handshake in a
    thread (``context`` ``None``: a server that never speaks TLS)."""

    def __init__(self, listener: socket.socket, context: Optional[ssl.SSLContext]) -> None:
        self.tls: Any = None
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(listener, context), daemon=True)
        self._thread.start()

    def _run(self, listener: socket.socket, context: Optional[ssl.SSLContext]) -> None:
        peer, _ = listener.accept()
        peer.settimeout(10)
        if context is None:  # a server that never speaks TLS
            self.tls = peer
            return
        try:
            self.tls = context.wrap_socket(peer, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.error = exc
            peer.close()

    def joined(self) -> Peer:
        self._thread.join(10)
        return self

    def close(self) -> None:
        self.joined()
        if self.tls is not None:
            self.tls.close()


def certificate_authority() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


# Fixtures (registered by the root conftest).


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server side, client side) TLS settings under one authority made for this module."""
    ca = certificate_authority()
    return server_context(ca), client_context(ca)


@pytest.fixture
def trusted(
    tls: tuple[ssl.SSLContext, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> ssl.SSLContext:
    """The SDK's shared TLS settings trust the test authority (for clients made after)."""
    monkeypatch.setattr(_config, "_ssl_context", tls[1])
    return tls[1]
