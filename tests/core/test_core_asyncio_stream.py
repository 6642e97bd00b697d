"""The async client's network streams on asyncio's transports (textflow._http.asyncio_stream).

Each test talks to a small asyncio server on 127.0.0.1 and checks what the SDK's
connection and httpcore's rely on: the SDK's stream exceptions (httpcore's under
httpcore's connection), the end of a connection, readability of an idle
one, flow control both ways, timeouts that fire, and the TLS upgrade failing cleanly.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Callable

import pytest

from textflow._http import asyncio_stream as _asyncio_stream
from textflow._http import net

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# The streams under test are asyncio's own transports: there is nothing of them under trio.
pytestmark = pytest.mark.parametrize("anyio_backend", ["asyncio"])


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[int]:
    """A server on a free port; at the end its connections are cut and handlers stopped."""
    tasks: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.append(asyncio.current_task())  # type: ignore[arg-type]
        writers.append(writer)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(wrapped, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.transport.abort()
        await server.wait_closed()


async def _echo_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    data = await reader.readuntil(b"\n")
    writer.write(b"got " + data)
    await writer.drain()
    writer.close()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # reads until the client goes, answers nothing


@pytest.mark.anyio
async def test_a_request_and_its_answer_then_the_end() -> None:
    async with serving(_echo_once) as port:
        stream = await _asyncio_stream.connect_tcp("127.0.0.1", port, 5.0, None)
        await stream.write(b"hello\n", 5.0)
        await stream.write(b"", 5.0)  # nothing to write is not an error
        answer = b""
        while True:
            part = await stream.read(4, 5.0)
            if not part:
                break
            answer += part
        assert answer == b"got hello\n"
        assert stream.get_extra_info("is_readable") is True  # closed by the server
        with pytest.raises(net.WriteError):
            await stream.write(b"more\n", 5.0)
        await stream.aclose()


@pytest.mark.anyio
async def test_an_idle_connection_is_not_readable_and_says_where_it_goes() -> None:
    async with serving(_silent) as port:
        stream = await _asyncio_stream.connect_tcp("127.0.0.1", port, 5.0, "127.0.0.1")
        assert stream.get_extra_info("is_readable") is False
        assert stream.get_extra_info("server_addr")[1] == port
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        assert stream.get_extra_info("socket") is not None
        assert stream.get_extra_info("ssl_object") is None
        assert stream.get_extra_info("something else") is None
        await stream.aclose()


@pytest.mark.anyio
async def test_a_read_that_gets_nothing_times_out() -> None:
    async with serving(_silent) as port:
        stream = await _asyncio_stream.connect_tcp("127.0.0.1", port, 5.0, None)
        with pytest.raises(net.ReadTimeout):
            await stream.read(100, 0.05)
        await stream.aclose()


@pytest.mark.anyio
async def test_a_refused_connection_and_one_out_of_time() -> None:
    async with serving(_silent) as port:
        pass  # closed: nothing listens on the port any more
    with pytest.raises(net.ConnectError):
        await _asyncio_stream.connect_tcp("127.0.0.1", port, 5.0, None)
    async with serving(_silent) as port:
        with pytest.raises(net.ConnectTimeout):
            await _asyncio_stream.connect_tcp("127.0.0.1", port, 0, None)


@pytest.mark.anyio
async def test_a_large_answer_arrives_whole_and_in_order_while_read_slowly() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: past the buffer at which reading pauses

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(body)
        await writer.drain()
        writer.close()

    async with serving(flood) as port:
        stream = await _asyncio_stream.connect_tcp("127.0.0.1", port, 5.0, None)
        await asyncio.sleep(0.2)  # let the buffer fill past its limit
        received = bytearray()
        while True:
            part = await stream.read(64 * 1024, 5.0)
            if not part:
                break
            received += part
        assert bytes(received) == body
        await stream.aclose()


@pytest.mark.anyio
async def test_a_peer_that_does_not_read_makes_a_large_write_time_out() -> None:
    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()  # never reads; stopped when the test ends

    async with serving(deaf) as port:
        stream = await _asyncio_stream.connect_tcp("127.0.0.1", port, 5.0, None)
        with pytest.raises(net.WriteTimeout):
            await stream.write(b"x" * (32 * 1024 * 1024), 0.2)
        await stream.aclose()


@pytest.mark.anyio
async def test_a_write_that_waited_for_room_fails_if_the_connection_breaks() -> None:
    async def deaf_then_gone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.3)
        writer.transport.abort()  # a reset, with the client's bytes unread

    async with serving(deaf_then_gone) as port:
        stream = await _asyncio_stream.connect_tcp("127.0.0.1", port, 5.0, None)
        with pytest.raises(net.WriteError):
            await stream.write(b"x" * (32 * 1024 * 1024), 5.0)
        await stream.aclose()


@pytest.mark.anyio
async def test_a_tls_upgrade_that_fails_or_stalls_is_a_connect_error() -> None:
    context = ssl.create_default_context()

    async def not_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the client's hello
        writer.write(b"\x00" * 64)  # not a TLS record; the connection stays open
        await writer.drain()
        await asyncio.Event().wait()

    for handler in (not_tls, garbage):
        async with serving(handler) as port:
            stream = await _asyncio_stream.connect_tcp("127.0.0.1", port, 5.0, None)
            with pytest.raises(net.ConnectError):
                await stream.start_tls(context, "localhost", 5.0)
    async with serving(_silent) as port:
        stream = await _asyncio_stream.connect_tcp("127.0.0.1", port, 5.0, None)
        with pytest.raises(net.ConnectTimeout):
            await stream.start_tls(context, "localhost", 0.1)


@pytest.mark.anyio
async def test_under_httpcores_connection_its_failures_are_httpcores() -> None:
    # An https proxy's tunnel and SOCKS are httpcore's connections over these streams
    # (the pools' backend): httpcore's connection suppresses its own WriteError to read
    # an answer sent before a close, so there the stream raises httpcore's exceptions.
    import httpcore

    from textflow._http.backends import AsyncBackend

    backend = AsyncBackend()
    async with serving(_silent) as port:
        pass  # closed: nothing listens on the port any more
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("127.0.0.1", port, 5.0)

    async def deaf_then_gone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.3)
        writer.transport.abort()  # a reset, with the client's bytes unread

    async with serving(deaf_then_gone) as port:
        stream = await backend.connect_tcp("127.0.0.1", port, 5.0)
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"x" * (32 * 1024 * 1024), 5.0)
        await stream.aclose()
    assert not backend.opened
