"""The fake over real HTTP: a threaded HTTP/1.1 keep-alive server on loopback.

One daemon thread per connection (``ThreadingHTTPServer``), a listen backlog
large enough for hundreds of clients connecting at once, Content-Length on
every answer so connections are reused, no request logging unless asked.
``stop()`` closes the listening socket and every open connection, and waits
(briefly) for the connection threads to finish.

Hostile or broken clients: a malformed ``Content-Length`` or chunk size is
answered 400 (and the connection closed); a connection that sends nothing for
``IDLE_TIMEOUT`` seconds is closed, so idle clients cannot hold threads for
ever; a request whose ``Host`` is a name other than ``localhost`` or the one
the server was bound to is refused with 403 (a web page cannot reach the
sandbox through DNS rebinding). Paths outside ``/api`` go to the web inbox,
when one is attached.

One module a little over 300 lines on purpose: the server and its request
handler class are one unit (the handler reads the server's settings and
registers its connection with it), and what they answer comes from elsewhere
(`_handler`, `_inbox`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Protocol, cast
from urllib.parse import urlsplit

from textflow.testing._reply import Reply, error_reply
from textflow.testing._transport import Handler

MAX_BODY = 1024 * 1024
#: Seconds a connection may stay silent (between requests, or mid-request) before it is
#: closed. Longer than any HTTP client's keep-alive expiry (the SDK's is 4 s, httpx's 5 s),
#: so a client never races the server to reuse a connection the server is closing.
IDLE_TIMEOUT = 30.0
_STOP_GRACE = 2.0  # seconds stop() waits for connection threads
#: Live event streams (``/_inbox/events``) served at once; one more is answered 503.
#: Each holds a thread, and a browser tab holds one stream.
MAX_STREAMS = 100
STREAMS_FULL_MESSAGE = "Too many live inbox streams; close some inbox tabs."
_DIGITS = re.compile(r"[0-9]{1,19}")
_HEX_DIGITS = re.compile(r"[0-9A-Fa-f]{1,16}")
HOST_REFUSED_MESSAGE = (
    "Refused: the Host header names neither localhost nor the address the sandbox listens on."
)


class BadRequest(Exception):
    """A request the server cannot frame (answered 400, connection closed)."""


class Inbox(Protocol):
    """What the server needs from the web inbox (``textflow.testing._inbox``)."""

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer a request for a path outside ``/api``."""

    def stream(
        self,
        write: Callable[[bytes], None],
        stopping: threading.Event,
        gone: Callable[[], bool],
    ) -> None:
        """Write Server-Sent Events until ``stopping`` is set, ``gone()`` or a write fails."""


class FakeHTTPServer(ThreadingHTTPServer):
    """Serves ``handler`` over HTTP on ``(host, port)``; port 0 picks a free one.

    ``connections_accepted`` counts TCP connections since start (tests use it to
    see keep-alive at work); ``live_streams`` the event streams being served.
    """

    daemon_threads = True
    block_on_close = False  # stop() closes connections and joins threads itself
    request_queue_size = 512

    def __init__(
        self,
        host: str,
        port: int,
        handler: Handler,
        *,
        log_requests: bool = False,
        inbox: Optional[Inbox] = None,
        idle_timeout: float = IDLE_TIMEOUT,
        max_streams: int = MAX_STREAMS,
    ) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.fake_handler = handler
        self.inbox = inbox
        self.log_requests = log_requests
        self.idle_timeout = idle_timeout
        self.bound_host = host.strip("[]").lower()
        self.connections_accepted = 0
        self.max_streams = max_streams
        self.live_streams = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._open: dict[socket.socket, threading.Thread] = {}
        self._thread: Optional[threading.Thread] = None
        super().__init__((host, port), _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (socket.getfqdn): skip that.
        socketserver.TCPServer.server_bind(self)
        address = self.socket.getsockname()
        self.server_name, self.server_port = str(address[0]), int(address[1])

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/api``, the base URL to give a client."""
        host = self.server_name
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.server_port}/api"

    def start(self) -> None:
        """Serve in a background daemon thread."""
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"textflow-fake-server-{self.server_port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close every connection, wait a moment for their threads."""
        self.stopping.set()
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()
        with self._lock:
            open_connections = dict(self._open)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading it
        deadline = time.monotonic() + _STOP_GRACE
        for thread in open_connections.values():
            thread.join(max(0.0, deadline - time.monotonic()))

    def host_allowed(self, host_header: Optional[str]) -> bool:
        """Whether a request's ``Host`` may be served (no header: not a browser, allowed).

        ``localhost``, the host the server was bound to, and IP literals pass: DNS
        rebinding needs a domain name pointing at this machine, never an address.
        """
        if host_header is None:
            return True
        try:
            host = urlsplit(f"//{host_header.strip()}").hostname or ""
        except ValueError:  # e.g. an unclosed "[" around an IPv6 address
            return False
        if host in ("localhost", self.bound_host):
            return True
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True

    def open_stream(self) -> bool:
        """Count one more live event stream; False (not counted) when at the cap."""
        with self._lock:
            if self.live_streams >= self.max_streams:
                return False
            self.live_streams += 1
            return True

    def close_stream(self) -> None:
        """An event stream ended."""
        with self._lock:
            self.live_streams -= 1

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="textflow-fake-connection",
            daemon=True,
        )
        with self._lock:
            self.connections_accepted += 1
            self._open[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away; nothing to report
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    disable_nagle_algorithm = True  # headers and body go out in two writes: don't stall the body
    server_version = "TextFlowFake"
    sys_version = ""

    @property
    def fake_server(self) -> FakeHTTPServer:
        return cast(FakeHTTPServer, self.server)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        if self.fake_server.log_requests:
            super().log_message(format, *args)

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.fake_server.idle_timeout)  # reads and writes

    def _serve(self) -> None:
        if not self.fake_server.host_allowed(self.headers.get("Host")):
            self.close_connection = True
            self._send(error_reply(403, HOST_REFUSED_MESSAGE))
            return
        try:
            body = self._read_body()
        except BadRequest as exc:
            self.close_connection = True  # the framing is lost: the next byte means nothing
            self._send(error_reply(400, str(exc)))
            return
        if body is None:
            self.close_connection = True
            self._send(error_reply(413, "Request body too large."))
            return
        path = urlsplit(self.path).path
        inbox = self.fake_server.inbox
        if inbox is not None and path == "/_inbox/events" and self.command == "GET":
            self._stream_events(inbox)
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        handler = self.fake_server.fake_handler
        if inbox is not None and not (path == "/api" or path.startswith("/api/")):
            handler = inbox.handle
        try:
            reply = handler(self.command, path, headers, body)
        except Exception:
            self.fake_server.handle_error(self.request, self.client_address)
            reply = error_reply(500, "The fake TextFlow failed; see its traceback.")
        if reply.delay and self.fake_server.stopping.wait(reply.delay):
            self.close_connection = True  # stopped while waiting: no answer
            return
        if reply.disconnect:
            self.close_connection = True  # the request was read; close without answering
            return
        self._send(reply)

    def _stream_events(self, inbox: Inbox) -> None:
        """Server-Sent Events until the server stops or the client goes away (503 at the cap)."""
        self.close_connection = True  # no length: the stream ends when the connection does
        server = self.fake_server
        if not server.open_stream():
            self._send(error_reply(503, STREAMS_FULL_MESSAGE, (("Retry-After", "5"),)))
            return
        try:
            self._serve_stream(inbox)
        finally:
            server.close_stream()

    def _client_gone(self) -> bool:
        """Whether the client closed its end: readable at EOF (or broken), without blocking.

        An event-stream client sends nothing after its request, so a readable
        socket means it closed (or reset) the connection.
        """
        sock: socket.socket = self.connection
        timeout = sock.gettimeout()
        try:
            sock.setblocking(False)  # only this thread reads or writes this socket
            try:
                peeked: bytes = sock.recv(1, socket.MSG_PEEK)
                return peeked == b""
            finally:
                sock.settimeout(timeout)
        except BlockingIOError:  # nothing to read: still there
            return False
        except OSError:  # reset, or already closed
            return True

    def _serve_stream(self, inbox: Inbox) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()

        def write(data: bytes) -> None:
            self.wfile.write(data)
            self.wfile.flush()

        with contextlib.suppress(OSError):  # the page was closed or reloaded
            inbox.stream(write, self.fake_server.stopping, self._client_gone)

    def _read_body(self) -> Optional[bytes]:
        """The request body; None when it is over ``MAX_BODY``.

        Raises:
            BadRequest: A Content-Length or chunk size that is not a plain number, or
                differing Content-Length headers, or a chunk not followed by CRLF.
        """
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        lengths = {value.strip() for value in self.headers.get_all("Content-Length") or ()}
        if not lengths:
            return b""
        value = lengths.pop()
        if lengths or not _DIGITS.fullmatch(value):
            raise BadRequest("Malformed Content-Length header.")
        length = int(value)
        if length > MAX_BODY:
            return None
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:
            raise BadRequest("The request body is shorter than its Content-Length.")
        return body

    def _read_chunked(self) -> Optional[bytes]:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024).split(b";")[0].strip().decode("latin-1")
            if not _HEX_DIGITS.fullmatch(line):
                raise BadRequest("Malformed chunk size in a chunked request body.")
            chunk_size = int(line, 16)
            if chunk_size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(chunks)
            size += chunk_size
            if size > MAX_BODY:
                return None
            chunk = self.rfile.read(chunk_size)
            if len(chunk) < chunk_size or self.rfile.readline(1024) != b"\r\n":
                raise BadRequest("Malformed chunk in a chunked request body.")
            chunks.append(chunk)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)
