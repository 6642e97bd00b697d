"""The one decision of whether a failed call may have been sent, from where it failed.

Transports do not decide: they report how far the current attempt got (`reached`),
and the retry loop reads it back (`POINT`) when the attempt fails, whatever the
exception's type. The whole table (``True``: it may have been sent):

======================  =========================  ===========================
failure point           sending operation          read-only operation
                        (``send_sms``, codes)      (``get_balance``)
======================  =========================  ===========================
``BEFORE_CONNECTING``   False                      False
``CONNECTING``          False                      False
``TLS``                 False                      False
``WRITING``             True                       False
``WAITING``             True                       False
``READING``             True                       False
======================  =========================  ===========================

* ``BEFORE_CONNECTING``: waiting for a free connection, or refused on our side
  (a header h11 will not write); a reused connection found closed while idle is
  given up here too, before a byte of the request goes to it.
* ``CONNECTING``: opening the socket, to the server or to a proxy (and a proxy's
  ``CONNECT`` tunnel, refused or not, since nothing of the request went through it).
* ``TLS``: the handshake, to the server or through a tunnel.
* ``WRITING``: from the first byte of the request handed to the socket on; a
  request's bytes are held and written at once, so "held" is not "writing".
* ``WAITING``: the request is written, no byte of the answer has come.
* ``READING``: some of the answer came (a cut-off or malformed answer).

A read-only operation changes nothing, so it "may have been sent" never; an
answer that came and says no (a 4xx) is decided in ``textflow._wire``, not here.

The exception's httpx type gives the earliest point it can come from (`point_of`):
a transport's report moves it later, never earlier. A transport that is not the
SDK's (a caller's ``http_client``) reports nothing, so its exception's type alone
decides, and a call cut by the deadline counts as ``WAITING`` (unknown: it may have
been sent).
"""

from __future__ import annotations

import enum
from contextvars import ContextVar
from typing import Optional

import httpx


class Point(enum.IntEnum):
    """How far an attempt got, in the order it goes."""

    BEFORE_CONNECTING = 0
    CONNECTING = 1
    TLS = 2
    WRITING = 3
    WAITING = 4
    READING = 5


#: How far the current attempt got: ``None`` until a transport of the SDK's reports.
POINT: ContextVar[Optional[Point]] = ContextVar("textflow_point", default=None)


def may_have_been_sent(point: Point, *, read_only: bool) -> bool:
    """The table above: whether an attempt that failed at ``point`` may have been sent."""
    return not read_only and point >= Point.WRITING


def reached(point: Point) -> None:
    """A transport reports that the current attempt got to ``point``."""
    POINT.set(point)


# Refused on our side before anything was written, whoever's transport it was.
_REFUSED_HERE = (httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.PoolTimeout)
_NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError)


def point_of(exc: Exception, reported: Optional[Point] = None) -> Point:
    """Where ``exc`` happened: the later of the transport's report and what its type says.

    A type says at least this much: a read error or timeout (anything unlisted) came
    once the request was written, a write error while writing, a connect error while
    connecting, a refusal on our side before connecting. A report can only move that
    later, never earlier: a transport whose report fell behind (a test's mock below
    the SDK's streams, a bug) errs towards "may have been sent", never towards a
    second send. A proxy that refuses a ``CONNECT`` tunnel fails while connecting,
    whatever was reported of writing the ``CONNECT`` request itself.
    """
    if isinstance(exc, httpx.ProxyError):
        return Point.CONNECTING
    if isinstance(exc, _REFUSED_HERE):
        floor = Point.BEFORE_CONNECTING
    elif isinstance(exc, _NOT_CONNECTED):
        floor = Point.CONNECTING
    elif isinstance(exc, (httpx.WriteError, httpx.WriteTimeout)):
        floor = Point.WRITING
    else:
        floor = Point.WAITING  # a read, a protocol error, anything else
    return floor if reported is None else max(floor, reported)


def cut_point() -> Point:
    """Where a call cut by the deadline was: as reported, or ``WAITING`` if unknown."""
    point = POINT.get()
    return Point.WAITING if point is None else point
