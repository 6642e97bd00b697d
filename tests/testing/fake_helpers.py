"""Helpers shared by the fake's tests (a module name that no other test folder uses)."""

from __future__ import annotations

START = 1_700_000_000.0  # the fake clock's start, seconds since the epoch


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def auth(key: str = "tf_test_key") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
