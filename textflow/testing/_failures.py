"""The fake's failures: scripted ones (``fail_next``) and random ones (``fail_rate``).

``scripted_fault`` checks ``fail_next``'s arguments and builds its `Fault`.

``FailurePlan(rate, seed)`` decides, send by send, whether a send fails. It is
exact, not merely likely: of every 1,000 sends, ``round(rate * 1000)`` fail, at
positions drawn from ``random.Random(seed)``, so the same seed gives the same
failures in the same places, run after run. Each failure is an HTTP 500 or a
connection dropped after the request was read, half and half (also drawn from
the seed). Only the operations that send SMS (``Operation.sends_sms``: send_sms,
send_verification_sms, send_bulk_sms) are affected; a failed send is not processed.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Mapping
from typing import Any, Optional, Union

from textflow.testing._state import Fault, header_pairs

#: Sends per block: in each, exactly ``round(rate * BLOCK)`` fail.
BLOCK = 1000


class FailurePlan:
    """Which sends fail. Thread-safe.

    Args:
        rate: The share of sends that fail, from 0 to 1.
        seed: Seeds the positions and kinds of the failures; None draws a seed
            (see ``seed``) so that a run can still be repeated.

    Raises:
        ValueError: ``rate`` outside 0..1, or ``seed`` not an int.
    """

    def __init__(self, rate: float, seed: Optional[int] = None) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"fail_rate must be a number from 0 to 1, not {rate!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an int, not {seed!r}.")
        self.rate = float(rate)
        self.seed = random.SystemRandom().randrange(2**32) if seed is None else seed
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._failing: frozenset[int] = frozenset()
        self._position = BLOCK  # start a block at the first send

    def next_send(self) -> Optional[Fault]:
        """The fault for the next send, or None for a send that goes through."""
        with self._lock:
            if self._position == BLOCK:
                count = round(self.rate * BLOCK)
                self._failing = frozenset(self._random.sample(range(BLOCK), count))
                self._position = 0
            failing = self._position in self._failing
            self._position += 1
            if not failing:
                return None
            return Fault(disconnect=True) if self._random.random() < 0.5 else Fault(status=500)


def scripted_fault(
    status: Optional[int],
    body: Union[Mapping[str, Any], str, bytes, None],
    headers: Optional[Mapping[str, str]],
    disconnect: bool,
    delay: Optional[float],
) -> Fault:
    """The `Fault` ``FakeTextFlow.fail_next`` scripts with these arguments (see there).

    Raises:
        ValueError: Arguments out of range or that contradict each other.
    """
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
    ):
        raise ValueError(f"status must be an HTTP status code from 100 to 599, not {status!r}.")
    if disconnect and (status is not None or body is not None or headers):
        raise ValueError("disconnect=True sends no answer: do not give status, body or headers.")
    if delay is not None and (isinstance(delay, bool) or not delay >= 0):
        raise ValueError(f"delay must be a number of seconds >= 0, not {delay!r}.")
    if headers and status is None and body is None:
        status = 500
    fault = Fault(
        status=status,
        body=_body_bytes(body),
        headers=header_pairs(headers),
        disconnect=disconnect,
        delay=float(delay or 0.0),
    )
    if not (fault.disconnect or fault.delay or fault.status or fault.body is not None):
        fault = Fault(status=500)  # fail_next("op") alone: a plain server error
    return fault


def _body_bytes(body: Union[Mapping[str, Any], str, bytes, None]) -> Optional[bytes]:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(dict(body), separators=(",", ":")).encode()
