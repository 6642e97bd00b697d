"""A prefork server's worker (forked after the parent used ``get_client()``) does not share
the parent's connections: each side's answers are its own.

The fake TextFlow runs in a subprocess, so the test process has no thread of its own when
it forks. Each side sends texts of its own and checks that every answer echoes its text:
with a shared pooled socket, answers would cross between the processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Callable

import pytest
from django.test import override_settings

from textflow.contrib.django import get_client, reset
from textflow.testing import DEFAULT_API_KEY

from tests.django.django_support import PHONE

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() exists only on POSIX"),
    pytest.mark.filterwarnings(
        "ignore:.*use of fork\\(\\) may lead to deadlocks:DeprecationWarning"
    ),
]

ROUNDS = 20
SERVE = (
    "import sys\n"
    "from textflow.testing import FakeTextFlow\n"
    "with FakeTextFlow(credits=1_000_000).serve() as url:\n"
    "    print(url, flush=True)\n"
    "    sys.stdin.read()\n"
)


@pytest.fixture
def fake_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(60)  # a hang guard: it ends as soon as its stdin closes
        assert process.stdout is not None
        process.stdout.close()


def own_answers(who: str) -> bool:
    """Whether each of ``ROUNDS`` sends through ``get_client()`` came back with its own text."""
    for i in range(ROUNDS):
        result = get_client().send_sms(PHONE, f"{who} {i}")
        if result.data.content != f"{who} {i}":
            return False
    return True


def in_child(work: Callable[[], bool]) -> int:
    """Fork; the child runs ``work`` and exits 0 if it returned True. Returns the child's pid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 3
        try:
            code = 0 if work() else 1
        except BaseException:
            code = 2
        finally:
            os._exit(code)
    return pid


def exit_code(pid: int) -> int:
    deadline = time.monotonic() + 120  # a hang guard, 20x what the child needs
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status >> 8
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return -9


def test_a_forked_worker_uses_connections_of_its_own(fake_url: str) -> None:
    with override_settings(TEXTFLOW={"API_KEY": DEFAULT_API_KEY, "BASE_URL": fake_url}):
        try:
            parent_client = get_client()
            assert own_answers("before")  # a pooled connection is open now

            def child() -> bool:
                # One client per process: the worker's is the object it inherited,
                # whose transport opens the worker's own connections.
                return get_client() is parent_client and own_answers("child")

            pid = in_child(child)
            assert own_answers("parent")
            assert exit_code(pid) == 0
            assert own_answers("after")
        finally:
            reset()
