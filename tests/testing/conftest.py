"""Fixtures for the fake's tests: a controllable clock, the fake, its server, raw httpx clients.

``wire`` is a raw ``httpx.Client`` (no SDK) whose base URL is the fake's ``/api``:
once over a real loopback socket to the HTTP server, once in process through the
MockTransport, so every wire test proves both paths answer the same.

This folder keeps a conftest of its own because its ``fake`` and ``server`` are not
send_many's and the core tests' fixtures of those names.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from textflow.testing import FakeTextFlow
from textflow.testing._server import FakeHTTPServer

from tests.testing.fake_helpers import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeTextFlow:
    return FakeTextFlow(clock=clock)


@pytest.fixture
def server(fake: FakeTextFlow) -> Iterator[FakeHTTPServer]:
    server = FakeHTTPServer("127.0.0.1", 0, fake._handle)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["http", "in_process"])
def wire(request: pytest.FixtureRequest, fake: FakeTextFlow) -> Iterator[httpx.Client]:
    """A raw httpx client to the fake: over loopback HTTP, or in process."""
    if request.param == "http":
        with fake.serve() as base_url, httpx.Client(base_url=base_url, timeout=5) as client:
            yield client
    else:
        transport = fake.transport()
        with httpx.Client(base_url="https://textflow.invalid/api", transport=transport) as client:
            yield client
