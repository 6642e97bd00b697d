"""Helpers for the send_many tests: one test body for both clients, against FakeTextFlow.

``many`` is a :class:`Sender` around ``fake.client()`` or ``fake.async_client()``;
tests are ``async def`` and ``await many.send(recipients, ...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import textflow
from textflow.testing import FakeTextFlow

CREDITS = 1_000_000  # enough for every test that does not run out on purpose


def numbers(count: int, start: int = 0) -> list[str]:
    """``count`` distinct valid numbers."""
    return [f"+1202555{index:04d}" for index in range(start, start + count)]


class Sender:
    """One client under test, sync or async, over one fake account."""

    def __init__(self, kind: str, fake: FakeTextFlow) -> None:
        self.kind = kind
        self.fake = fake
        self.client: Any = fake.client() if kind == "sync" else fake.async_client()

    async def send(self, recipients: Any, text: Any = None, **options: Any) -> textflow.SendReport:
        if self.kind == "sync":
            report: textflow.SendReport = self.client.send_many(recipients, text, **options)
            return report
        areport: textflow.SendReport = await self.client.send_many(recipients, text, **options)
        return areport

    async def close(self) -> None:
        if self.kind == "sync":
            self.client.close()
        else:
            await self.client.aclose()


@pytest.fixture
def fake() -> FakeTextFlow:
    return FakeTextFlow(credits=CREDITS)


@pytest.fixture(params=["sync", "async"])
async def many(request: pytest.FixtureRequest, fake: FakeTextFlow) -> AsyncIterator[Sender]:
    sender = Sender(request.param, fake)
    yield sender
    await sender.close()
