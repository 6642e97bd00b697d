"""The aiohttp client's list of open transports survives a TLS transport closed twice.

asyncio's TLS transport, closed a second time, lets go of its protocol, and its
``get_write_buffer_size()`` then raises ``AttributeError``: the next connection the
client opened (after a server reset one) failed with it, an error no ``TextFlowError``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading

import pytest

from textflow._http import aiohttp_client

from tests.core.proxy_support import certificate_authority, client_context, server_context

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio"])]


async def test_a_tls_transport_closed_twice_counts_as_done() -> None:
    ca = certificate_authority()
    served: list[ssl.SSLSocket] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def serve() -> None:
            conn, _ = listener.accept()
            conn.settimeout(10)
            served.append(server_context(ca).wrap_socket(conn, server_side=True))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_connection(
            asyncio.Protocol, "127.0.0.1", listener.getsockname()[1], ssl=client_context(ca)
        )
        thread.join(10)
        try:
            opened = aiohttp_client._Opened()
            opened.add(transport)
            transport.close()
            transport.close()
            opened.add(transport)  # (checks the ones it holds)
            assert opened.abort_unfinished() is False
        finally:
            transport.abort()
            for conn in served:
                conn.close()
