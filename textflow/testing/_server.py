"""The fake over real HTTP: a threaded HTTP/1.1 keep-alive server on loopback.

One daemon thread per connection (``ThreadingHTTPServer``), a listen backlog
large enough for hundreds of clients connecting at once, Content-Length on
every answer so connections are reused, no request logging unless asked.
``stop()`` closes the listening socket and every open connection, and waits
(briefly) for the connection threads to finish.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional, cast
from urllib.parse import urlsplit

from textflow.testing._routes import Reply, error_reply
from textflow.testing._transport import Handler

MAX_BODY = 1024 * 1024
_STOP_GRACE = 2.0  # seconds stop() waits for connection threads


class FakeHTTPServer(ThreadingHTTPServer):
    """Serves ``handler`` over HTTP on ``(host, port)``; port 0 picks a free one.

    ``connections_accepted`` counts TCP connections since start (tests use it to
    see keep-alive at work).
    """

    daemon_threads = True
    block_on_close = False  # stop() closes connections and joins threads itself
    request_queue_size = 512

    def __init__(
        self, host: str, port: int, handler: Handler, *, log_requests: bool = False
    ) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.fake_handler = handler
        self.log_requests = log_requests
        self.connections_accepted = 0
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

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._send(error_reply(413, "Request body too large."))
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            reply = self.fake_server.fake_handler(
                self.command, urlsplit(self.path).path, headers, body
            )
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

    def _read_body(self) -> Optional[bytes]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> Optional[bytes]:
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk_size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if chunk_size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(chunks)
            size += chunk_size
            if size > MAX_BODY:
                return None
            chunks.append(self.rfile.read(chunk_size))
            self.rfile.readline(1024)  # CRLF after the chunk

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)
