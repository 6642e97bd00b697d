"""The SDK's HTTP/1.1 codec (``textflow._http.h1``) against h11, answer by answer.

A seeded, bounded corpus of answers, valid and hostile, is fed to both parsers in
the same random byte splits. Where h11 accepts, the codec gives the same status,
headers, body and "may the connection be reused?", or rejects the answer for one of
the reasons listed in ``STRICTER`` (stricter than h11 is fine; laxer never is).
Where the codec accepts, h11 must accept with the same result.
"""

from __future__ import annotations

import random
from typing import Optional, Union

import h11
import pytest

from textflow._http import h1

Outcome = Union[str, tuple[int, list[tuple[bytes, bytes]], bytes, bool]]

SEED = 20261206
GENERATED = 400  # valid answers
MUTATED = 600  # valid answers with bytes flipped, inserted or cut

#: Where the codec rejects what h11 reads, and why (each has a hand-written case below).
STRICTER = {
    "obs-fold": "a folded header line is obsolete (RFC 9112 5.2) and a smuggling vector",
    "control": "control characters (other than tab) in a header value or reason phrase",
    "version": "a version other than HTTP/1.0 and HTTP/1.1 is not HTTP/1.1's",
    "cl+te": "Content-Length and Transfer-Encoding at once (RFC 9112 6.1: a smuggling sign)",
    "chunk-digits": "a chunk size of more than 16 hex digits (h11: 20)",
    "length-digits": "a Content-Length of more than 18 digits (h11: 20)",
    "head-limit": "a head over the limit even when it came whole (h11 checks only one cut)",
}


def _h11(pieces: list[bytes], head_request: bool = False) -> Outcome:
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=h1.HEAD_LIMIT)
    conn.send(
        h11.Request(method="HEAD" if head_request else "GET", target="/", headers=[("Host", "x")])
    )
    conn.send(h11.EndOfMessage())
    status, headers, body = 0, [], bytearray()
    try:
        for piece in [*pieces, b""]:
            conn.receive_data(piece)
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    break
                if isinstance(event, h11.InformationalResponse):
                    continue
                if isinstance(event, h11.Response):
                    status, headers = event.status_code, list(event.headers.raw_items())
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    reusable = conn.our_state is h11.DONE and conn.their_state is h11.DONE
                    try:
                        conn.start_next_cycle()
                    except h11.LocalProtocolError:
                        reusable = False
                    # not after the end of the connection, nor with bytes past the answer
                    reusable = reusable and piece != b"" and not conn.trailing_data[0]
                    return status, event_headers(headers), bytes(body), reusable
                else:  # ConnectionClosed before the end
                    return "error"
    except (h11.RemoteProtocolError, h11.LocalProtocolError):
        return "error"
    return "error"


def event_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Headers as compared: without the framing ones, which h11 rewrites (one
    Content-Length, Transfer-Encoding lower-cased) where the codec keeps what came: the
    bodies compared say that the two framed the answer alike."""
    return [(name, value) for name, value in headers if name.lower() not in _FRAMING]


_FRAMING = (b"content-length", b"transfer-encoding")


def _codec(pieces: list[bytes], head_request: bool = False) -> Outcome:
    answer = h1.Answer(head_request)
    body = bytearray()
    try:
        for piece in pieces:
            answer.feed(piece)
            if answer.head():
                body += answer.body()
                if answer.done:
                    break
        if not answer.head():
            answer.end_of_input()
        while not answer.done:
            data = answer.body()
            if not data:
                answer.end_of_input()
            body += data
    except h1.ProtocolError:
        return "error"
    return answer.status, event_headers(answer.headers), bytes(body), answer.reusable


def _splits(data: bytes, rand: random.Random) -> list[bytes]:
    cuts = sorted(rand.sample(range(1, len(data)), min(len(data) - 1, rand.randint(0, 6))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


_NAMES = [b"Content-Type", b"X-Request-Id", b"Server", b"date", b"Set-Cookie", b"x-a!#$%&'*+.^_`|~"]
_VALUES = [b"", b"application/json", b"a b\tc", b"\x80\xff obs", b"1", b"v" * 300]


def _valid(rand: random.Random) -> bytes:
    """A well-formed answer: any framing, status and headers the codec and h11 agree on."""
    version = rand.choice([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"])
    status = rand.choice([200, 200, 201, 204, 304, 400, 404, 429, 500, 503, 199, 299, 999])
    eol = rand.choice([b"\r\n", b"\r\n", b"\n"])
    lines = [version + b" %d" % status + rand.choice([b" OK", b"", b" ", b" Too  Many\tRequests"])]
    if rand.random() < 0.3:  # interim answers first
        lines = [
            b"HTTP/1.1 100 Continue",
            b"",
            b"HTTP/1.1 103 Early Hints",
            b"Link: </a>",
            b"",
            *lines,
        ]
    for _ in range(rand.randint(0, 5)):
        lines.append(
            rand.choice(_NAMES)
            + b":"
            + rand.choice([b"", b" ", b"\t "])
            + rand.choice(_VALUES)
            + rand.choice([b"", b" ", b"\t"])
        )
    body = bytes(rand.getrandbits(8) for _ in range(rand.choice([0, 1, 17, 300, 5000])))
    framing = rand.choice(["length", "chunked", "close", "length-dup"])
    if rand.random() < 0.2:
        lines.append(
            rand.choice(
                [b"Connection: close", b"connection: Keep-Alive, CLOSE", b"Connection: keep-alive"]
            )
        )
    tail = b""
    if framing == "length":
        lines.append(b"Content-Length: %d" % len(body))
        tail = body
    elif framing == "length-dup":
        lines += [
            b"content-length: %d" % len(body),
            b"Content-Length: %d , %d" % (len(body), len(body)),
        ]
        tail = body
    elif framing == "chunked":
        lines.append(rand.choice([b"Transfer-Encoding: chunked", b"transfer-encoding: CHUNKED"]))
        pos = 0
        while pos < len(body):
            size = rand.randint(1, 700)
            chunk = body[pos : pos + size]
            ext = rand.choice([b"", b";a=b", b'; name="v"', b"  "])
            tail += b"%x" % len(chunk) + ext + b"\r\n" + chunk + b"\r\n"
            pos += size
        tail += b"0\r\n" + rand.choice([b"", b"Expires: never\r\n", b"A: 1\r\nB: 2\r\n"]) + b"\r\n"
    else:
        tail = body
    if rand.random() < 0.15:
        tail += rand.choice([b"HTTP/1.1 200 OK\r\n\r\n", b"x"])  # past the answer
    return eol.join(lines) + eol + eol + tail


def _mutated(rand: random.Random) -> bytes:
    data = bytearray(_valid(rand))
    for _ in range(rand.randint(1, 3)):
        pos = rand.randrange(len(data))
        kind = rand.random()
        if kind < 0.4:
            data[pos] = rand.choice(b"\r\n\x00 \t:;0123456789abcdefHTTP/")
        elif kind < 0.7:
            data[pos:pos] = rand.choice(
                [b"\r", b"\n", b"\r\n", b" ", b"\x00", b"\r\n ", b"\r\n\r\n", b"0", b":"]
            )
        else:
            del data[pos : pos + rand.randint(1, 8)]
    return bytes(data)


def _check(raw: bytes, rand: random.Random, stricter: Optional[str] = None) -> None:
    pieces = _splits(raw, rand) if len(raw) > 1 else [raw]
    ours, theirs = _codec(pieces), _h11(pieces)
    assert ours == _codec([raw]), "the codec's answer depends on how the bytes were split"
    if stricter is not None:
        assert stricter in STRICTER
        assert ours == "error", raw[:300]
        assert theirs != "error", raw[:300]
        return
    if ours != "error":
        assert theirs == ours, raw[:300]  # never laxer, never a different reading
    elif theirs != "error":
        pytest.fail(f"rejected what h11 reads, for no listed reason: {raw[:300]!r}")


def test_valid_answers_read_as_h11_reads_them() -> None:
    rand = random.Random(SEED)
    for _ in range(GENERATED):
        _check(_valid(rand), rand)


def test_mutated_answers_never_read_more_laxly_than_h11() -> None:
    rand = random.Random(SEED + 1)
    read = 0
    for _ in range(MUTATED):
        raw = _mutated(rand)
        pieces = _splits(raw, rand) if len(raw) > 1 else [raw]
        ours, theirs = _codec(pieces), _h11(pieces)
        assert ours == _codec([raw])
        if ours != "error":
            read += 1
            assert theirs == ours, raw[:300]
    assert read > MUTATED // 10  # the corpus is not all noise


_OK = b"HTTP/1.1 200 OK\r\n"

SAME = [
    _OK + b"Content-Length: 2\r\n\r\nhi",
    _OK + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\nhi!",  # conflicting
    _OK + b"Content-Length: 2, 3\r\n\r\nhi!",
    _OK + b"Content-Length: -1\r\n\r\n",
    _OK + b"Content-Length: 0x10\r\n\r\n",
    _OK + b"Content-Length: 5\r\n\r\nhi",  # cut short by the end
    _OK + b"Transfer-Encoding: gzip\r\n\r\n",
    _OK + b"Transfer-Encoding: gzip, chunked\r\n\r\n",
    _OK + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    _OK + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",  # no last chunk
    _OK + b"Transfer-Encoding: chunked\r\n\r\nz\r\n",
    _OK + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",  # bare LF size line
    _OK + b"Transfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer\r\n\r\n",
    _OK + b"X : y\r\nContent-Length: 0\r\n\r\n",  # a space before the colon
    _OK + b"X: a\x00b\r\nContent-Length: 0\r\n\r\n",  # NUL
    _OK + b"X: a\rb\r\nContent-Length: 0\r\n\r\n",  # bare CR
    b"HTTP/1.1 20 OK\r\n\r\n",
    b"HTTP/1.1 200 OK",  # no end of head
    b"",  # closed without answering
    b"garbage\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",  # no body, whatever it says
    b"HTTP/1.1 304 Not Modified\r\n\r\n",
    _OK + b"Transfer-Encoding: chunked\r\n\r\n1\r\nxYZ0\r\n\r\n",  # no CRLF after a chunk
    b"HTTP/1.1 101 Switching Protocols\r\n\r\n",  # no upgrade was asked for
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",  # not reusable
    b"HTTP/1.0 200 OK\r\n\r\nto the end",
    _OK + b"\r\nto the end",
    _OK + b"Connection: close\r\nContent-Length: 1\r\n\r\nx",
    _OK + b"Content-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n\r\n",  # bytes past the answer
]

STRICTER_CASES = [
    ("obs-fold", _OK + b"X: a\r\n b\r\nContent-Length: 0\r\n\r\n"),
    ("control", _OK + b"X: a\x01b\r\nContent-Length: 0\r\n\r\n"),
    ("control", b"HTTP/1.1 200 O\x7fK\r\nContent-Length: 0\r\n\r\n"),
    ("version", b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ("version", b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ("cl+te", _OK + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("head-limit", _OK + b"X: " + b"v" * (h1.HEAD_LIMIT + 10) + b"\r\n\r\n"),
    ("chunk-digits", _OK + b"Transfer-Encoding: chunked\r\n\r\n00000000000000000\r\n\r\n"),
    ("length-digits", _OK + b"Content-Length: 0000000000000000001\r\n\r\nx"),
]


@pytest.mark.parametrize("raw", SAME, ids=range(len(SAME)))
def test_edge_cases_read_as_h11_reads_them(raw: bytes) -> None:
    _check(raw, random.Random(SEED))


@pytest.mark.parametrize(("reason", "raw"), STRICTER_CASES, ids=[r for r, _ in STRICTER_CASES])
def test_deliberately_stricter_than_h11(reason: str, raw: bytes) -> None:
    _check(raw, random.Random(SEED), stricter=reason)


def test_an_endless_chunk_size_line_or_head_is_refused_without_waiting_for_its_end() -> None:
    for start in (_OK + b"Transfer-Encoding: chunked\r\n\r\n1;", b"HTTP/1.1 200 OK\r\nX: "):
        assert _fed_until_refused(start) <= h1.HEAD_LIMIT + 1024  # not later


def _fed_until_refused(start: bytes, again: bytes = b"a" * 1024) -> int:
    answer = h1.Answer()
    answer.feed(start)
    fed = len(start)
    try:
        while fed < 10 * h1.HEAD_LIMIT:
            answer.feed(again)
            fed += len(again)
            if answer.head():
                answer.body()
    except h1.ProtocolError:
        return fed
    raise AssertionError("never refused")


def test_a_request_is_written_in_one_piece_and_refused_if_a_header_cannot_be_carried() -> None:
    headers = [
        (b"Host", b"api.example"),
        (b"Authorization", b"Bearer k"),
        (b"Content-Length", b"2"),
    ]
    assert h1.request_bytes(b"POST", b"/send", headers, b"{}") == (
        b"POST /send HTTP/1.1\r\nHost: api.example\r\nAuthorization: Bearer k\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )
    bad_headers = [
        (b"X", b"SECRET\r\nInjected: 1"),
        (b"X: SECRET\r\nY", b"b"),
        (b"X: SECRET", b"a"),
        (b"X Y", b"SECRET"),
        (b"X", b" SECRET"),
        (b"X", b"SECRET\x00"),
    ]
    for bad in bad_headers:
        with pytest.raises(h1.Unwritable) as caught:
            h1.request_bytes(b"GET", b"/", [(b"Host", b"a"), bad], b"")
        assert "SECRET" not in str(caught.value)  # a value may be an API key
    with pytest.raises(h1.Unwritable):
        h1.request_bytes(b"GET", b"/a b", [], b"")


@pytest.mark.parametrize(
    ("start", "again"),
    [
        (_OK + b"Transfer-Encoding: chunked\r\n\r\n0\r\n", b"X-Trailer: more\r\n"),
        (b"", b"HTTP/1.1 100 Continue\r\n\r\n"),
        (b"", b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"),
    ],
    ids=["endless-trailers", "endless-100", "endless-103"],
)
def test_endless_trailers_or_interim_answers_are_refused_at_the_heads_limit(
    start: bytes, again: bytes
) -> None:
    """Each is small and well formed, and none is kept: only a bound on them all stops a
    server that sends them for ever (before, the call's deadline did, a minute later)."""
    assert _fed_until_refused(start, again) <= len(start) + h1.HEAD_LIMIT + len(again)


def test_a_head_trickled_a_byte_at_a_time_is_read() -> None:
    raw = _OK + b"X-Padding: " + b"p" * 30000 + b"\r\nContent-Length: 2\r\n\r\n{}"
    answer = h1.Answer()
    for index in range(len(raw)):
        answer.feed(raw[index : index + 1])
        if answer.head():
            answer.feed(raw[index + 1 :])
            break
    assert answer.body() == b"{}"
    assert answer.reusable


def test_the_framing_check_keeps_as_much_of_a_head_as_the_codec_reads() -> None:
    from textflow._http import framing

    assert framing._HEAD_LIMIT == h1.HEAD_LIMIT
