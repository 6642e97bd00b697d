"""Fixtures and helpers for the core tests: every client test runs against both clients.

``api`` is a :class:`Harness` around a ``TextFlowClient`` or an
``AsyncTextFlowClient``; tests are ``async def`` (run by anyio's pytest plugin)
and ``await api.call(...)``, which awaits the async client's coroutine or calls
the sync client directly.

Where the aiohttp extra is installed, ``api`` has a third kind, ``aiohttp``: an
``AsyncTextFlowClient`` over ``textflow.DefaultAioHttpClient()``. There:

* tests against real sockets (``server``, ``hostile``) run over aiohttp's wire;
* ``mock_api`` (respx) answers in place of aiohttp's own request, below the SDK's
  aiohttp transport, so its exception mapping and body reading still run;
* a test that injects its own ``http_client`` cannot test the aiohttp transport:
  it is marked ``@pytest.mark.not_on_aiohttp(reason)`` and its aiohttp case is
  deselected (counted in pytest's summary); ``api.make(http_client=...)`` on the
  aiohttp kind fails the test, so none slips through unmarked;
* the aiohttp cases of tests run under trio are deselected the same way: aiohttp
  runs on asyncio only, and tests/core/test_core_aiohttp.py checks that trio is
  refused with a clear error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, Callable, ClassVar, Union

import h11
import httpx
import pytest
import respx.mocks

import textflow

from tests.core.hostile_support import LoopbackServer, read_request

KEY = "tf_test_0123456789abcdef"  # not a real key: the tests' own
BASE = "https://textflow.me/api"
Client = Union[textflow.TextFlowClient, textflow.AsyncTextFlowClient]

try:
    import httpx_aiohttp  # noqa: F401

    KINDS = ["sync", "async", "aiohttp"]
except ImportError:  # the aiohttp extra is not installed: two kinds
    KINDS = ["sync", "async"]


class Harness:
    """One client under test, sync or async, and how to call it from a coroutine."""

    def __init__(self, kind: str, factory: Callable[..., Client]) -> None:
        self.kind = kind
        self._factory = factory
        self._clients: list[Client] = []

    @property
    def is_async(self) -> bool:
        return self.kind in ("async", "aiohttp")

    def make(self, **kwargs: Any) -> Client:
        kwargs.setdefault("api_key", KEY)
        if self.kind == "aiohttp" and "http_client" in kwargs:
            pytest.fail("this test replaces the aiohttp client: mark it not_on_aiohttp(reason)")
        client = self._factory(**kwargs)
        self._clients.append(client)
        return client

    @property
    def client(self) -> Client:
        return self._clients[0] if self._clients else self.make()

    async def call(self, name: str, *args: Any, client: Client | None = None, **kwargs: Any) -> Any:
        method = getattr(client or self.client, name)
        if self.is_async:
            return await method(*args, **kwargs)
        return method(*args, **kwargs)

    async def close(self) -> None:
        for client in self._clients:
            if isinstance(client, textflow.AsyncTextFlowClient):
                await client.aclose()
            else:
                client.close()


def _over_aiohttp(**kwargs: Any) -> textflow.AsyncTextFlowClient:
    """An async client over aiohttp that closes its ``DefaultAioHttpClient`` with itself."""
    return textflow.AsyncTextFlowClient._owning(textflow.DefaultAioHttpClient(), **kwargs)


FACTORIES: dict[str, Callable[..., Client]] = {
    "sync": textflow.TextFlowClient,
    "async": textflow.AsyncTextFlowClient,
    "aiohttp": _over_aiohttp,
}


@pytest.fixture(params=KINDS)
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    harness = Harness(request.param, FACTORIES[request.param])
    yield harness
    await harness.close()


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries do not wait: both clients' retry sleep records the delay asked for instead.

    Returns the delays, in seconds, in the order the clients asked to sleep them.
    """
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def async_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(textflow.TextFlowClient, "_sleep", staticmethod(sleep))
    monkeypatch.setattr(textflow.AsyncTextFlowClient, "_sleep", staticmethod(async_sleep))
    return slept


#: Under trio, an answer read stopped early (a malformed or too-large body) leaves an
#: async generator to garbage collection, which trio reports as a ResourceWarning that
#: fails the test. On the SDK's own transport nothing is left (the client closes its
#: reader, ``close_chunks``, and the transport's body ends httpcore's generators,
#: ``convert.AsyncBody``). Under respx's mock, which stands in for that transport, httpx's
#: ``ByteStream`` and ``Response.aiter_raw`` generators are respx's and httpx's to close:
#: the tests that stop reading early over ``mock_api`` run on asyncio only.
asyncio_until_early_stop_closes = pytest.mark.parametrize("anyio_backend", ["asyncio"])


def ok_sms(to: str = "+11234567890", **extra: Any) -> dict[str, Any]:
    return {
        "ok": True,
        "status": 200,
        "message": "Message sent successfully",
        "data": {
            "to": to,
            "content": "Dummy message text...",
            "country_code": "United States",
            "price": 0.15,
            "timestamp": 1676842652256,
        },
        **extra,
    }


OK_BODIES: dict[str, dict[str, Any]] = {
    "send_sms": ok_sms(),
    "send_verification_sms": {
        "ok": True,
        "status": 200,
        "message": "Verification code sent",
        "data": {
            "verification_code": "4045",
            "expires": 1676843252256,
            "message_text": "Your verification code for Guest is: 4045",
        },
    },
    "verify_code": {
        "ok": True,
        "status": 200,
        "message": "Code is valid",
        "valid": True,
        "valid_code": "4045",
        "expires": 1676843252256,
    },
    "send_bulk_sms": {"ok": True, "status": 200, "message": "Bulk job started", "data": {}},
    "get_balance": {"ok": True, "credits": "0.11437", "packages": {"USA Canada": 2100}},
}

# Valid arguments and the wire path of every operation.
CALLS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "send_sms": ("/send-sms", ("+11234567890", "Dummy message text...")),
    "send_verification_sms": ("/send-code", ("+11234567890", "Guest", 600)),
    "verify_code": ("/verify-code", ("+11234567890", "4045")),
    "send_bulk_sms": ("/bulk-sms", (["+11234567890", "+381611231234"], "Hello")),
    "get_balance": ("/balance", ()),
}
SENDS = ["send_sms", "send_verification_sms", "verify_code", "send_bulk_sms"]


def response(status: int, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, json=body, **kwargs)


class ScriptedServer(LoopbackServer):
    """A small HTTP/1.1 server on 127.0.0.1 whose answers a test scripts, one per request.

    Each script step is ``("json", status, body)``, ``("drop",)`` (read the whole
    request, then close the connection without answering) or ``("hang", seconds)``
    (read it, then answer nothing for that long). When the script is empty the
    ``default`` step answers: ``("sent",)``, a send's success about the number the
    request sent to (as TextFlow answers; the SDK checks it). It counts connections
    and requests.
    """

    def __init__(self) -> None:
        self.script: list[tuple[Any, ...]] = []
        self.default: tuple[Any, ...] = ("sent",)
        self.requests: list[tuple[str, str, bytes]] = []
        self.heads: list[list[tuple[bytes, bytes]]] = []  # each request's headers, as sent
        super().__init__()

    def _next_step(self) -> tuple[Any, ...]:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def _serve(self, conn: Any) -> None:
        # Far longer than the client keeps an idle connection (4 s): a server that closes
        # idle connections at the same moment races the client's next request.
        conn.settimeout(60)
        parser = h11.Connection(h11.SERVER)
        try:
            while not self._stop.is_set():
                read = read_request(conn, parser)
                if read is None:
                    return
                request, body = read
                with self._lock:
                    self.requests.append((request.method.decode(), request.target.decode(), body))
                    self.heads.append(list(request.headers.raw_items()))
                step = self._next_step()
                if step[0] == "drop":
                    return
                if step[0] == "hang":
                    self._stop.wait(step[1])
                    return
                if step[0] == "sent":
                    step = ("json", 200, ok_sms(to=_sent_to(body)))
                payload = json.dumps(step[2]).encode()
                headers = [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(payload))),
                ]
                conn.sendall(parser.send(h11.Response(status_code=step[1], headers=headers)) or b"")
                conn.sendall(parser.send(h11.Data(data=payload)) or b"")
                conn.sendall(parser.send(h11.EndOfMessage()) or b"")
                parser.start_next_cycle()
        except (OSError, h11.ProtocolError):
            return
        finally:
            conn.close()


def _sent_to(body: bytes) -> str:
    """The number a request sent to, or the default answer's."""
    try:
        number = json.loads(body)["phone_number"]
    except (ValueError, KeyError, TypeError):
        return "+11234567890"
    return number if isinstance(number, str) else "+11234567890"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    yield srv
    srv.close()


class AiohttpMocker(respx.mocks.Mocker):
    """respx for the aiohttp kind: answers in place of httpx-aiohttp's transport."""

    name = "textflow-aiohttp"
    targets: ClassVar[list[str]] = ["httpx_aiohttp.transport.AiohttpTransport"]
    target_methods: ClassVar[list[str]] = ["handle_async_request"]

    @classmethod
    def mock(cls, spec: Any) -> Any:
        async def handle_async_request(self: Any, request: httpx.Request) -> httpx.Response:
            response: httpx.Response = await cls.async_handler(request)  # type: ignore[no-untyped-call]  # respx: untyped
            return response

        return handle_async_request


@pytest.fixture
def mock_api(request: pytest.FixtureRequest) -> Iterator[Any]:
    """respx in front of the hosted API's base URL; unmatched requests fail the test."""
    import respx

    callspec = getattr(request.node, "callspec", None)
    on_aiohttp = callspec is not None and callspec.params.get("api") == "aiohttp"
    using = AiohttpMocker.name if on_aiohttp else "httpcore"
    with respx.mock(base_url=BASE, assert_all_called=False, using=using) as router:
        if on_aiohttp:  # respx skips a target it cannot find: never let a request out
            from httpx_aiohttp.transport import AiohttpTransport

            patched = AiohttpTransport.handle_async_request.__qualname__
            assert patched.startswith(AiohttpMocker.__name__), patched
        yield router
