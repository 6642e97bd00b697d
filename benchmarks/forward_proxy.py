"""A fast local HTTP proxy for the proxy scenario, in a process of its own.

asyncio protocol callbacks: the first request on a connection names the server
(an absolute URL, or ``CONNECT host:port``); from then on the proxy only pipes
bytes both ways, so it costs next to nothing per request and the clients are what
is measured. Loopback only: it refuses any other host.

Run as ``python -m benchmarks.forward_proxy``; it prints ``PORT`` once listening on
127.0.0.1 and serves until stdin closes.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit


class _Pipe(asyncio.Protocol):
    """The proxy's side towards the server: what it receives goes back to the client."""

    def __init__(self, client: asyncio.Transport) -> None:
        self.client = client
        self.transport: Optional[asyncio.Transport] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.client.write(data)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.client.close()


class _Client(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = b""
        self._transport: Optional[asyncio.Transport] = None
        self._upstream: Optional[asyncio.Transport] = None
        self._opening = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._upstream is not None:
            self._upstream.write(data)
            return
        self._buffer += data
        if not self._opening and b"\r\n" in self._buffer:
            self._opening = True
            asyncio.get_running_loop().create_task(self._open())

    async def _open(self) -> None:
        client = self._transport
        assert client is not None
        line = self._buffer.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _ = line.split(" ", 2)
        connect = method == "CONNECT"
        if connect:
            host, _, port = target.rpartition(":")
        else:
            url = urlsplit(target)
            host, port = url.hostname or "", str(url.port or 80)
        if host != "127.0.0.1":
            client.close()
            return
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_connection(lambda: _Pipe(client), host, int(port))
        self._upstream = transport
        if connect:
            head_end = self._buffer.find(b"\r\n\r\n")
            client.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = self._buffer[head_end + 4 :] if head_end >= 0 else b""
        else:
            rest = self._buffer
        self._buffer = b""
        if rest:
            transport.write(rest)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self._upstream is not None:
            self._upstream.close()


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Client, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


@contextmanager
def running() -> Iterator[str]:
    """The proxy's URL, while its child process runs."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.forward_proxy"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"the benchmark proxy did not start (exit {proc.poll()})")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


if __name__ == "__main__":
    asyncio.run(_serve())
