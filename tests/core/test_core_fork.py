"""Clients survive os.fork(): parent and child each get their own answers, no error.

The fake TextFlow runs in a subprocess, so that the test process has no thread of its
own when it forks. Each side sends texts of its own and checks that every answer
echoes its own text: with a shared pooled socket, answers cross between processes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Callable

import pytest

import textflow
from textflow.testing import DEFAULT_API_KEY

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() exists only on POSIX"),
    pytest.mark.filterwarnings(
        "ignore:.*use of fork\\(\\) may lead to deadlocks:DeprecationWarning"
    ),
]

PHONE = "+11234567890"
ROUNDS = 30
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
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


def own_answers(send: Callable[[str], str], who: str) -> bool:
    """Whether each of ``ROUNDS`` sends came back with its own text."""
    return all(send(f"{who} {i}") == f"{who} {i}" for i in range(ROUNDS))


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


def exit_code(pid: int, limit: float = 60.0) -> int:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return (
                os.waitstatus_to_exitcode(status)
                if hasattr(os, "waitstatus_to_exitcode")
                else status >> 8
            )
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return -9


def _content(result: textflow.SendMessageResult) -> str:
    assert result.data is not None
    return result.data.content


def test_a_sync_client_used_before_fork_works_in_parent_and_child(fake_url: str) -> None:
    with textflow.TextFlowClient(DEFAULT_API_KEY, base_url=fake_url) as client:
        assert client.send_sms(PHONE, "before").ok  # a pooled connection is open now

        def send(text: str) -> str:
            return _content(client.send_sms(PHONE, text))

        def child() -> bool:
            ok = own_answers(send, "child")
            client.close()  # closes the child's own connections only
            return ok

        pid = in_child(child)
        assert own_answers(send, "parent")
        assert exit_code(pid) == 0
        assert send("after the child closed its client") == "after the child closed its client"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_an_async_client_used_before_fork_works_in_parent_and_child(
    fake_url: str, anyio_backend: str
) -> None:
    client = textflow.AsyncTextFlowClient(DEFAULT_API_KEY, base_url=fake_url)
    try:
        assert (await client.send_sms(PHONE, "before")).ok

        def child() -> bool:
            # The parent's event loop does not run in the child: a new one, in a new thread.
            outcome: list[bool] = []

            async def work() -> None:
                texts = [f"child {i}" for i in range(ROUNDS)]
                answers = [_content(await client.send_sms(PHONE, t)) for t in texts]
                outcome.append(answers == texts)

            thread = threading.Thread(target=lambda: asyncio.run(work()))
            thread.start()
            thread.join(30)
            return outcome == [True]

        pid = in_child(child)
        texts = [f"parent {i}" for i in range(ROUNDS)]
        assert [_content(await client.send_sms(PHONE, t)) for t in texts] == texts
        assert exit_code(pid) == 0
    finally:
        await client.aclose()


def test_the_legacy_functions_work_in_parent_and_child_after_fork(
    fake_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import textflowsms as tf

    monkeypatch.setenv("TEXTFLOW_BASE_URL", fake_url)
    tf.useKey(DEFAULT_API_KEY)
    try:
        assert tf.sendSMS(PHONE, "before").ok

        def send(text: str) -> str:
            return _content(tf.sendSMS(PHONE, text))

        pid = in_child(lambda: own_answers(send, "child"))
        assert own_answers(send, "parent")
        assert exit_code(pid) == 0
    finally:
        tf.useKey(None)
