"""The deadline of the sync call in progress, which every connect, read and write keeps to.

Set by ``TextFlowClient`` for the length of a call and read by the network
streams of ``textflow._http.streams``. The async client cuts its calls with a cancel
scope instead, but under trio a call that only the SDK's own connection carries: that
one sets it too, and the trio streams (``trio_stream``, ``trio_tls``) and the gate's
wait keep it. Kept apart so that importing the SDK does not import httpcore.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Optional

#: The ``time.monotonic()`` by which the call in progress must end, or ``None``.
DEADLINE: ContextVar[Optional[float]] = ContextVar("textflow_deadline", default=None)

DEADLINE_PASSED = "the call's overall deadline passed"

#: A request extension: the ``time.monotonic()`` by which the client's call ends, set by
#: the retry loop (``Attempts.arm``). The async client's call runs in a cancel scope that
#: ends then, so the async transport needs no timer of its own for a wait that the pool
#: timeout would end no sooner.
CALL_DEADLINE = "textflow.call_deadline"

#: A request extension set with it: how long a request may wait at the async transport's
#: gate (``textflow._http.gate``), the pool timeout, or ``None`` when the call's deadline
#: ends the wait no later (its cancel scope ends it then, as "not sent"). Worked out once
#: per attempt by the retry loop, not by each queued request.
QUEUE_TIMEOUT = "textflow.queue_timeout"


def clamp(timeout: Optional[float], expired: type[Exception]) -> tuple[Optional[float], bool]:
    """``timeout`` cut to what is left of the call's deadline, and whether it was cut.

    Raises ``expired`` once the deadline has passed.
    """
    deadline = DEADLINE.get()
    if deadline is None:
        return timeout, False
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired(DEADLINE_PASSED)
    if timeout is None or left < timeout:
        return left, True
    return timeout, False
