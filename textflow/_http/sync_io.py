"""Where the HTTP layer's sync twins differ from the async ones they are generated from.

The generated ``sync_connection.py`` and ``sync_shard.py`` import these names from here
(their async sources import them from ``textflow._http.async_io``).
"""

from __future__ import annotations

from contextlib import nullcontext

from textflow._http import net
from textflow._http.deadline import clamp
from textflow._http.sent import Point, reached


def reached_writing(point: Point) -> None:
    """Reports ``point`` (the request's first byte goes out), unless the call's deadline
    has passed: then ``net.ConnectTimeout`` first, as the request was never sent."""
    clamp(None, net.ConnectTimeout)
    reached(point)


def shielded() -> nullcontext[None]:
    """Nothing to shield: a sync close is not cancelled."""
    return nullcontext()
