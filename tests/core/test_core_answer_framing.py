"""A corpus of hostile HTTP/1.1 answers, run on every transport: what the user gets.

Each case is one raw first answer from a server on 127.0.0.1 (the request itself is
parsed with h11). For each, on the sync client, the async client on asyncio and on
trio, and the async client over aiohttp, the test asserts:

* what the first ``send_sms`` gives the user: its result (the price the answer said), or
  a `TextFlowError` of the expected class with its ``may_have_been_sent``; never a bare
  httpx, httpcore, h11 or aiohttp exception;
* that the NEXT call on the same client gets its own answer (never bytes left over from
  the first, never a second answer the server sent unasked) and sends its request once;
* whether that next call reused the connection or opened a new one, counted at the
  server: an answer that was not cleanly framed leaves a connection that is never used
  again; a clean keep-alive answer leaves one that is.

Where a case accepts more than one outcome (``expect``) or either connection count
(``reuse=None``), each of them is safe for a user and the standards leave the choice
to the client; the case says why. Where today's behaviour is wrong, the case holds the
right behaviour and is a strict xfail on the transports that get it wrong (``wrong``).
aiohttp reads answers with its own parser: where it differs from the SDK's transports
and is still safe (it refuses what they accept, say), ``aiohttp=`` holds its outcome.

Every call has a deadline (GUARD, 20x what a case needs, or the case's own where the
deadline is what ends it), so no case can hang; the module runs in about ten seconds.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Callable, Optional, Union

import anyio
import pytest

import textflow
from textflow import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    MalformedResponseError,
)

from tests.core.core_support import Harness, ok_sms
from tests.core.hostile_support import LIMIT, RawServer

pytestmark = pytest.mark.anyio

TO = "+11234567890"
GUARD = 10.0  # seconds: each call's deadline, 20x what any case needs (a hang ends)


def sms(price: float) -> bytes:
    answer = ok_sms(TO)
    answer["data"]["price"] = price
    return json.dumps(answer).encode()


BODY = sms(1.25)  # the first answer's body
NEXT = sms(2.5)  # the server's honest answer to the next request
SMUGGLED = sms(6.75)  # an answer nobody asked for
LEN = b"Content-Length: %d" % len(BODY)
HEAD = b"HTTP/1.1 200 OK"


def answer(*lines: bytes, status: bytes = HEAD, body: bytes = BODY, eol: bytes = b"\r\n") -> bytes:
    """An answer from its status line, header lines and body, lines ending ``eol``."""
    return status + eol + b"".join(line + eol for line in lines) + eol + body


def chunked(
    body: bytes, sizes: tuple[int, ...] = (31,), ext: bytes = b"", end: bytes = b""
) -> bytes:
    """``body`` in chunks of ``sizes`` (then the rest), sizes in upper-case hex, each size
    line carrying ``ext``; ``end`` is what follows the last chunk's size line (trailers
    and the blank line), by default the blank line alone."""
    out, pos = b"", 0
    for size in (*sizes, len(body)):
        piece = body[pos : pos + size]
        if piece:
            out += b"%X%s\r\n%s\r\n" % (len(piece), ext, piece)
        pos += len(piece)
    return out + b"0\r\n" + (end or b"\r\n")


@dataclass(frozen=True)
class Ok:
    price: str = "1.25"


@dataclass(frozen=True)
class Err:
    cls: type[textflow.APIError]
    sent: bool = True  # every first request here was written whole before the answer


Outcome = Union[Ok, Err]
OK: tuple[Outcome, ...] = (Ok(),)
BROKEN: tuple[Outcome, ...] = (Err(APIConnectionError),)  # not HTTP, or it broke off
MALFORMED: tuple[Outcome, ...] = (Err(MalformedResponseError),)
Write = Callable[[socket.socket], None]


@dataclass(frozen=True)
class Case:
    name: str
    first: Union[bytes, Write]  # the first answer's bytes, or what writes them
    expect: tuple[Outcome, ...]
    reuse: Optional[bool]  # the next call uses the same connection; None: either is safe
    keep: bool = True  # the server keeps the connection open after the first answer
    aiohttp: Optional[tuple[Outcome, ...]] = None  # what aiohttp's own parser gives, if other
    aiohttp_reuses: Optional[bool] = None  # ... and whether it then reuses, if ``aiohttp``
    wrong: Mapping[str, str] = field(default_factory=dict)  # transport ("*": all) -> why
    timeout: float = GUARD
    early: bool = False  # answered as soon as the request's head came
    text: str = "Hello"
    idle: float = 0.0  # seconds the test lets the async loop run before the next call


def trickled(data: bytes, every: float) -> Write:
    """Writes ``data`` a byte at a time (each its own segment), ``every`` seconds apart,
    until done, the client goes, or LIMIT."""

    def write(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.monotonic()
        for byte in data:
            if time.monotonic() - started > LIMIT:
                return
            conn.sendall(bytes([byte]))
            time.sleep(every)

    return write


def trickled_lines(line: bytes, count: int, every: float) -> Write:
    """Writes ``line`` ``count`` times, ``every`` seconds apart, until the client goes."""

    def write(conn: socket.socket) -> None:
        started = time.monotonic()
        for _ in range(count):
            if time.monotonic() - started > LIMIT:
                return
            conn.sendall(line)
            time.sleep(every)

    return write


def then_later(data: bytes, more: bytes) -> Write:
    """Writes ``data``; a moment later, with the connection idle, ``more``."""

    def write(conn: socket.socket) -> None:
        conn.sendall(data)
        time.sleep(0.05)
        conn.sendall(more)

    return write


def back_to_back(*parts: bytes) -> Write:
    """Writes each of ``parts`` with a call of its own, no pause between them."""

    def write(conn: socket.socket) -> None:
        for part in parts:
            conn.sendall(part)

    return write


BIG_TEXT = "x" * (8 * 1024 * 1024)  # far more than the socket buffers hold


def _aiohttp_before(wanted: tuple[int, int]) -> bool:
    try:
        return tuple(int(part) for part in version("aiohttp").split(".")[:2]) < wanted
    except PackageNotFoundError:  # the lowest session: no aiohttp transport to run
        return False


#: aiohttp before 3.14 (the newest on Python 3.9) cancels its body writer when the answer
#: has come, and a reset arriving after that fails the writer's abandoned wait: the loop
#: reports "Connection lost" that nobody retrieved (aiohttp's own noise; the SDK's result
#: is right). There, a send answered before its body was read sends a short text.
OLD_AIOHTTP = _aiohttp_before((3, 14))
LARGE_BODY = "Sending a large body directly with raw bytes"  # aiohttp's warning
REFUSED = json.dumps({"ok": False, "status": 413, "message": "Too large"}).encode()
BUSY = json.dumps({"ok": False, "status": 503, "message": "Down"}).encode()
GZIPPED = gzip.compress(BODY)

#: Connection outcomes where the safe choice is the transport's: a clean answer that an
#: HTTP/1.1 client may keep or not (HTTP/1.0 keep-alive, a 100 before the answer, ...).
EITHER = None

CASES = [
    # Content-Length
    Case("cl-exact", answer(LEN), OK, reuse=True),
    Case(
        "cl-bytes-after",  # aiohttp reads the bytes that came with the answer as its error
        answer(LEN) + b"garbage\r\n",
        OK,
        reuse=False,
        aiohttp=BROKEN,
    ),
    Case(
        "cl-short",  # counts less than the body: the JSON is cut, the rest is left over
        answer(b"Content-Length: %d" % (len(BODY) - 10)),
        MALFORMED,
        reuse=False,
        aiohttp=BROKEN,
    ),
    Case(
        "cl-long-close-early",
        answer(b"Content-Length: %d" % (len(BODY) + 50)),
        BROKEN,
        reuse=False,
        keep=False,
    ),
    # RFC 9110 8.6 lets a recipient accept equal values, or refuse them (aiohttp does)
    Case("cl-duplicate-equal", answer(LEN, LEN), OK, reuse=EITHER, aiohttp=BROKEN),
    Case("cl-list-equal", answer(LEN + b", %d" % len(BODY)), OK, EITHER, aiohttp=BROKEN),
    Case("cl-conflicting", answer(LEN, b"Content-Length: %d" % (len(BODY) + 1)), BROKEN, False),
    Case("cl-plus-sign", answer(b"Content-Length: +%d" % len(BODY)), BROKEN, reuse=False),
    Case("cl-negative", answer(b"Content-Length: -1"), BROKEN, reuse=False),
    Case("cl-inner-space", answer(b"Content-Length: 1 %d" % len(BODY)), BROKEN, reuse=False),
    Case("cl-leading-zeros", answer(b"Content-Length: 000%d" % len(BODY)), OK, reuse=True),
    Case(
        "cl-folded",  # obs-fold makes it "1 NNN": not a number
        answer(b"Content-Length: 1", b" %d" % len(BODY)),
        BROKEN,
        reuse=False,
    ),
    Case("cl-surrounding-space", answer(b"Content-Length:   %d  " % len(BODY)), OK, EITHER),
    # chunked
    Case("chunked", answer(b"Transfer-Encoding: chunked", body=chunked(BODY)), OK, reuse=True),
    Case(
        "chunked-extensions",
        answer(b"Transfer-Encoding: chunked", body=chunked(BODY, ext=b';a=1;b="x y"')),
        OK,
        reuse=True,
    ),
    Case(
        "chunked-trailers",
        answer(b"Transfer-Encoding: chunked", body=chunked(BODY, end=b"X-T: 1\r\nX-U: 2\r\n\r\n")),
        OK,
        reuse=True,
    ),
    Case(
        "chunked-upper-hex",  # chunk sizes 0x1F, 0x2A, ...: A-F in upper case
        answer(b"Transfer-Encoding: chunked", body=chunked(BODY, sizes=(31, 42, 26))),
        OK,
        reuse=True,
    ),
    Case(
        "chunked-huge-size",  # 2**64 - 1 bytes announced, a few sent, then the close
        answer(b"Transfer-Encoding: chunked", body=b"FFFFFFFFFFFFFFFF\r\n" + BODY),
        BROKEN,
        reuse=False,
        keep=False,
    ),
    Case(
        "chunked-size-overflow",  # more hex digits than any length
        answer(b"Transfer-Encoding: chunked", body=b"1" * 40 + b"\r\n" + BODY),
        BROKEN,
        reuse=False,
    ),
    Case(
        "chunked-no-crlf-after-data",
        answer(b"Transfer-Encoding: chunked", body=b"%X\r\n%sXX0\r\n\r\n" % (len(BODY), BODY)),
        BROKEN,
        reuse=False,
    ),
    Case(
        "chunked-missing-final-crlf",  # the last chunk, but not the blank line; then the close
        answer(b"Transfer-Encoding: chunked", body=chunked(BODY)[:-2]),
        BROKEN,
        reuse=False,
        keep=False,
    ),
    Case(
        "chunked-close-in-body",
        answer(b"Transfer-Encoding: chunked", body=chunked(BODY)[:60]),
        BROKEN,
        reuse=False,
        keep=False,
    ),
    Case(
        "chunked-0x-size",  # a size is bare hex digits
        answer(b"Transfer-Encoding: chunked", body=b"0x%X\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)),
        BROKEN,
        reuse=False,
    ),
    Case(
        "chunked-mixed-case",  # codings are case-insensitive (RFC 9110 10.1.4)
        answer(b"Transfer-Encoding: ChUnKeD", body=chunked(BODY)),
        OK,
        reuse=True,
    ),
    Case(
        "chunked-zero-padded-size",
        answer(
            b"Transfer-Encoding: chunked", body=b"000%X\r\n%s\r\n0000\r\n\r\n" % (len(BODY), BODY)
        ),
        OK,
        reuse=True,
    ),
    Case(
        "chunked-size-then-space",
        answer(b"Transfer-Encoding: chunked", body=b"%X \r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)),
        (Ok(), *BROKEN),
        reuse=EITHER,
    ),
    Case(
        "chunked-huge-extension",
        answer(b"Transfer-Encoding: chunked", body=chunked(BODY, ext=b";x=" + b"a" * 200_000)),
        (Ok(), *BROKEN, *MALFORMED),
        reuse=EITHER,
    ),
    Case(
        "chunked-trailer-content-length",  # a framing field in the trailers frames nothing
        answer(b"Transfer-Encoding: chunked", body=chunked(BODY, end=b"Content-Length: 5\r\n\r\n")),
        (Ok(), *BROKEN),
        reuse=EITHER,
    ),
    # Transfer-Encoding other than chunked, and with Content-Length
    Case(
        "te-chunked-twice",  # chunked applied twice (RFC 9112 6.1 forbids it): refused
        answer(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked", body=chunked(BODY)),
        BROKEN,
        reuse=False,
        aiohttp=OK,  # aiohttp de-chunks it once: lax, but then never reuse the connection
    ),
    Case(
        "te-gzip-chunked",  # a coding the client does not do: refused, not guessed at
        answer(b"Transfer-Encoding: gzip, chunked", body=chunked(GZIPPED)),
        BROKEN,
        reuse=False,
        aiohttp=MALFORMED,  # de-chunked, not decoded: not JSON
    ),
    Case("te-identity", answer(b"Transfer-Encoding: identity", LEN), BROKEN, reuse=False),
    Case(
        # RFC 9112 6.3: Transfer-Encoding overrides Content-Length, the message "ought to be
        # handled as an error", and the connection must not be reused (request smuggling).
        "te-and-cl",
        answer(b"Transfer-Encoding: chunked", b"Content-Length: 3", body=chunked(BODY)),
        (Ok(), *BROKEN),
        reuse=False,
    ),
    # HTTP/1.0, Connection: close, reading to the close
    Case("http10", answer(LEN, status=b"HTTP/1.0 200 OK"), OK, reuse=False, keep=False),
    Case(
        "http10-keep-alive",
        answer(b"Connection: keep-alive", LEN, status=b"HTTP/1.0 200 OK"),
        OK,
        reuse=EITHER,
    ),
    Case("http10-to-close", answer(status=b"HTTP/1.0 200 OK"), OK, reuse=False, keep=False),
    Case("connection-close-kept-open", answer(b"Connection: close", LEN), OK, reuse=False),
    Case("to-close", answer(), OK, reuse=False, keep=False),
    Case(
        "to-close-never-closed",  # no framing and no close: only the deadline ends it
        answer(),
        (Err(APITimeoutError),),
        reuse=False,
        timeout=0.3,
    ),
    # status lines and codes
    Case("100-then-200", b"HTTP/1.1 100 Continue\r\n\r\n" + answer(LEN), OK, reuse=EITHER),
    Case(
        "103-then-200", b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + answer(LEN), OK, EITHER
    ),
    Case(
        "endless-100s",  # 1xx answers until the deadline: the call ends at it
        trickled_lines(b"HTTP/1.1 100 Continue\r\n\r\n", count=2000, every=0.0005),
        (Err(APITimeoutError), *BROKEN),
        reuse=False,
        timeout=0.5,
    ),
    Case(
        "101-switching",
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n" + BODY,
        (Err(MalformedResponseError), *BROKEN),
        reuse=False,
    ),
    Case(
        "204-with-body",
        answer(LEN, status=b"HTTP/1.1 204 No Content"),
        MALFORMED,
        reuse=False,
        aiohttp=BROKEN,
    ),
    Case(
        "304-with-body",  # a 3xx says "not processed" by design (textflow._wire.status_error)
        answer(LEN, status=b"HTTP/1.1 304 Not Modified"),
        (Err(APIStatusError, sent=False),),
        reuse=False,
        aiohttp=BROKEN,
    ),
    Case("status-299", answer(LEN, status=b"HTTP/1.1 299 Odd"), OK, reuse=True),
    Case(
        "status-599",
        answer(b"Content-Length: %d" % len(BUSY), status=b"HTTP/1.1 599 Odd", body=BUSY),
        (Err(InternalServerError),),
        reuse=True,
    ),
    Case("status-no-reason", answer(LEN, status=b"HTTP/1.1 200"), OK, reuse=EITHER),
    Case("status-http2", answer(LEN, status=b"HTTP/2 200"), BROKEN, reuse=False),
    Case(
        "status-reason-obs-text",  # RFC 9112 4 allows it (not ASCII: httpx-aiohttp failed)
        answer(LEN, status=b"HTTP/1.1 200 \xc4\xfe"),
        OK,
        reuse=True,
    ),
    Case("status-line-garbage", answer(LEN, status=b"HTXP/1.1 200 OK"), BROKEN, reuse=False),
    Case("status-not-a-number", answer(LEN, status=b"HTTP/1.1 2x0 OK"), BROKEN, reuse=False),
    Case("status-four-digits", answer(LEN, status=b"HTTP/1.1 2000 OK"), BROKEN, reuse=False),
    Case("not-http", b"SSH-2.0-OpenSSH_9.6\r\n\r\n", BROKEN, reuse=False),
    # header lines
    Case(  # RFC 9112 5.2: the SDK's connection refuses it; aiohttp reads it
        "obs-fold",
        answer(b"X-Note: a", b"  b", LEN),
        BROKEN,
        reuse=False,
        aiohttp=OK,
        aiohttp_reuses=True,
    ),
    Case(
        "space-before-colon",  # RFC 9112 5.1; aiohttp accepts it, framing the answer by it
        answer(b"Content-Length : %d" % len(BODY)),
        BROKEN,
        reuse=False,
        aiohttp=OK,
        aiohttp_reuses=True,
    ),
    Case("bare-lf", answer(b"Content-Type: application/json", LEN, eol=b"\n"), OK, EITHER),
    Case("nul-in-header", answer(b"X-Note: a\x00b", LEN), BROKEN, reuse=False),
    Case("no-colon", answer(b"X-Note", LEN), BROKEN, reuse=False),
    Case(
        "head-over-64k",  # no standard limit: accepted or refused, but never misread
        answer(b"X-Big: " + b"a" * (80 * 1024), LEN),
        (Ok(), *BROKEN, *MALFORMED),
        reuse=EITHER,
    ),
    Case(
        "head-of-1-mib",  # far past any client's limit: refused
        answer(b"X-Big: " + b"a" * (1024 * 1024), LEN),
        (*BROKEN, *MALFORMED),
        reuse=False,
    ),
    Case(
        "10000-headers",  # accepted or refused, but never misread
        answer(*[b"A: 1"] * 10_000, LEN),
        (Ok(), *BROKEN, *MALFORMED),
        reuse=EITHER,
    ),
    # timing and the order of things
    Case("trickled", trickled(answer(LEN), every=0.0005), OK, reuse=True),
    Case(
        "trickled-past-the-deadline",
        trickled(answer(LEN), every=0.05),
        (Err(APITimeoutError),),
        reuse=False,
        timeout=0.5,
    ),
    Case(
        "answered-before-the-body",  # then the server reads the body: a clean cycle
        answer(LEN),
        OK,
        reuse=EITHER,
        early=True,
        text=BIG_TEXT,
    ),
    Case(
        "refused-before-the-body",  # a 413 and the close, the body unread
        answer(b"Connection: close", b"Content-Length: %d" % len(REFUSED), body=REFUSED),
        (Err(APIStatusError, sent=False), Err(APIStatusError), *BROKEN),
        reuse=False,
        keep=False,
        early=True,
        text=BIG_TEXT,
    ),
    Case("close-before-answer", b"", BROKEN, reuse=False, keep=False),
    Case("close-in-head", answer(LEN)[:25], BROKEN, reuse=False, keep=False),
    Case("close-in-body", answer(LEN)[:-20], BROKEN, reuse=False, keep=False),
    # a second answer nobody asked for
    Case(
        "second-answer-at-once",
        answer(LEN) + answer(b"Content-Length: %d" % len(SMUGGLED), body=SMUGGLED),
        OK,
        reuse=False,
    ),
    Case(
        "second-answer-after-chunked",
        answer(b"Transfer-Encoding: chunked", body=chunked(BODY))
        + answer(b"Content-Length: %d" % len(SMUGGLED), body=SMUGGLED),
        OK,
        reuse=False,
    ),
    Case(
        "second-answer-own-write",  # at once, but in a write (over TLS: a record) of its own
        back_to_back(answer(LEN), answer(b"Content-Length: %d" % len(SMUGGLED), body=SMUGGLED)),
        OK,
        reuse=False,
    ),
    Case(
        "second-answer-while-idle",
        then_later(answer(LEN), answer(b"Content-Length: %d" % len(SMUGGLED), body=SMUGGLED)),
        OK,
        reuse=False,
        idle=0.05,
    ),
]


def transport_of(api: Harness, backend: str) -> str:
    return f"async-{backend}" if api.kind == "async" else api.kind


def serving(case: Case, first_done: threading.Event) -> Callable[[socket.socket, int, bytes], bool]:
    def serve(conn: socket.socket, number: int, body: bytes) -> bool:
        if number > 1:
            conn.sendall(answer(b"Content-Length: %d" % len(NEXT), body=NEXT))
            return True
        try:
            if isinstance(case.first, bytes):
                conn.sendall(case.first)
            else:
                case.first(conn)
        finally:
            first_done.set()
        return case.keep

    return serve


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_an_answer_as_framed_on_the_wire(
    api: Harness,
    hostile: Callable[..., RawServer],
    case: Case,
    anyio_backend: str,
    request: pytest.FixtureRequest,
) -> None:
    why = case.wrong.get(transport_of(api, anyio_backend)) or case.wrong.get("*")
    if why:
        request.applymarker(pytest.mark.xfail(strict=True, reason=why))
    first_done = threading.Event()
    server = hostile(serving(case, first_done), early=case.early)
    await run_case(api, case, server, first_done)


async def run_case(
    api: Harness, case: Case, server: RawServer, first_done: threading.Event, **make: object
) -> None:
    """Two calls to ``server`` (serving ``case``, `serving`) on one client made with
    ``make``, and the assertions of the module's docstring."""
    client = api.make(base_url=server.base_url, max_retries=0, timeout=case.timeout, **make)
    got: Outcome
    try:
        with warnings.catch_warnings():
            if api.kind == "aiohttp":  # its advice on bodies over 1 MiB (BIG_TEXT)
                warnings.filterwarnings("ignore", LARGE_BODY, ResourceWarning)
            text = "Hello" if api.kind == "aiohttp" and OLD_AIOHTTP and case.early else case.text
            result = await api.call("send_sms", TO, text, client=client)
        got = Ok(str(result.data.price))
    except textflow.APIError as error:
        got = Err(type(error), error.may_have_been_sent)
    expected, reuse = case.expect, case.reuse
    if case.aiohttp is not None and api.kind == "aiohttp":
        expected = case.aiohttp
        reuse = case.reuse if case.aiohttp_reuses is None else case.aiohttp_reuses
    assert got in expected
    # The server is done with the first answer (a trickle ends when the client closes the
    # connection: on asyncio, only once the loop runs, so the loop is not blocked here).
    if api.is_async:
        with anyio.fail_after(GUARD):  # (anyio 4.0's to_thread fails on today's trio)
            while not first_done.is_set():
                await anyio.sleep(0.005)
    else:
        assert first_done.wait(GUARD)
    if case.idle:  # an idle client: its loop runs (aiohttp sees the bytes only then)
        await anyio.sleep(case.idle) if api.is_async else time.sleep(case.idle)
    second = await api.call("send_sms", TO, "Hello", client=client)
    assert str(second.data.price) == "2.5", "the next call read another answer than its own"
    assert len(server.requests) == 2  # each call sent once
    reused = server.connections == 1
    assert server.connections in (1, 2)
    if reuse is not None:
        assert reused is reuse, "reused" if reused else "a clean connection not reused"
    if api.kind == "aiohttp":
        # aiohttp closes a connection's transport at the loop's next turn ("graceful
        # shutdown" in its docs): give it that turn, or the transport is left to garbage
        # collection in a later test, on another loop.
        assert isinstance(client, textflow.AsyncTextFlowClient)
        await client.aclose()
        await anyio.sleep(0)


def test_the_corpus_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
