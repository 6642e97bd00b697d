"""What the web inbox shows: every SMS delivered and every reply, with change events.

The fake records here as it delivers; the inbox page reads ``snapshot`` and
waits for changes with ``wait`` (behind its Server-Sent Events). Thread-safe.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Optional

from textflow._segments import segments
from textflow.testing._state import FakeMessage

EntryKind = Literal["sms", "code", "bulk", "reply"]
#: Change events kept for event streams that fall behind (older ones: "resync").
MAX_EVENTS = 1000


@dataclass(frozen=True)
class Entry:
    """One line of a conversation: an SMS sent to the phone, or the phone's reply.

    ``id`` is the sequence number of the event that added it: unique, increasing.
    """

    id: int
    phone_number: str
    text: str
    kind: EntryKind
    timestamp: int
    code: Optional[str] = None
    expires: Optional[int] = None
    status: Optional[int] = None  # a reply: the HTTP status the app answered
    error: Optional[str] = None  # a reply that got no answer: why
    price: Optional[Decimal] = None  # a message: what it was charged (None for a reply)


@dataclass
class InboxLog:
    """The entries, the codes verified, and a sequence of change events."""

    entries: list[Entry] = field(default_factory=list)
    used: set[int] = field(default_factory=set)
    seq: int = 0
    events: deque[tuple[int, dict[str, Any]]] = field(
        default_factory=lambda: deque(maxlen=MAX_EVENTS)
    )
    changed: threading.Condition = field(default_factory=threading.Condition)

    def add_message(
        self, message: FakeMessage, code: Optional[str] = None, expires: Optional[int] = None
    ) -> None:
        """Record a delivered SMS (with its code and expiry, for a verification code)."""
        with self.changed:
            entry = Entry(
                self.seq + 1,
                message.phone_number,
                message.text,
                message.kind,
                message.timestamp,
                code,
                expires,
                price=message.price,
            )
            self.entries.append(entry)
            self._event("message", entry_json(entry))

    def add_reply(
        self,
        phone_number: str,
        text: str,
        timestamp: int,
        status: Optional[int],
        error: Optional[str],
    ) -> None:
        """Record a reply the phone sent, and what the app answered."""
        with self.changed:
            entry = Entry(
                self.seq + 1,
                phone_number,
                text,
                "reply",
                timestamp,
                status=status,
                error=error,
            )
            self.entries.append(entry)
            self._event("reply", entry_json(entry))

    def mark_used(self, code: str, expires: int) -> None:
        """A code was verified: the entry that carried it is marked used."""
        with self.changed:
            for entry in reversed(self.entries):
                if entry.kind == "code" and entry.code == code and entry.expires == expires:
                    self.used.add(entry.id)
                    self._event("code-used", {"id": entry.id})
                    return

    def clear(self) -> None:
        """Forget every entry."""
        with self.changed:
            self.entries.clear()
            self.used.clear()
            self._event("clear", {})

    def touch(self) -> None:
        """Something the page shows changed (the balance)."""
        with self.changed:
            self._event("settings", {})

    def snapshot(self, now_ms: int) -> list[dict[str, Any]]:
        """Conversations, the most recently active first; each one's entries oldest first."""
        with self.changed:
            entries = list(self.entries)
            used = set(self.used)
        latest_code: dict[str, int] = {}
        for entry in entries:
            if entry.kind == "code":
                latest_code[entry.phone_number] = entry.id
        by_phone: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            item = entry_json(entry)
            if entry.kind == "code":
                item["code_state"] = _code_state(entry, entry.id in used, latest_code, now_ms)
            by_phone.setdefault(entry.phone_number, []).append(item)
        conversations = [
            {"phone_number": phone, "last": items[-1]["timestamp"], "entries": items}
            for phone, items in by_phone.items()
        ]
        conversations.sort(key=lambda c: (c["last"], c["entries"][-1]["id"]), reverse=True)
        return conversations

    def wait(self, after: int, timeout: float) -> list[tuple[int, dict[str, Any]]]:
        """The events after sequence number ``after``, waiting up to ``timeout`` for one."""
        with self.changed:
            self.changed.wait_for(lambda: self.seq > after, timeout)
            if self.events and self.events[0][0] > after + 1:
                return [(self.seq, {"type": "resync"})]  # fell behind: reload everything
            return [(seq, event) for seq, event in self.events if seq > after]

    def _event(self, kind: str, data: dict[str, Any]) -> None:
        self.seq += 1
        self.events.append((self.seq, {"type": kind, **data}))
        self.changed.notify_all()


def _code_state(entry: Entry, used: bool, latest: dict[str, int], now_ms: int) -> str:
    if used:
        return "used"
    if latest.get(entry.phone_number) != entry.id:
        return "replaced"
    if entry.expires is not None and now_ms >= entry.expires:
        return "expired"
    return "live"


def entry_json(entry: Entry) -> dict[str, Any]:
    """One entry as the inbox page reads it."""
    item: dict[str, Any] = {
        "id": entry.id,
        "phone_number": entry.phone_number,
        "text": entry.text,
        "kind": entry.kind,
        "timestamp": entry.timestamp,
        **length(entry.text),
    }
    if entry.kind == "code":
        item.update(code=entry.code, expires=entry.expires)
    if entry.kind == "reply":
        item.update(status=entry.status, error=entry.error)
    if entry.price is not None:
        item["price"] = float(entry.price)  # a JSON number: a few decimal places, exact
    return item


def length(text: str) -> dict[str, Any]:
    """How long an SMS is, for the page: characters, encoding and segments."""
    count = segments(text)
    return {"characters": count.characters, "encoding": count.encoding, "segments": count.segments}
