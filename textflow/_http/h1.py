"""A strict HTTP/1.1 client codec, sans I/O: a request written as bytes, an answer parsed.

Writing (`request_bytes`): a request head is one join of its parts and one regular
expression over the whole of it (no header is validated on its own); the body goes
with the ``Content-Length`` its caller gave (httpx's requests carry one).

Reading (`Answer`): fed the bytes of a connection, it yields the answer's status,
reason, headers (``(name, value)`` bytes, names as sent) and body, and says whether
the connection may carry another request. It is stricter than h11, never laxer:

* a head of more than ``HEAD_LIMIT`` bytes or ``MAX_HEADERS`` headers, an obs-fold
  line, a bare CR, a NUL or any control character, a space before a colon, a version
  other than HTTP/1.0 or 1.1, a status below 100 or a ``101`` -> `ProtocolError`;
* the body is framed by ``Transfer-Encoding: chunked`` (chunk extensions and trailers
  accepted, sizes and lines bounded; the CRLF after each chunk checked), else by one
  ``Content-Length`` (digits only; duplicates must agree), else by the end of the
  connection; any other transfer coding, or both headers at once -> `ProtocolError`;
* 204 and 304 (and an answer to HEAD) have no body; other 1xx answers are skipped;
* the connection is reusable only when the answer is HTTP/1.1, says no
  ``Connection: close``, was framed by its headers, and nothing came after it
  (``extra``: those bytes must never be read as the next request's answer).

``textflow._http.framing`` asks the same parser where an answer ended, for the
connections it still watches (proxied ones, over httpcore): one place knows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Optional

HEAD_LIMIT = 64 * 1024  # bytes of an answer's head (status line and headers)
MAX_HEADERS = 100
_LINE_LIMIT = 4 * 1024  # bytes of a chunk's size line (its extensions included)
_SIZE_DIGITS = 16  # hex digits of a chunk size; decimal digits of a Content-Length: 18

_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_VCHAR = rb"[\x21-\x7e\x80-\xff]"
_VALUE = rb"(?:" + _VCHAR + rb"+(?:[ \t]+" + _VCHAR + rb"+)*)?"

_REQUEST_HEAD = re.compile(
    _TOKEN + rb" [\x21-\x7e]+ HTTP/1\.1\r\n(?:" + _TOKEN + rb": " + _VALUE + rb"\r\n)*\r\n"
)
_NAMES = re.compile(_TOKEN + rb"(?:\n" + _TOKEN + rb")*")
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ((?:[ \t]|" + _VCHAR + rb")*))?\r?")
# One way only to match a line (the spaces before a value are all taken before it, and a
# chunk line's spaces are its extension's or its own): a regular expression with two ways
# to place a run of spaces backtracks through every placement on a line that fails, for
# each line before it too, and a head of a few lines of spaces holds the CPU for minutes.
_FIELD = rb"(" + _TOKEN + rb"):[ \t]*(?![ \t])(" + _VALUE + rb")[ \t]*\r?\n"
_FIELDS = re.compile(rb"(?:" + _FIELD + rb")*")
_FIELD_LINE = re.compile(_FIELD)
_BLANK_LINE = re.compile(rb"\n\r?\n")
# A chunk's size line: as h11 reads it (extensions, trailing spaces), no bare CR or LF.
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[^\r\n]*|[ \t]*)\r\n")

Headers = list[tuple[bytes, bytes]]


class ProtocolError(Exception):
    """The answer breaks HTTP/1.1 as this codec reads it."""


class Unwritable(Exception):
    """A request that HTTP/1.1 cannot carry (never says which value: it may be a key)."""


def request_bytes(
    method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
) -> bytes:
    """The request on the wire: its head (checked whole, once) and ``body``.

    ``headers`` must frame ``body`` (a ``Content-Length``, as httpx's requests have);
    the caller checks that, this function only writes.
    """
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    head = b"".join(parts)
    # The head's shape, then that each header is one line (a value with a line break in
    # it would make a valid head of more lines) and each name a token (no ": " in one).
    if (
        _REQUEST_HEAD.fullmatch(head) is None
        or head.count(b"\n") != len(headers) + 2
        or (headers and _NAMES.fullmatch(b"\n".join([name for name, _ in headers])) is None)
    ):
        raise Unwritable(
            "the request's method, target or a header name or value cannot be sent over "
            "HTTP/1.1 (a line break, a control character, a space out of place)"
        )
    return head + body if body else head


# How an answer's body is framed.
_NONE, _LENGTH, _CHUNKED, _CLOSE = range(4)
# Where a chunked body is.
_SIZE, _DATA, _DATA_END, _TRAILERS = range(4)


class Answer:
    """One answer read from a connection: `feed` bytes, then `head`, then `body` until
    `done` (`end_of_input` when the connection ends first)."""

    __slots__ = (
        "_buf",
        "_chunk",
        "_framing",
        "_head_request",
        "_left",
        "_scanned",
        "_spent",
        "done",
        "headers",
        "keep_alive",
        "reason",
        "status",
        "version",
    )

    def __init__(self, head_request: bool = False) -> None:
        self._buf = bytearray()
        self._head_request = head_request
        self._framing = -1  # until the head is parsed
        self._left = 0  # bytes of the body (or of the current chunk) still to come
        self._chunk = _SIZE
        # Bytes at the buffer's front already searched for the end of a head or line: a
        # head trickled a byte per read is searched once, not once per byte (quadratic).
        self._scanned = 0
        # Bytes of interim answers and trailers read: bounded as one head is, or a server
        # could send them for ever (no memory kept, but the call held to its deadline).
        self._spent = 0
        self.status = 0
        self.reason = b""
        self.version = b""
        self.headers: Headers = []
        self.keep_alive = False
        self.done = False

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def extra(self) -> bool:
        """Bytes came past the end of the answer (check once `done`)."""
        return bool(self._buf)

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry the next request: see the module's docstring."""
        return self.done and self.keep_alive and not self._buf

    def head(self) -> bool:
        """Whether the head is parsed (1xx answers skipped); ``False``: feed more."""
        if self._framing >= 0:
            return True
        while True:
            buf = self._buf
            blank = _BLANK_LINE.search(buf, max(0, self._scanned - 2))
            if blank is None:
                self._scanned = len(buf)
                if self._spent + len(buf) > HEAD_LIMIT:
                    raise ProtocolError(f"the answer's head is longer than {HEAD_LIMIT} bytes")
                return False
            end = blank.end()
            self._scanned = 0
            if self._spent + end > HEAD_LIMIT:
                raise ProtocolError(f"the answer's head is longer than {HEAD_LIMIT} bytes")
            first = buf.find(b"\n")
            status = _STATUS_LINE.fullmatch(buf, 0, first)
            if status is None:
                raise ProtocolError("the answer's status line is not HTTP/1.0 or HTTP/1.1")
            minor, code_digits, reason = status.groups()  # before the buffer changes
            code = int(code_digits)
            fields_end = blank.start() + 1
            if first + 1 < fields_end:
                if _FIELDS.fullmatch(buf, first + 1, fields_end) is None:
                    raise ProtocolError(_BAD_HEADER)
                headers = _FIELD_LINE.findall(buf, first + 1, fields_end)
                if len(headers) > MAX_HEADERS:
                    raise ProtocolError(f"the answer has more than {MAX_HEADERS} headers")
            else:
                headers = []
            del buf[:end]
            if code < 200:
                if code == 101 or code < 100:
                    raise ProtocolError(f"unexpected status {code} on a request/response")
                self._spent += end  # interim answers count towards the head's limit
                continue  # an interim answer (100 Continue, 103 Early Hints): the next
            self.status = code
            self.reason = reason or b""
            self.version = b"HTTP/1." + minor
            self.headers = headers
            self._frame(headers, minor == b"1")
            return True

    def _frame(self, headers: Headers, http11: bool) -> None:
        length: Optional[bytes] = None
        chunked = False
        close = not http11
        for name, value in headers:
            lower = name.lower()
            if lower == b"content-length":
                values = {part.strip() for part in value.split(b",")}
                if len(values) != 1 or (length is not None and values != {length}):
                    raise ProtocolError("the answer has conflicting Content-Length headers")
                length = values.pop()
                if not length.isdigit() or len(length) > 18:
                    raise ProtocolError("the answer's Content-Length is not a length")
            elif lower == b"transfer-encoding":
                if chunked or value.lower() != b"chunked":
                    raise ProtocolError(
                        "the answer's Transfer-Encoding is not 'chunked' (the only one read)"
                    )
                chunked = True
            elif lower == b"connection" and b"close" in [
                token.strip() for token in value.lower().split(b",")
            ]:
                close = True
        if chunked and length is not None:
            raise ProtocolError("the answer has both Content-Length and Transfer-Encoding")
        self.keep_alive = not close
        if self.status in (204, 304) or self._head_request:
            self._framing = _NONE
            self.done = True
        elif chunked:
            self._framing = _CHUNKED
        elif length is not None:
            self._left = int(length)
            self._framing = _LENGTH
            self.done = self._left == 0
        else:
            self._framing = _CLOSE
            self.keep_alive = False  # only the end of the connection ends the answer

    def body(self) -> bytes:
        """The body's bytes that came since the last call (``b""``: none yet, or `done`)."""
        framing = self._framing
        if self.done:
            return b""
        buf = self._buf
        if framing == _LENGTH:
            if len(buf) <= self._left:
                data = bytes(buf)
                buf.clear()
            else:
                data = bytes(buf[: self._left])
                del buf[: self._left]
            self._left -= len(data)
            self.done = self._left == 0
            return data
        if framing == _CLOSE:
            data = bytes(buf)
            buf.clear()
            return data
        return self._chunked()

    def _chunked(self) -> bytes:
        buf = self._buf
        out = []
        while not self.done:
            state = self._chunk
            if state == _DATA:
                take = min(self._left, len(buf))
                if not take:
                    break
                out.append(bytes(buf[:take]))
                del buf[:take]
                self._left -= take
                if not self._left:
                    self._chunk = _DATA_END
            elif state == _SIZE:
                line = self._line(buf)
                if line is None:
                    break
                match = _CHUNK_SIZE.fullmatch(line)
                if match is None:
                    raise ProtocolError("the answer's chunked body has a bad chunk size line")
                self._left = int(match.group(1), 16)
                self._chunk = _DATA if self._left else _TRAILERS
            elif state == _DATA_END:
                if len(buf) < 2:
                    if buf == b"\r" or not buf:
                        break
                    raise ProtocolError(_NO_CRLF)
                if buf[:2] != b"\r\n":
                    raise ProtocolError(_NO_CRLF)
                del buf[:2]
                self._chunk = _SIZE
            else:  # trailers: header lines up to an empty one, the head's limits
                line = self._line(buf, HEAD_LIMIT - self._spent)
                if line is None:
                    break
                self._spent += len(line)  # all trailers together: the head's limit
                if line in (b"\r\n", b"\n"):
                    self.done = True
                elif _FIELD_LINE.fullmatch(line) is None:
                    raise ProtocolError(_BAD_HEADER)
        return b"".join(out)

    def _line(self, buf: bytearray, limit: int = _LINE_LIMIT) -> Optional[bytes]:
        end = buf.find(b"\n", self._scanned, limit + 1)
        if end < 0:
            if len(buf) > limit:
                raise ProtocolError("the answer's chunked body has an over-long line or trailers")
            self._scanned = len(buf)
            return None
        self._scanned = 0
        line = bytes(buf[: end + 1])
        del buf[: end + 1]
        return line

    def end_of_input(self) -> None:
        """The connection ended: the answer ends here if framed by it, else it is cut."""
        if self._framing == _CLOSE:
            self.done = True
        elif not self.done:
            raise ProtocolError(
                "the server closed the connection before the end of its answer"
                if self._framing >= 0 or self._buf
                else "the server closed the connection without answering"
            )


_BAD_HEADER = "the answer has a malformed header line"
_NO_CRLF = "the answer's chunked body lacks the CRLF after a chunk"


def answer_end(data: bytes, head_request: bool = False) -> Optional[int]:
    """Where the first answer in ``data`` ends, or ``None``: not whole, not framed by its
    headers (to the end of the connection), or malformed."""
    answer = Answer(head_request)
    answer.feed(data)
    try:
        if not answer.head():
            return None
        while not answer.done and answer.body():
            pass
    except ProtocolError:
        return None
    if not answer.done or answer._framing == _CLOSE:
        return None
    return len(data) - len(answer._buf)
