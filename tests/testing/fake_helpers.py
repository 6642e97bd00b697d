"""Helpers shared by the fake's tests (a module name that no other test folder uses)."""

from __future__ import annotations

START = 1_700_000_000.0  # the fake clock's start, seconds since the epoch


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def auth(key: str = "tf_test_key") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class WebhookReceiver:
    """A stand-in for your app's webhook endpoint on 127.0.0.1: records each POST body.

    Use as a context manager; ``url`` is where to send, ``bodies`` what arrived,
    ``status`` what it answers (200 unless changed).
    """

    def __init__(self, status: int = 200) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.status = status
        self.bodies: list[bytes] = []
        self.arrived = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.bodies.append(body)
                receiver.arrived.set()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/sms"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
