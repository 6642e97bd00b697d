"""pytest fixtures for testing code that uses TextFlow, with no setup and no real SMS.

Registered through the ``pytest11`` entry point, so installing the SDK is enough.
Without the entry point: ``pytest -p textflow.testing.pytest_plugin``.

Example::

    def test_sign_up_sends_a_code(textflow_fake, textflow_client):
        sign_up(textflow_client, "+11234567890")      # your code
        assert textflow_fake.has_code("+11234567890")
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from textflow.testing._fake import FakeTextFlow

if TYPE_CHECKING:
    from textflow import AsyncTextFlowClient, TextFlowClient

__all__ = ["async_textflow_client", "textflow_client", "textflow_fake"]


@pytest.fixture
def textflow_fake() -> FakeTextFlow:
    """A fresh ``FakeTextFlow`` for each test.

    Examples:
        >>> def test_balance_goes_down(textflow_fake, textflow_client):
        ...     textflow_client.send_sms("+11234567890", "Hi")
        ...     assert textflow_fake.balance == 100 - PRICE_PER_SMS
    """
    return FakeTextFlow()


@pytest.fixture
def textflow_client(textflow_fake: FakeTextFlow) -> Iterator[TextFlowClient]:
    """A ``TextFlowClient`` wired in process to ``textflow_fake``; closed after the test.

    Examples:
        >>> def test_send(textflow_fake, textflow_client):
        ...     assert textflow_client.send_sms("+11234567890", "Hi").ok
        ...     assert textflow_fake.messages[0].text == "Hi"
    """
    with textflow_fake.client() as client:
        yield client


@pytest.fixture
def async_textflow_client(textflow_fake: FakeTextFlow) -> Iterator[AsyncTextFlowClient]:
    """An ``AsyncTextFlowClient`` wired in process to ``textflow_fake``; closed after the test.

    A plain (sync) fixture, so it works the same under pytest-asyncio (strict or
    auto mode) and anyio's pytest plugin (asyncio or trio): the client needs no
    event loop to be made, and, holding no sockets, none to be closed.

    Examples:
        >>> @pytest.mark.anyio
        ... async def test_send(textflow_fake, async_textflow_client):
        ...     assert (await async_textflow_client.send_sms("+11234567890", "Hi")).ok
    """
    client = textflow_fake.async_client()
    try:
        yield client
    finally:
        _run_without_loop(client.aclose())


def _run_without_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never suspends (closing an in-process client) to its end."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()  # it wanted an event loop: nothing it holds needs one to be released
