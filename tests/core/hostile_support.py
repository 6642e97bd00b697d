"""Small hostile HTTP servers on 127.0.0.1 for the reliability tests: raw sockets, bounded.

``RawServer(answer)`` accepts connections and, for each request it reads (with
h11, so the request side is parsed properly), calls ``answer(conn, request_number,
body)``, which writes whatever bytes it likes (a trickle, a bomb, a lie) and
returns whether to keep the connection for another request. Every blocking
call has a timeout and the server stops when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Callable, Optional

import h11
import pytest

Answer = Callable[[socket.socket, int, bytes], bool]
LIMIT = 30.0  # no server thread lives longer than this


def http_answer(body: bytes, status: int = 200, extra: bytes = b"") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


def json_answer(payload: object, status: int = 200) -> bytes:
    return http_answer(json.dumps(payload).encode(), status)


def always(answer: bytes, *, keep: bool = True) -> Answer:
    """An ``Answer`` that sends the same bytes to every request (then keeps the connection
    open, or closes it with ``keep=False``)."""

    def send(conn: socket.socket, number: int, body: bytes) -> bool:
        conn.sendall(answer)
        return keep

    return send


def read_head(conn: socket.socket, parser: h11.Connection) -> h11.Request | None:
    """Read until h11 has a whole request head; None if the client went first."""
    while True:
        event = parser.next_event()
        if event is h11.NEED_DATA:
            data = conn.recv(65536)
            if not data:
                return None
            parser.receive_data(data)
        elif isinstance(event, h11.Request):
            return event
        else:  # ConnectionClosed, or anything else before a head: no request
            return None


def read_request(conn: socket.socket, parser: h11.Connection) -> tuple[h11.Request, bytes] | None:
    """Read one whole request with h11: its head and body; None if the client went first."""
    request = read_head(conn, parser)
    if request is None:
        return None
    body = read_body(conn, parser)
    return None if body is None else (request, body)


def read_body(conn: socket.socket, parser: h11.Connection) -> bytes | None:
    """Read the rest of a request whose head h11 has read; None if the client went first."""
    body = b""
    while True:
        event = parser.next_event()
        if event is h11.NEED_DATA:
            data = conn.recv(65536)
            if not data:
                return None
            parser.receive_data(data)
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            return body
        else:
            return None


def next_parser(parser: h11.Connection) -> h11.Connection:
    """A parser for the next request after an answer written raw (not through h11), keeping
    any bytes the client already sent past the last request."""
    fresh = h11.Connection(h11.SERVER)
    pending = parser.trailing_data[0]
    if pending:  # (h11 reads empty data as the client closing)
        fresh.receive_data(pending)
    return fresh


class LoopbackServer:
    """Accepts connections on 127.0.0.1 and serves each in a thread of its own (``_serve``).

    Counts connections; ``close()`` stops accepting, shuts every connection down and
    joins the threads (each join bounded).
    """

    def __init__(self) -> None:
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=256)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/api"
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self._stop.is_set():  # close()'s own connection, which woke the wait
                conn.close()
                return
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _accept_tls(
        self, context: ssl.SSLContext, conn: socket.socket, limit: float
    ) -> Optional[ssl.SSLSocket]:
        """The server's side of TLS on an accepted connection (each read and write given up
        after ``limit`` s), or ``None`` (closed) if the handshake failed; ``close()`` shuts
        the TLS socket down (wrapping took the descriptor)."""
        conn.settimeout(limit)
        try:
            tls = context.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            conn.close()
            return None
        with self._lock:
            self._conns.append(tls)
        return tls

    def stopping(self) -> bool:
        return self._stop.is_set()

    def drop_connections(self) -> None:
        """Shut every connection accepted so far down (as a restarted server would); new
        ones are still accepted."""
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # wake the accepting thread now, not at its timeout
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        self._accepter.join(2)
        self._sock.close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(2)


class RawServer(LoopbackServer):
    """``early=True``: ``answer`` runs as soon as a request's head has come (its ``body``
    argument is then empty), before the server reads the body; the body is read after it,
    if the connection is kept."""

    def __init__(self, answer: Answer, *, early: bool = False) -> None:
        self.answer = answer
        self.early = early
        self.requests: list[bytes] = []
        self.targets: list[bytes] = []  # each request's target as sent (absolute via a proxy)
        self.ended = 0  # connections over: the client closed them, or the server ended them
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(LIMIT)
        parser = h11.Connection(h11.SERVER)
        number = 0
        try:
            while not self._stop.is_set():
                read = self._read_head(conn, parser) if self.early else read_request(conn, parser)
                if read is None:
                    return
                request, body = read
                with self._lock:
                    self.targets.append(bytes(request.target))
                    self.requests.append(body)
                    number = len(self.requests)
                if not self.answer(conn, number, body):
                    return
                if self.early and read_body(conn, parser) is None:
                    return
                # The answer was written raw: start h11's next cycle as if it had sent it.
                parser = next_parser(parser)
        except OSError:
            return
        finally:
            conn.close()
            with self._lock:
                self.ended += 1

    @staticmethod
    def _read_head(conn: socket.socket, parser: h11.Connection) -> tuple[h11.Request, bytes] | None:
        request = read_head(conn, parser)
        return None if request is None else (request, b"")


@contextlib.contextmanager
def raw_server(answer: Answer) -> Iterator[RawServer]:
    server = RawServer(answer)
    try:
        yield server
    finally:
        server.close()


def trickle(conn: socket.socket, data: bytes, server: RawServer, every: float = 0.05) -> None:
    """Send ``data`` a byte at a time, then keep dribbling spaces, until LIMIT or the end."""
    started = time.monotonic()
    for byte in data:
        if server.stopping() or time.monotonic() - started > LIMIT:
            return
        conn.sendall(bytes([byte]))
        time.sleep(every)
    while not server.stopping() and time.monotonic() - started < LIMIT:
        conn.sendall(b" ")
        time.sleep(every)


@pytest.fixture
def hostile() -> Iterator[Callable[..., RawServer]]:
    """``hostile(answer, early=False)`` starts a RawServer that the test's end stops."""
    servers: list[RawServer] = []

    def start(answer: Answer, *, early: bool = False) -> RawServer:
        servers.append(RawServer(answer, early=early))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@contextlib.contextmanager
def full_accept_queue() -> Iterator[str]:
    """A base URL whose listener answers no new SYN: its queue is full and never drained."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # more than a backlog of 0 admits; the later ones wait too
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield f"http://127.0.0.1:{port}/api"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
