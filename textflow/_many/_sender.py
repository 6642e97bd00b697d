"""What ``send_many`` needs of a client: its ``send_sms``, and nothing else.

The drivers take any object with this method, so ``_many`` depends on this
protocol, not on the client classes; the clients import the drivers (on the
first ``send_many``), never the other way round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from textflow.models import SendMessageOk


class Sender(Protocol):
    """A client whose ``send_sms`` blocks: `textflow.TextFlowClient`."""

    def send_sms(self, phone_number: str, text: str) -> SendMessageOk:
        """Send one SMS; raise a `textflow.TextFlowError` when it was not sent."""


class AsyncSender(Protocol):
    """A client whose ``send_sms`` is awaited: `textflow.AsyncTextFlowClient`."""

    async def send_sms(self, phone_number: str, text: str) -> SendMessageOk:
        """Send one SMS; raise a `textflow.TextFlowError` when it was not sent."""
