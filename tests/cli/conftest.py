"""Fixtures for the ``textflow`` command's tests.

* ``cli``: run ``main(argv)`` in process, returning the exit status and what it printed;
* ``run``: run ``python -m textflow ...`` as a subprocess (bounded timeout);
* ``spawn``: start a long-running ``python -m textflow ...`` (killed at teardown);
* ``server``: a ``FakeTextFlow`` served over HTTP on 127.0.0.1 (a free port);
* ``closed_url``: a base URL on 127.0.0.1 where nothing listens.

The root conftest cleans the environment of ``TEXTFLOW_*`` variables for every test, so
a developer's real key or base URL can never be used. This folder keeps a conftest of
its own because its ``server`` is not the core tests' ``server``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Callable, Optional

import pytest

from textflow._cli import main
from textflow.testing import FakeTextFlow

from tests.cli.cli_support import KEY, TIMEOUT, Result, Running, Server, clean_env


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``cli("send", PHONE, "hi")`` runs ``main`` in process."""

    def run(*argv: str) -> Result:
        status = main(list(argv))
        captured = capsys.readouterr()
        return Result(status, captured.out, captured.err)

    return run


@pytest.fixture
def run() -> Callable[..., Result]:
    """``run("send", PHONE, "hi", env={...}, stdin="...")`` runs ``python -m textflow``."""

    def run_(*argv: str, env: Optional[Mapping[str, str]] = None, stdin: str = "") -> Result:
        done = subprocess.run(
            [sys.executable, "-m", "textflow", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=clean_env(env),
            timeout=TIMEOUT,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run_


@pytest.fixture
def server() -> Iterator[Server]:
    fake = FakeTextFlow(KEY)
    with fake.serve("127.0.0.1", 0) as base_url:
        yield Server(fake, base_url)


@pytest.fixture
def closed_url() -> str:
    """A loopback URL whose port was free a moment ago: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


@pytest.fixture
def spawn() -> Iterator[Callable[..., Running]]:
    """``spawn("sandbox", "--port", "0")``: start the command; killed at teardown if left."""
    started: list[Running] = []

    def spawn_(*argv: str, env: Optional[Mapping[str, str]] = None) -> Running:
        running = Running(*argv, env=env)
        started.append(running)
        return running

    yield spawn_
    for running in started:
        running.stop()
