"""An answer's body, read under a size cap and decompressed here, in bounded steps. No I/O.

The largest answer TextFlow sends is under 1 KiB. A body past ``MAX_ANSWER_BYTES``
(after decompression), an endless one, or a decompression bomb is abandoned as
soon as it crosses the cap: memory stays flat. httpx would decompress each
received chunk whole (a 64 KiB chunk of a gzip bomb is 64 MiB), so the SDK asks
only for the encodings it decodes itself (``ACCEPT_ENCODING``) and reads raw bytes.
"""

from __future__ import annotations

import zlib
from typing import Any, Optional

import httpx

#: Not a setting: no real answer comes near it.
MAX_ANSWER_BYTES = 1024 * 1024
ACCEPT_ENCODING = "gzip, deflate"
MAX_ENCODINGS = 3  # layers of Content-Encoding decoded (urllib3 allows 5; real answers use 1)

#: A response extension the aiohttp transport and the SDK's own connection set: a
#: callable that stops the answer's connection from being used again.
CLOSE_CONNECTION = "textflow.close_connection"
# The connection's (network_stream, CLOSE_CONNECTION) are kept for the client to drop
# it if the answer is not this request's (``framing.never_reuse``), which takes them out.
_KEPT_EXTENSIONS = ("http_version", "reason_phrase", "network_stream", CLOSE_CONNECTION)
_FRAMING = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


class AnswerTooLarge(httpx.DecodingError):
    """The body crossed ``MAX_ANSWER_BYTES``."""


class _Inflate:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it), output bounded."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._zlib: Optional[Any] = zlib.decompressobj(zlib.MAX_WBITS | 16) if self._gzip else None
        self._head = b""  # deflate: the first bytes, until they tell zlib-wrapped from raw

    def decode(self, data: bytes, room: int) -> bytes:
        if self._zlib is None:
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, b""
            self._zlib = zlib.decompressobj(
                zlib.MAX_WBITS if _zlib_header(data) else -zlib.MAX_WBITS
            )
        if self._zlib.eof and data:
            raise httpx.DecodingError("the answer has bytes after the end of its compressed body")
        out: bytes = self._zlib.decompress(data, room + 1)
        if len(out) > room or self._zlib.unconsumed_tail:
            raise AnswerTooLarge(_too_large())
        if self._zlib.unused_data:
            raise httpx.DecodingError("the answer has bytes after the end of its compressed body")
        return out

    def flush(self, room: int) -> bytes:
        if self._zlib is None or not self._zlib.eof:
            raise httpx.DecodingError("the answer's compressed body ends before its end")
        out: bytes = self._zlib.flush()
        if len(out) > room:
            raise AnswerTooLarge(_too_large())
        return out


def _zlib_header(data: bytes) -> bool:
    """Whether ``data`` opens with a zlib header (RFC 1950): deflate, and a valid check."""
    return data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _too_large() -> str:
    return f"the answer is larger than {MAX_ANSWER_BYTES // 1024} KiB, far more than any real one"


class BodyReader:
    """Feed it the raw body in chunks; it keeps the decoded bytes or raises a DecodingError."""

    def __init__(self, headers: httpx.Headers, limit: int = MAX_ANSWER_BYTES) -> None:
        self._limit = limit
        self._size = 0
        self._raw = 0
        self._parts: list[bytes] = []
        # The raw names, looked at once each: ``headers.get`` normalises the name and works
        # out the headers' text encoding, for an answer that is almost never compressed.
        named = [value for name, value in headers.raw if name.lower() == b"content-encoding"]
        encodings = (
            [
                part.strip().lower()
                for part in b",".join(named).decode("latin-1").split(",")
                if part.strip() and part.strip().lower() != "identity"
            ]
            if named
            else []
        )
        unknown = [name for name in encodings if name not in ("gzip", "x-gzip", "deflate")]
        if len(encodings) > MAX_ENCODINGS:
            raise httpx.DecodingError(
                f"the answer claims {len(encodings)} layers of compression; at most "
                f"{MAX_ENCODINGS} are decoded"
            )
        if unknown:
            raise httpx.DecodingError(
                f"the answer is encoded as {unknown[0][:40]!r}, which was not asked for"
            )
        # Decoded in the reverse of the order the encodings were applied.
        self._decoders = [_Inflate(name) for name in reversed(encodings)]

    def feed(self, data: bytes) -> None:
        self._raw += len(data)
        if self._raw > self._limit:  # even before decoding: junk after a small compressed body
            raise AnswerTooLarge(_too_large())
        try:
            for decoder in self._decoders:
                data = decoder.decode(data, self._room())
        except zlib.error as exc:
            raise httpx.DecodingError(f"the answer's compressed body is broken ({exc})") from None
        self._keep(data)

    def finish(self) -> bytes:
        """The whole decoded body."""
        try:
            for index, decoder in enumerate(self._decoders):
                tail = decoder.flush(self._room())
                for later in self._decoders[index + 1 :]:
                    tail = later.decode(tail, self._room())
                self._keep(tail)
        except zlib.error as exc:
            raise httpx.DecodingError(f"the answer's compressed body is broken ({exc})") from None
        return b"".join(self._parts)

    def _room(self) -> int:
        return self._limit - self._size

    def _keep(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self._limit:
            raise AnswerTooLarge(_too_large())
        self._parts.append(data)


def read_already(response: httpx.Response) -> bool:
    """Whether the transport handed over the body whole and decoded (``httpx.MockTransport``)."""
    if not response.is_stream_consumed:
        return False
    if len(response.content) > MAX_ANSWER_BYTES:
        raise AnswerTooLarge(_too_large())
    return True


def complete(response: httpx.Response, body: bytes) -> httpx.Response:
    """A closed response holding ``body``, decoded, in place of the streamed one."""
    extensions = {
        key: response.extensions[key] for key in _KEPT_EXTENSIONS if key in response.extensions
    }
    return httpx.Response(
        response.status_code,
        headers=[(k, v) for k, v in response.headers.raw if k.lower() not in _FRAMING],
        content=body,
        request=response.request,
        extensions=extensions,
    )


def readable(response: httpx.Response, body: bytes) -> httpx.Response:
    """``response`` with its body readable, for an exception that hands it to the caller:
    itself if it was read in memory (`read_already`), else a `complete` copy."""
    if response.is_stream_consumed:
        return response
    return complete(response, body)
