"""An answer's body, read under a size cap and decompressed here, in bounded steps. No I/O.

The largest answer TextFlow sends is under 1 KiB. A body past ``MAX_ANSWER_BYTES``
(after decompression), an endless one, or a decompression bomb is abandoned as
soon as it crosses the cap: memory stays flat. httpx would decompress each
received chunk whole (a 64 KiB chunk of a gzip bomb is 64 MiB), so the SDK asks
only for the encodings it decodes itself (``ACCEPT_ENCODING``) and reads raw bytes.
"""

from __future__ import annotations

import zlib

import httpx

#: Not a setting: no real answer comes near it.
MAX_ANSWER_BYTES = 1024 * 1024
ACCEPT_ENCODING = "gzip, deflate"

_KEPT_EXTENSIONS = ("http_version", "reason_phrase")
_FRAMING = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class AnswerTooLarge(httpx.DecodingError):
    """The body crossed ``MAX_ANSWER_BYTES``."""


class _Inflate:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it), output bounded."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)
        self._started = False

    def decode(self, data: bytes, room: int) -> bytes:
        try:
            out = self._zlib.decompress(data, room + 1)
        except zlib.error:
            if self._gzip or self._started:
                raise
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
            out = self._zlib.decompress(data, room + 1)
        self._started = True
        if len(out) > room or self._zlib.unconsumed_tail:
            raise AnswerTooLarge(_too_large())
        return out

    def flush(self, room: int) -> bytes:
        out = self._zlib.flush()
        if len(out) > room:
            raise AnswerTooLarge(_too_large())
        return out


def _too_large() -> str:
    return f"the answer is larger than {MAX_ANSWER_BYTES // 1024} KiB, far more than any real one"


class BodyReader:
    """Feed it the raw body in chunks; it keeps the decoded bytes or raises a DecodingError."""

    def __init__(self, headers: httpx.Headers, limit: int = MAX_ANSWER_BYTES) -> None:
        self._limit = limit
        self._size = 0
        self._parts: list[bytes] = []
        encodings = [
            part.strip().lower()
            for part in headers.get("content-encoding", "").split(",")
            if part.strip() and part.strip().lower() != "identity"
        ]
        unknown = [name for name in encodings if name not in ("gzip", "x-gzip", "deflate")]
        if unknown:
            raise httpx.DecodingError(
                f"the answer is encoded as {unknown[0][:40]!r}, which was not asked for"
            )
        # Decoded in the reverse of the order the encodings were applied.
        self._decoders = [_Inflate(name) for name in reversed(encodings)]

    def feed(self, data: bytes) -> None:
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
        headers=[(k, v) for k, v in response.headers.multi_items() if k.lower() not in _FRAMING],
        content=body,
        request=response.request,
        extensions=extensions,
    )
