"""A TCP proxy on 127.0.0.1 that misbehaves on purpose between a client and its store.

Each client connection gets its own upstream connection. `swallow_reply_to`
arms the proxy: the next request containing the given bytes reaches the server,
which runs it; its reply never reaches the client (the connection stays open,
so the client waits for its own timeout), as on a network that drops a packet.
`cut_after` closes the client's side once the server has answered; `drop`
closes it without passing the request on (the server never runs it).
"""

from __future__ import annotations

import socket
import threading
from typing import Optional


class Proxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._trigger: Optional[bytes] = None
        self._cut = False
        self._drop = False
        self.fired = threading.Event()
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def swallow_reply_to(self, trigger: bytes) -> None:
        with self._lock:
            self._trigger, self._cut, self._drop = trigger, False, False

    def cut_after(self, trigger: bytes) -> None:
        with self._lock:
            self._trigger, self._cut, self._drop = trigger, True, False

    def drop(self, trigger: bytes) -> None:
        with self._lock:
            self._trigger, self._cut, self._drop = trigger, False, True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._sockets += [client, upstream]
            muted = threading.Event()
            threading.Thread(
                target=self._forward_requests, args=(client, upstream, muted), daemon=True
            ).start()
            threading.Thread(
                target=self._forward_replies, args=(upstream, client, muted), daemon=True
            ).start()

    def _forward_requests(
        self, client: socket.socket, upstream: socket.socket, muted: threading.Event
    ) -> None:
        try:
            while data := client.recv(65536):
                with self._lock:
                    armed = self._trigger is not None and self._trigger in data
                    cut, drop = self._cut, self._drop
                    if armed:
                        self._trigger = None
                if armed and drop:
                    self.fired.set()
                    client.close()
                    return
                if armed:
                    muted.set()  # this request's reply, and all after it, go nowhere
                upstream.sendall(data)
                if armed:
                    self.fired.set()
                    if cut:
                        upstream.recv(65536)  # the server ran it and answered
                        client.close()
                        return
        except OSError:
            pass

    def _forward_replies(
        self, upstream: socket.socket, client: socket.socket, muted: threading.Event
    ) -> None:
        try:
            while data := upstream.recv(65536):
                if not muted.is_set():
                    client.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()
