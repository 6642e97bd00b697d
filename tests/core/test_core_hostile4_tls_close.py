"""asyncio's TLS transport closed twice lets its protocol go, and then its public
``get_write_buffer_size()`` raises AttributeError (CPython's ``_SSLProtocolTransport``).
aiohttp can close a transport twice (a TLS record cut by a reset: seen once in the
hostile TLS tests). The aiohttp transport's list of opened connections asks every
transport how much it still has to write, when it adds one and when the client
closes: such a transport must count as done, not fail the next request or the close.
"""

from __future__ import annotations

import asyncio

import pytest

from textflow._http.aiohttp_client import _Opened

from tests.core.proxy_support import certificate_authority, client_context, server_context

GUARD = 30.0  # seconds: only a hung server's handler reaches it

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio"])]


async def test_a_tls_transport_closed_twice_is_done_for_the_opened_list() -> None:
    ca = certificate_authority()
    served = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()
        finally:
            writer.close()
            served.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context(ca))
    try:
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context(ca), server_hostname="127.0.0.1"
        )
        transport = writer.transport
        opened = _Opened()
        opened.add(transport)  # type: ignore[arg-type]  # a WriteTransport: what it asks
        transport.close()
        transport.close()  # the second close drops the transport's TLS protocol
        opened.add(transport)  # type: ignore[arg-type]  # (drops the done ones first)
        assert opened.abort_unfinished() is False, "a transport closed twice is done"
        # The server's side closed too before the test ends (on 3.9 ``wait_closed`` does
        # not wait for its connections: one left open warned at garbage collection).
        await asyncio.wait_for(served.wait(), GUARD)
    finally:
        server.close()
        await server.wait_closed()
