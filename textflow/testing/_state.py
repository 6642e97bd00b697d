"""What the fake remembers: balance, delivered messages, live codes and scripted faults.

Every read and write goes through ``FakeState.lock``, so one fake can serve many
threads (the HTTP server runs one per connection) and event loops at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Literal, Optional

MessageKind = Literal["sms", "code", "bulk"]


@dataclass(frozen=True)
class FakeMessage:
    """One SMS the fake "delivered".

    Attributes:
        phone_number: The recipient, normalised (``+`` and digits).
        text: The SMS text; for a verification code, the full ``message_text``.
        kind: ``"sms"`` (send_sms), ``"code"`` (send_verification_sms) or
            ``"bulk"`` (one per recipient of send_bulk_sms).
        timestamp: When it was sent, in milliseconds since the epoch (fake's clock).
        encoding: ``"GSM-7"`` or ``"UCS-2"`` (`textflow._segments`).
        segments: The SMS parts it took (a 260-character GSM-7 text is 2).
        price: What it was charged: ``segments`` x ``PRICE_PER_SEGMENT``.

    Examples:
        >>> fake = FakeTextFlow()
        >>> fake.client().send_sms("+1 123 456 7890", "Hi").ok
        True
        >>> fake.messages[-1]
        FakeMessage(phone_number='+11234567890', text='Hi', kind='sms', timestamp=...)
    """

    phone_number: str
    text: str
    kind: MessageKind
    timestamp: int
    encoding: str = "GSM-7"
    segments: int = 1
    price: Decimal = Decimal("0.15")


EventKind = Literal["reply", "failure"]


@dataclass(frozen=True)
class FakeEvent:
    """Something the sandbox console shows besides a message: a reply, or an injected failure.

    Attributes:
        kind: ``"reply"`` (the phone answered: ``FakeTextFlow.reply``) or
            ``"failure"`` (``fail_rate`` failed a send).
        phone_number: Who replied, or the number the failed send was for ("" if unreadable).
        detail: What the app answered the reply (``"HTTP 200"``, or why it got no
            answer), or how the send failed (``"HTTP 500"``, ``"connection dropped"``).
        timestamp: When, in milliseconds since the epoch (fake's clock).
        text: The reply's text; "" for a failure.
    """

    kind: EventKind
    phone_number: str
    detail: str
    timestamp: int
    text: str = ""


@dataclass(frozen=True)
class Fault:
    """A scripted answer for the next request of one operation."""

    status: Optional[int] = None
    body: Optional[bytes] = None
    headers: tuple[tuple[str, str], ...] = ()
    disconnect: bool = False
    delay: float = 0.0


@dataclass
class Code:
    """A verification code waiting to be verified."""

    code: str
    expires: int  # ms since the epoch


@dataclass
class FakeState:
    """The fake's account. Hold ``lock`` for every access."""

    api_key: str
    initial_credits: Decimal
    clock: Callable[[], float]
    credits: Decimal = Decimal(0)
    messages: list[FakeMessage] = field(default_factory=list)
    codes: dict[str, Code] = field(default_factory=dict)
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.credits = self.initial_credits

    def __repr__(self) -> str:  # never show the key
        return f"FakeState(credits={self.credits!r}, messages={len(self.messages)})"

    def now_ms(self) -> int:
        """The fake's clock, in milliseconds since the epoch."""
        return int(self.clock() * 1000)

    def reset(self) -> None:
        """Back to a fresh account with the initial credits. Caller holds the lock."""
        self.credits = self.initial_credits
        self.messages.clear()
        self.codes.clear()
        self.faults.clear()

    def push_fault(self, operation: str, fault: Fault) -> None:
        """Queue ``fault`` for ``operation``. Caller holds the lock."""
        self.faults.setdefault(operation, deque()).append(fault)

    def pop_fault(self, operation: str) -> Optional[Fault]:
        """The next scripted fault for ``operation``, if any. Caller holds the lock."""
        queue = self.faults.get(operation)
        return queue.popleft() if queue else None


def header_pairs(headers: Optional[Mapping[str, str]]) -> tuple[tuple[str, str], ...]:
    """``headers`` as a tuple of pairs (hashable, ordered)."""
    return tuple((str(k), str(v)) for k, v in (headers or {}).items())
