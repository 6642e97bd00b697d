"""Hostile pass on the direct send path (issue 20): what httpx's own client would do must hold.

The SDK builds its requests itself (headers prepared once per operation) and sends them
straight to its transport, so whatever ``httpx.Client.build_request`` used to add is the
SDK's to add. A server that sets a cookie (a load balancer's sticky session) expects it
back on the next request, as ``httpx.Client.post`` would send it.
"""

from __future__ import annotations

import socket
import threading

import h11
import pytest

from tests.core.core_support import Harness, ok_sms
from tests.core.hostile_support import LIMIT, LoopbackServer, json_answer, next_parser, read_request

pytestmark = pytest.mark.anyio


class CookieServer(LoopbackServer):
    """Sets a cookie on its first answer; records the Cookie header of every request."""

    def __init__(self) -> None:
        self.cookies: list[list[bytes]] = []
        self._record = threading.Lock()
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(LIMIT)
        parser = h11.Connection(h11.SERVER)
        try:
            while not self.stopping():
                read = read_request(conn, parser)
                if read is None:
                    return
                request, _ = read
                with self._record:
                    self.cookies.append([v for k, v in request.headers if k == b"cookie"])
                    first = len(self.cookies) == 1
                answer = json_answer(ok_sms())
                if first:
                    head, _, rest = answer.partition(b"\r\n")
                    answer = head + b"\r\nSet-Cookie: session=abc; Path=/\r\n" + rest
                conn.sendall(answer)
                parser = next_parser(parser)
        except OSError:
            return
        finally:
            conn.close()


async def test_a_cookie_the_server_set_is_sent_back_once(api: Harness) -> None:
    server = CookieServer()
    try:
        client = api.make(base_url=server.base_url, max_retries=0)
        for text in ("one", "two", "three"):
            assert (await api.call("send_sms", "+11234567890", text, client=client)).ok
    finally:
        server.close()
    assert server.cookies == [[], [b"session=abc"], [b"session=abc"]]
