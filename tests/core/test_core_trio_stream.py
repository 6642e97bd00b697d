"""The SDK's own trio stream (``textflow._http.trio_stream``) on 127.0.0.1.

What its connection relies on: the bytes, the end of the connection, the SDK's
stream exceptions (``textflow._http.net``) for a read or write past its timeout (the
read's kept by the event loop's one deadline timer, no cancel scope), a connection
refused.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from textflow._http import net, trio_stream

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["trio"])]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


async def test_bytes_then_the_end(listener: socket.socket) -> None:
    stream = await trio_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    peer, _ = listener.accept()
    try:
        await stream.write(b"ping", 5.0)
        assert peer.recv(4) == b"ping"
        peer.sendall(b"pong")
        assert await stream.read(100, 5.0) == b"pong"
        assert not stream.get_extra_info("is_readable")
        peer.close()
        assert await stream.read(100, 5.0) == b""
        assert stream.get_extra_info("is_readable")
    finally:
        await stream.aclose()
    assert stream.get_extra_info("socket").fileno() == -1


async def test_a_silent_peer_meets_the_read_timeout(listener: socket.socket) -> None:
    stream = await trio_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    peer, _ = listener.accept()
    try:
        with pytest.raises(net.ReadTimeout):
            await stream.read(100, 0.2)
    finally:
        await stream.aclose()
        peer.close()


async def test_a_peer_that_does_not_read_meets_the_write_timeout(
    listener: socket.socket,
) -> None:
    stream = await trio_stream.connect_tcp("127.0.0.1", listener.getsockname()[1], 5.0)
    peer, _ = listener.accept()
    try:
        with pytest.raises(net.WriteTimeout):
            await stream.write(b"x" * (64 * 1024 * 1024), 0.2)
    finally:
        await stream.aclose()
        peer.close()


async def test_a_refused_connection_is_a_connect_error(anyio_backend: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    with pytest.raises(net.ConnectError):
        await trio_stream.connect_tcp("127.0.0.1", port, 5.0)
