"""The servers tests start die with the test run, even one killed with SIGKILL.

A pytest-like parent (a subprocess) starts a ``redis-server`` or a PostgreSQL
with the tests' own helpers, says their process ids, then waits; the test kills
it with SIGKILL, so none of its ``finally`` blocks run. The server must be gone
(and PostgreSQL's folder removed) all the same: one stayed up 25 minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.many.stores_support import RedisServer, postgres_tools
from tests.watchdog import GONE_TIMEOUT, Watchdog, gone

ROOT = Path(__file__).resolve().parent.parent
HANG = 120.0  # a guard against a hang: 20x what starting a server takes on a slow machine

PARENT = """
import json, sys, tempfile

from tests.many.stores_support import PostgresServer, RedisServer

if sys.argv[1] == "redis":
    server = RedisServer(tempfile.mkdtemp())
    server.start()
    print(json.dumps({"pid": server.process.pid}), flush=True)
else:
    server = PostgresServer()
    server.start()
    print(json.dumps({"pid": server.postmaster(), "folder": server.folder}), flush=True)
sys.stdin.read()  # until killed
"""


def _wait_until_gone(pid: int) -> None:
    deadline = time.monotonic() + HANG
    while not gone(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)  # leave nothing behind, then fail
            pytest.fail(f"the server {pid} outlived its killed parent")
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_a_server_dies_with_its_killed_parent(kind: str) -> None:
    # the tools it needs, asked here: missing, this test skips (fails under CI=true)
    if kind == "redis":
        RedisServer(str(ROOT))  # checks the tool and the package; starts nothing
    else:
        postgres_tools()
    with subprocess.Popen(
        [sys.executable, "-c", PARENT, kind],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as parent:
        try:
            assert parent.stdout is not None
            line = parent.stdout.readline()  # the server is up
            assert line, f"the parent could not start {kind} (exit {parent.wait(HANG)})"
            started = json.loads(line)
            assert not gone(started["pid"])
            parent.kill()  # SIGKILL: no finally, no fixture teardown runs in it
            parent.wait(HANG)
            _wait_until_gone(started["pid"])
            if "folder" in started:
                deadline = time.monotonic() + GONE_TIMEOUT
                while os.path.exists(started["folder"]) and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert not os.path.exists(started["folder"])
        finally:
            parent.kill()


def test_a_released_watchdog_leaves_the_process_alone() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        watchdog = Watchdog(sleeper.pid)
        watchdog.release()  # the test stopped its server itself
        assert watchdog.process.returncode == 0
        assert sleeper.poll() is None  # not signalled
    finally:
        sleeper.kill()
        sleeper.wait()
