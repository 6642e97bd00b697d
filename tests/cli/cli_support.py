"""Helpers for the ``textflow`` command's tests (a module of its own: tests import helpers
from here, ``conftest`` holds only fixtures)."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Optional

import pytest

from textflow.testing import FakeTextFlow

TIMEOUT = 10.0  # seconds any one subprocess may take
KEY = "tf_cli_test_key"
PHONE = "+11234567890"


def clean_env(extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """``os.environ`` without ``TEXTFLOW_*`` variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTFLOW_")}
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


@dataclass
class Result:
    """What one run of the command did."""

    status: int
    out: str
    err: str

    def json(self) -> object:
        lines = self.out.strip().splitlines()
        assert len(lines) == 1, self.out
        return json.loads(lines[0])


@dataclass
class Server:
    """A fake served over HTTP."""

    fake: FakeTextFlow
    base_url: str

    @property
    def options(self) -> list[str]:
        """Global options pointing the command at this server."""
        return ["--base-url", self.base_url, "--api-key", self.fake.api_key]

    @property
    def env(self) -> dict[str, str]:
        """The same as environment variables."""
        return {"TEXTFLOW_BASE_URL": self.base_url, "TEXTFLOW_API_KEY": self.fake.api_key}


class Running:
    """A long-running ``python -m textflow`` subprocess whose stdout lines we wait for."""

    def __init__(self, *argv: str, env: Optional[Mapping[str, str]] = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "textflow", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=clean_env(env),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,))
        self._reader.daemon = True
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def expect(self, pattern: str, timeout: float = 5.0) -> re.Match[str]:
        """Wait for a stdout line matching ``pattern`` (a regex); fail after ``timeout``."""
        regex = re.compile(pattern)
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                pytest.fail(f"no line matching {pattern!r} within {timeout} s; saw {self.seen}")
            self.seen.append(line)
            match = regex.search(line)
            if match:
                return match

    def wait(self, timeout: float = 5.0) -> tuple[int, list[str], str]:
        """Wait for it to exit: its status, the stdout lines not yet read, and its stderr."""
        status = self.process.wait(timeout=timeout)
        self._reader.join(timeout)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get_nowait())
        assert self.process.stderr is not None
        return status, rest, self.process.stderr.read()

    def stop(self) -> None:
        """Kill it if still running and close its pipes (cleanup)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=TIMEOUT)
        self._reader.join(TIMEOUT)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
