"""When to try a request again, and how long to wait first. Pure functions, no I/O.

The rule that matters: an SMS is never sent twice. A request is re-sent after a
failure only when the server cannot have processed it (the connection was never
made, or the answer was 429 "too many requests"), or when the operation only
reads (``get_balance``), in which case read timeouts, connections dropped after
sending, 408 and 5xx are retried too.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime
from typing import Callable, Optional

import httpx

from textflow._http.sent import Point, may_have_been_sent, point_of

INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
MAX_RETRY_AFTER = 60.0

# Refused on our side before a byte was written (a bad header, an unknown scheme): not
# sent, but sending the same request again would fail the same way.
NEVER_WRITTEN = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)
# Would fail the same way again: refused here, or by the proxy.
_SAME_AGAIN = (*NEVER_WRITTEN, httpx.ProxyError)
# Failures that sending again may get past (not a proxy's refusal, say).
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def parse_retry_after(
    value: Optional[str], now: Callable[[], float] = time.time
) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if seconds != seconds or seconds == float("-inf"):  # NaN: no usable advice
        return None
    return max(0.0, seconds)  # +inf stays: longer than we wait


def backoff(retries_done: int, rand: Optional[Callable[[], float]] = None) -> float:
    """Exponential backoff with jitter: about 0.5 s, 1 s, 2 s ... capped at 8 s."""
    delay = min(INITIAL_DELAY * 2.0**retries_done, MAX_DELAY)
    return delay * (1.0 - 0.25 * (rand or random.random)())


def next_delay(
    *,
    read_only: bool,
    retries_done: int,
    max_retries: int,
    exc: Optional[Exception] = None,
    response: Optional[httpx.Response] = None,
    rand: Optional[Callable[[], float]] = None,
    point: Optional[Point] = None,
) -> Optional[float]:
    """Seconds to wait before sending the same request again, or ``None``: give up.

    Pass the transport exception the attempt raised (and where it failed, as the
    SDK's transport reported it: `textflow._http.sent`), or the response it got;
    ``rand`` is the backoff's jitter source (``random.random`` if None).
    """
    if retries_done >= max_retries:
        return None
    if response is not None:
        return response_delay(response, read_only=read_only, retries_done=retries_done, rand=rand)
    if exc is not None and exception_is_retryable(exc, read_only=read_only, point=point):
        return backoff(retries_done, rand)
    return None


def exception_is_retryable(
    exc: Exception, *, read_only: bool, point: Optional[Point] = None
) -> bool:
    """Whether a transport failure allows sending the same request again: it cannot
    have been sent (`textflow._http.sent` decides) or only reads, and it may not fail
    the same way again."""
    if isinstance(exc, _SAME_AGAIN):
        return False
    where = point_of(exc, point)
    if not may_have_been_sent(where, read_only=False):
        return True  # nothing went out: safe to send again, whatever it does
    return read_only and isinstance(exc, _TRANSIENT)


#: No answer with a lower status is re-sent after (`response_delay`: 408, 429, 5xx).
FIRST_RETRIED_STATUS = 408


def response_delay(
    response: httpx.Response,
    *,
    read_only: bool,
    retries_done: int,
    rand: Optional[Callable[[], float]] = None,
) -> Optional[float]:
    """Seconds to wait before re-sending after this answer, or ``None``: do not."""
    status = response.status_code
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            return backoff(retries_done, rand)
        # Asked to wait longer than we are willing to block: let the caller decide.
        return retry_after if retry_after <= MAX_RETRY_AFTER else None
    if read_only and (status == 408 or status >= 500):
        return backoff(retries_done, rand)
    return None
