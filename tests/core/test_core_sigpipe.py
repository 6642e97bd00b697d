"""A write to a connection the server reset is the SDK's error, never SIGPIPE (issue 20).

A program that restores SIGPIPE's default action (``signal.signal(SIGPIPE, SIG_DFL)``, a
common idiom of command-line tools, whose output may go to ``head``) is killed without a
word by a ``send`` on a connection the peer reset, unless the send says
``MSG_NOSIGNAL``: the SDK's own plain sockets do (``net.SEND_FLAGS``), and its TLS is
done in memory over them (``memory_tls``), never by OpenSSL's own writes.

Each case runs in a subprocess of its own (the signal's action is process-wide): a server
there ends its side (FIN, so the client's socket sits in CLOSE_WAIT) and then resets it
(``SO_LINGER`` 0), once the client's connect (or TLS handshake) returned; the client
writes only once its socket has seen the reset (an event fact: ``poll`` says
``POLLERR``). The process must end with the SDK's error, not die by SIGPIPE (return code
-13).

* ``plain``: the SDK's plain streams themselves. Through a client, a new plain connection
  the server ended is never written to (the connection checks it first: "closed before
  the request was written"), so the stream is driven directly.
* ``tls``: a client's call over TLS, the reset right after the handshake (a TLS
  connection is not checked before its first write: session tickets make it readable).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from tests.core.hostile_support import LIMIT

SCRIPT = r"""
import select, signal, socket, ssl, struct, sys, threading

signal.signal(signal.SIGPIPE, signal.SIG_DFL)

import trustme

import textflow
from textflow import _config
from textflow._http import asyncio_stream, net, sync_stream, trio_stream, trio_tls

kind, layer = sys.argv[1:]
listener = socket.create_server(("127.0.0.1", 0))
port = listener.getsockname()[1]
connected, reset = threading.Event(), threading.Event()
ca = trustme.CA()
server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ca.issue_cert("127.0.0.1").configure_cert(server_side)
client_side = ssl.create_default_context()
ca.configure_trust(client_side)
_config._ssl_context = client_side


def serve():
    conn, _ = listener.accept()
    if layer == "tls":
        conn = server_side.wrap_socket(conn, server_side=True)
    assert connected.wait(30)  # (a reset before the connect returned would fail the connect)
    conn.shutdown(socket.SHUT_WR)  # the end (the client's socket in CLOSE_WAIT), then
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # a reset: the client's next send is EPIPE, and SIGPIPE without the flag
    reset.set()


def seen_reset(stream):
    connected.set()
    assert reset.wait(30)
    poller = select.poll()
    poller.register(stream.get_extra_info("socket").fileno(), select.POLLERR)
    assert poller.poll(30_000)
    return stream


def wrapped(start_tls):
    if kind == "sync":
        return lambda *args, **kwargs: seen_reset(start_tls(*args, **kwargs))

    async def after(*args, **kwargs):
        return seen_reset(await start_tls(*args, **kwargs))

    return after


async def plain_async():
    stream = seen_reset(await trio_stream.connect_tcp("127.0.0.1", port, 30))
    await stream.write(b"x", 30)


async def call():
    async with textflow.AsyncTextFlowClient(**options) as client:
        await client.send_sms("+11234567890", "hi")


threading.Thread(target=serve, daemon=True).start()
options = dict(
    api_key="tf_test_0123456789abcdef",
    base_url=f"https://127.0.0.1:{port}/api",
    max_retries=0,
    timeout=30,
)
try:
    if layer == "plain" and kind == "sync":
        seen_reset(sync_stream.connect_tcp("127.0.0.1", port, 30)).write(b"x", 30)
    elif layer == "plain":
        import trio

        trio.run(plain_async)
    elif kind == "sync":
        sync_stream.SocketStream.start_tls = wrapped(sync_stream.SocketStream.start_tls)
        with textflow.TextFlowClient(**options) as client:
            client.send_sms("+11234567890", "hi")
    elif kind == "trio":
        import trio

        trio_tls.start_tls = wrapped(trio_tls.start_tls)
        trio.run(call)
    else:
        import asyncio

        stream_class = asyncio_stream.AsyncioStream
        stream_class.start_tls = wrapped(stream_class.start_tls)
        asyncio.run(call())
except (textflow.APIConnectionError, net.WriteError) as exc:
    print(type(exc).__name__)
"""

ASYNCIO = pytest.mark.xfail(
    strict=True, reason="asyncio's own transports send without MSG_NOSIGNAL (not the SDK's)"
)


@pytest.mark.skipif(not hasattr(socket, "MSG_NOSIGNAL"), reason="no MSG_NOSIGNAL here")
@pytest.mark.parametrize(
    ("kind", "layer", "error"),
    [
        ("sync", "plain", "WriteError"),
        ("trio", "plain", "WriteError"),
        ("sync", "tls", "APIConnectionError"),
        ("trio", "tls", "APIConnectionError"),
        pytest.param("asyncio", "tls", "APIConnectionError", marks=ASYNCIO),
    ],
)
def test_a_write_to_a_reset_connection_is_an_error_not_sigpipe(
    kind: str, layer: str, error: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, kind, layer], capture_output=True, text=True, timeout=LIMIT
    )
    assert done.returncode != -signal.SIGPIPE, "killed by SIGPIPE"
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [error], done.stdout + done.stderr
