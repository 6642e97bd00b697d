"""Servers the tests start die with the test run, however it ends.

A test stops its ``redis-server`` or PostgreSQL in a ``finally``; a run killed
with SIGKILL (a CI timeout, ``kill -9``) runs no ``finally``, and the server
stayed up for good. `Watchdog` starts a small process of its own session
(``python tests/watchdog.py PID SIGNAL [FOLDER...]``) that holds the read end of a
pipe whose write end only the test process holds: when that process is gone, for
whatever reason, the read ends (EOF) and the watchdog signals the server, waits
until it is gone, and removes its folders. A test that stops its server as usual
`Watchdog.release`s it first: one byte down the pipe, and the watchdog leaves
without acting. No polling of the parent, no wall-clock guess.

Only the standard library here: the watchdog runs this file as a script.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Optional

GONE_TIMEOUT = 60.0  # seconds a signalled server may take to exit; it normally takes less than 1


def gone(pid: int) -> bool:
    """Whether the process has exited (a zombie nobody reaps counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


class Watchdog:
    """Signals ``pid`` (and removes ``remove``) when this process is gone, unless released.

    Args:
        pid: The server's process.
        signum: What it gets: SIGKILL for redis-server; SIGQUIT (immediate shutdown)
            for PostgreSQL's postmaster.
        remove: Folders to remove once the server has exited.
    """

    def __init__(
        self, pid: int, *, signum: int = signal.SIGKILL, remove: Sequence[str] = ()
    ) -> None:
        read, write = os.pipe()  # neither end is inherited by other children (PEP 446)
        self._write: Optional[int] = write
        try:
            self.process = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), str(pid), str(int(signum)), *remove],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C to the test run's group does not reach it
            )
        except BaseException:
            os.close(write)
            raise
        finally:
            os.close(read)

    def release(self) -> None:
        """The server is stopped as usual: the watchdog leaves without acting."""
        if self._write is None:
            return
        try:
            os.write(self._write, b"x")
        except BrokenPipeError:  # it is gone already
            pass
        finally:
            os.close(self._write)
            self._write = None
        self.process.wait(timeout=GONE_TIMEOUT)


def main(argv: Sequence[str]) -> None:
    """The watchdog: wait for the test process to release it or to be gone."""
    pid, signum, folders = int(argv[0]), int(argv[1]), argv[2:]
    if os.read(0, 1):  # released: the test stopped its server itself
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
    deadline = time.monotonic() + GONE_TIMEOUT
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
