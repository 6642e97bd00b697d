"""What the shared journals (Redis, Postgres) have in common: leases, worker ids, URLs.

A claim on a shared journal carries a lease: the worker's id and a deadline.
While the worker sends, a heartbeat thread moves the deadlines of its open
claims forward (every third of the lease). A claim whose deadline passed
without an outcome (the worker was killed, or lost its store for longer than
the lease) reads as ``maybe_sent``, and is never claimed again unless the run
says ``resend_maybe_sent``. The owner may still record the real outcome late:
it knows better than the lease did.

A worker stalled between a claim and its send (a paused process or machine: its
heartbeat stalls too) may find its lease expired, and the recipient taken by a
run that resends ``maybe_sent``. Before each send the driver asks `Held` whether
the store confirmed the claim within half a lease (on this machine's clocks,
monotonic and wall, so a machine's sleep counts too; no round trip); if not, one
round trip renews it if it is still this worker's, and the recipient is skipped if
it is not (a confirmation whose answer came back stale too is asked again, then
the claim given back: `textflow._many._run.Run.still_claimed`).

Deadlines are set and read on the store's clock (Redis's ``TIME``, Postgres's
``statement_timestamp()``), one clock for every worker: a machine whose clock is
off neither takes a live claim nor makes its own look expired.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Callable, Optional
from urllib.parse import SplitResult, parse_qs, urlsplit, urlunsplit

from textflow._many._threads import Ticker
from textflow.errors import InputValidationError

#: Seconds a claim stays ``sending`` without its worker's heartbeat.
DEFAULT_LEASE = 60.0
#: The shortest lease a journal takes: its heartbeat renews the worker's open claims every
#: third of the lease, a round trip to the store each time (under a second: a typo, or
#: a store kept busy by renewals).
MIN_LEASE = 1.0
Clock = Callable[[], float]


def worker_id() -> str:
    """This process on this machine, unique per journal opened: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def campaign_of(url: str) -> str:
    """The ``campaign=NAME`` of a journal URL, checked: letters, digits, ``._-`` only."""
    values = parse_qs(urlsplit(url).query).get("campaign", [])
    if len(values) != 1 or not values[0]:
        raise InputValidationError(
            "a journal URL needs one ?campaign=NAME (the name every worker of the campaign "
            "uses), e.g. redis://127.0.0.1:6379/0?campaign=spring.",
            argument="journal",
        )
    name = values[0]
    if len(name) > 100 or not all(c.isalnum() or c in "._-" for c in name):
        raise InputValidationError(
            "a campaign name is up to 100 letters, digits, '.', '_' or '-'.", argument="journal"
        )
    return name


def lease_of(url: str, default: float) -> float:
    """The ``lease=SECONDS`` of a journal URL, else ``default``."""
    values = parse_qs(urlsplit(url).query, keep_blank_values=True).get("lease", [])
    if not values:
        return default
    try:
        seconds = float(values[-1])
    except ValueError:
        raise InputValidationError(
            f"lease= in a journal URL is seconds, at least {MIN_LEASE:g}, not {values[-1]!r}.",
            argument="journal",
        ) from None
    return check_lease(seconds, argument="journal")


#: Our query parameters in a journal URL, which the store's own client does not know.
OUR_PARAMETERS = ("campaign", "rate_limit", "lease", "instance")


def instance_of(url: str) -> Optional[str]:
    """The ``instance=ID`` of a journal URL: the campaign it must find, never create."""
    values = parse_qs(urlsplit(url).query).get("instance", [])
    if not values:
        return None
    if len(values) != 1 or not (0 < len(values[0]) <= 64 and values[0].isalnum()):
        raise InputValidationError(
            "instance= in a journal URL is the id a journal gave its campaign (letters "
            "and digits).",
            argument="journal",
        )
    return values[0]


def without_query(url: str, *names: str) -> str:
    """The URL without the given query parameters (ours, which the drivers do not know)."""
    parts = urlsplit(url)
    kept = [pair for pair in parts.query.split("&") if pair and pair.split("=", 1)[0] not in names]
    return urlunsplit(
        SplitResult(parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment)
    )


def shown_url(url: str) -> str:
    """The URL with any password masked, for messages and reprs: ``user:***@``, and
    query parameters such as ``password=`` or ``sslpassword=`` (libpq and redis-py
    take them too)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    pairs = parts.query.split("&") if parts.query else []
    query = "&".join(
        f"{pair.split('=', 1)[0]}=***" if "password" in pair.split("=", 1)[0].lower() else pair
        for pair in pairs
    )
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


def lease_heartbeat(renew: Callable[[], None], lease: float) -> Ticker:
    """The thread that renews a worker's open claims (``renew``) every third of ``lease``,
    started with its first claim and stopped when the journal closes."""
    return Ticker(renew, lease / 3, "textflow-journal-lease")


def check_lease(lease: float, argument: str = "lease") -> float:
    """``lease`` as seconds, or `InputValidationError` (``argument``: where it was given)."""
    if (
        isinstance(lease, bool)
        or not isinstance(lease, (int, float))
        or not (lease >= MIN_LEASE and lease < float("inf"))
    ):
        raise InputValidationError(
            f"lease must be seconds, at least {MIN_LEASE:g} (the heartbeat renews open claims "
            f"every third of it), not {lease!r}.",
            argument=argument,
        )
    return float(lease)


#: The clocks a claim's age is read on (`Held`), unless a test gives its own: the
#: monotonic clock, which no adjustment steps back, and the wall clock, which counts the
#: time a suspended machine slept (the monotonic clock does not, on Linux and macOS).
#: A claim is as old as the older reading says.
SYSTEM_CLOCKS: tuple[Clock, ...] = (time.monotonic, time.time)

#: One reading of each of `Held`'s clocks.
Stamp = tuple[float, ...]


class Held:
    """This worker's open claims, each with the moment (this machine's clocks, or the
    test's) the store last confirmed it: claimed, or renewed by a heartbeat."""

    def __init__(
        self, lease: float, clock: Optional[Clock], clocks: Optional[Sequence[Clock]] = None
    ) -> None:
        self._lease = lease
        if clocks is None:
            clocks = (clock,) if clock is not None else SYSTEM_CLOCKS
        self._clocks = tuple(clocks)
        self._at: dict[str, Stamp] = {}
        self._lock = threading.Lock()

    def now(self) -> Stamp:
        """Read before the round trip that confirms: a confirmation counts from then."""
        return tuple(clock() for clock in self._clocks)

    def claimed(self, keys: Iterable[str], at: Stamp) -> None:
        with self._lock:
            for key in keys:
                self._at[key] = at

    def confirmed(self, keys: Iterable[str], at: Stamp) -> None:
        """The store renewed these (only those still held count); a confirmation asked
        before the one already counted (on the first clock) changes nothing."""
        with self._lock:
            for key in keys:
                last = self._at.get(key)
                if last is not None and at[0] >= last[0]:
                    self._at[key] = at

    def done(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._at.pop(key, None)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._at)

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._at)

    def stale(self, key: str) -> bool:
        """Not confirmed within half a lease on any clock: ask the store before sending."""
        with self._lock:
            at = self._at.get(key)
        if at is None:
            return True
        return any(now - then > self._lease / 2 for now, then in zip(self.now(), at))
