"""The SDK's HTTP/1.1 codec against heads built to make its regular expressions backtrack.

A header line's regular expression that can place a run of spaces in two ways (before
the value or after it) backtracks through every placement when the line fails, and
through every placement of every line before it too: a head of a dozen ``A:    `` lines
and one line with a NUL held the CPU for over a minute (a thread or an event loop
stopped, out of reach of any deadline, since a regular expression is never cut). Each
hostile head here must be refused (``ProtocolError``) at about the cost of reading a
plain head of the same size: CPU time compared in the same run, the best of a few
rounds (a ratio, no wall-clock margin; a backtracking parse is thousands of times off).
"""

from __future__ import annotations

import time

import pytest

from textflow._http import h1

STATUS = b"HTTP/1.1 200 OK\r\n"
ROUNDS = 3
RATIO = 50  # a linear parse is within a few times the plain head's cost

HOSTILE = {
    # empty values padded with spaces, then one bad line: exponential in the lines
    "spaced-empty-lines": b"A:    \r\n" * 10 + b"B: \x00\r\n",
    # one long run of spaces before a bad byte: quadratic in the run
    "spaces-then-control": b"A:" + b" " * 16_000 + b"\x01\r\n",
    "value-spaces-then-control": b"A: a" + b" " * 16_000 + b"\x01\r\n",
    "tabs-between-words": b"A: " + b"a \t" * 5_000 + b"\x01\r\n",
}


def _refused_cost(head: bytes) -> float:
    answer = h1.Answer()
    answer.feed(head)
    started = time.process_time()
    with pytest.raises(h1.ProtocolError):
        answer.head()
    return time.process_time() - started


def _plain_cost(size: int) -> float:
    line = b"X-Plain: some value here\r\n"
    head = STATUS + line * min(h1.MAX_HEADERS, max(1, size // len(line))) + b"\r\n"
    answer = h1.Answer()
    answer.feed(head)
    started = time.process_time()
    assert answer.head()
    return time.process_time() - started


@pytest.mark.parametrize("fields", list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_hostile_head_is_refused_without_backtracking(fields: bytes) -> None:
    head = STATUS + fields + b"\r\n"
    ratios = []
    for _ in range(ROUNDS):
        hostile = _refused_cost(head)
        plain = max(_plain_cost(len(head)), 1e-6)
        ratios.append(hostile / plain)
        if ratios[-1] < RATIO:
            break
    assert min(ratios) < RATIO, ratios


def _trailers_refused_cost() -> float:
    answer = h1.Answer()
    answer.feed(
        STATUS
        + b"Transfer-Encoding: chunked\r\n\r\n0\r\n"
        + b"T:    \r\n" * 10
        + b"X:"
        + b" " * 16_000
        + b"\x01\r\n\r\n"
    )
    assert answer.head()
    started = time.process_time()
    with pytest.raises(h1.ProtocolError):
        answer.body()
    return time.process_time() - started


def test_hostile_trailers_are_refused_without_backtracking() -> None:
    ratios = []  # the best of a few rounds, as above: one round can be preempted
    for _ in range(ROUNDS):
        ratios.append(_trailers_refused_cost() / max(_plain_cost(16_000), 1e-6))
        if ratios[-1] < RATIO:
            break
    assert min(ratios) < RATIO, ratios


@pytest.mark.parametrize(
    "line", [b"5;" + b" " * 4000 + b"\r\n", b"5" + b" " * 4000 + b"\r\n", b"5;a b \r\n"]
)
def test_chunk_size_lines_with_long_space_runs(line: bytes) -> None:
    """Spaces after a size or in an extension are read (as h11 does), once."""
    answer = h1.Answer()
    answer.feed(STATUS + b"Transfer-Encoding: chunked\r\n\r\n" + line + b"hello\r\n0\r\n\r\n")
    assert answer.head()
    assert answer.body() == b"hello"
    assert answer.reusable


@pytest.mark.parametrize(
    ("line", "value"),
    [(b"A:\r\n", b""), (b"A:   \r\n", b""), (b"A: \t v  w \t\r\n", b"v  w"), (b"A:v\n", b"v")],
)
def test_header_values_lose_only_their_outer_spaces(line: bytes, value: bytes) -> None:
    answer = h1.Answer()
    answer.feed(STATUS + line + b"Content-Length: 0\r\n\r\n")
    assert answer.head()
    assert answer.headers[0] == (b"A", value)
