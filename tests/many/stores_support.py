"""Real servers for the shared journals: a throwaway ``redis-server`` and PostgreSQL.

Each is started by the tests on a free 127.0.0.1 port in a temporary folder
and stopped after; a `tests.watchdog.Watchdog` stops it (and removes a
PostgreSQL's folder) should the test run be killed before it could. Without
the server (or its Python client) a test is skipped with how to install it;
with ``CI=true`` it fails (`tests.tools`).
PostgreSQL's ``initdb`` refuses to run as root: as root, the server's folder
belongs to the ``postgres`` user and its commands run through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Optional

import pytest

from tests.tools import missing, require_tool
from tests.watchdog import Watchdog

START_TIMEOUT = 60.0  # seconds a server may take to start; it normally takes one or two


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A ``redis-server`` without persistence that a test may kill and start again."""

    def __init__(self, workdir: str, *, persistent: bool = False) -> None:
        self.persistent = persistent
        try:
            import redis  # noqa: F401
        except ImportError:
            missing("the redis package", "pip install -e '.[redis]'")
        self.binary = require_tool("redis-server", "apt-get install redis-server")
        self.workdir = workdir
        self.port = free_port()
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.watchdog: Optional[Watchdog] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.persistent:  # every write on disk before its answer: survives kill -9
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        args += ["--dir", self.workdir]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.watchdog = Watchdog(self.process.pid)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while self.process.poll() is None and time.monotonic() < deadline:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        pytest.fail(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=START_TIMEOUT)
            self.process = None
        self._release()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=START_TIMEOUT)
            self.process = None
        self._release()

    def _release(self) -> None:
        if self.watchdog is not None:
            self.watchdog.release()
            self.watchdog = None


def postgres_tools() -> tuple[str, str]:
    """``initdb`` and ``pg_ctl`` (Debian keeps them out of PATH), and psycopg; else skip."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg", "pip install -e '.[postgres]'")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    path = os.pathsep.join([*reversed(found), os.environ.get("PATH", "")])
    initdb = require_tool("initdb", "apt-get install postgresql", path=path)
    return initdb, require_tool("pg_ctl", "apt-get install postgresql", path=path)


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder (trust auth on 127.0.0.1, no fsync)."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = postgres_tools()
        self.as_root = os.geteuid() == 0
        self.folder = tempfile.mkdtemp(prefix="textflow-pg-")
        self.data = os.path.join(self.folder, "data")
        if self.as_root:
            shutil.chown(self.folder, user="postgres")
        self.port = free_port()
        self.watchdog: Optional[Watchdog] = None
        self._run([self.initdb, "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync"])

    def _run(self, args: list[str]) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        subprocess.run(
            prefix + args, check=True, capture_output=True, timeout=START_TIMEOUT, cwd=self.folder
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.folder} -c fsync=off"
        options += " -c synchronous_commit=off -c full_page_writes=off"
        log = os.path.join(self.folder, "log")
        self._run([self.pg_ctl, "-D", self.data, "-o", options, "-l", log, "-w", "start"])
        # pg_ctl leaves the postmaster on its own: the watchdog stops it (immediate
        # shutdown) and removes the folder if this process dies first
        self._release()
        self.watchdog = Watchdog(self.postmaster(), signum=signal.SIGQUIT, remove=[self.folder])

    def postmaster(self) -> int:
        """The running server's process (the first line of its ``postmaster.pid``)."""
        with open(os.path.join(self.data, "postmaster.pid"), encoding="ascii") as pid_file:
            return int(pid_file.readline())

    def kill(self) -> None:
        self._run([self.pg_ctl, "-D", self.data, "-m", "immediate", "stop"])
        self._release()

    def stop(self) -> None:
        self._run([self.pg_ctl, "-D", self.data, "-m", "fast", "stop"])
        self._release()

    def _release(self) -> None:
        if self.watchdog is not None:
            self.watchdog.release()
            self.watchdog = None

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def journal_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One ``redis-server`` for the session's journal tests (each uses its own campaign)."""
    server = RedisServer(str(tmp_path_factory.mktemp("redis-journal")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def journal_postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL for the session's journal tests (each uses its own campaign)."""
    server = PostgresServer()
    try:
        server.start()
        yield server
        server.stop()
    finally:
        server.remove()


def campaign() -> str:
    """A fresh campaign name, so tests sharing a server never see each other's recipients."""
    return f"test-{uuid.uuid4().hex[:12]}"
