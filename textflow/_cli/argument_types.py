"""The command line's value types: each turns an argument's text into a value or refuses it.

Each raises ``argparse.ArgumentTypeError`` for text it cannot take; argparse
turns that into a usage error naming the option.
"""

from __future__ import annotations

import argparse
from decimal import Decimal


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {value!r}")
    return number


def port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535 (0: any free port): {number}")
    return number


def rate(value: str) -> float:
    """``5``, ``5/s``, ``300/min``, ``1/m``: sends per second.

    Raises:
        argparse.ArgumentTypeError: Anything else.
    """
    number, _, unit = value.strip().partition("/")
    seconds = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}.get(
        unit.strip().lower()
    )
    try:
        count = float(number)
    except ValueError:
        count = float("nan")
    if seconds is None or not (count > 0 and count != float("inf")):
        raise argparse.ArgumentTypeError(f"not a rate like 5/s or 300/min: {value!r}")
    return count / seconds


def credits(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"not a number of credits: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise argparse.ArgumentTypeError(f"must be a number of credits >= 0: {value!r}")
    return amount


def share(value: str) -> float:
    try:
        fraction = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 <= fraction <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1 (0.1: one send in ten): {value!r}")
    return fraction


_DURATION_UNITS = {"ms": 0.001, "s": 1.0}


def duration(value: str) -> float:
    """``"50ms"``, ``"0.2s"`` or ``"0"`` as seconds; a unit is required for anything but 0.

    Args:
        value: The command line's text.

    Returns:
        Seconds, at least 0.

    Raises:
        argparse.ArgumentTypeError: No unit, not a number, or out of range.
    """
    text = value.strip().lower()
    unit = "ms" if text.endswith("ms") else "s" if text.endswith("s") else ""
    try:
        number = float(text[: len(text) - len(unit)]) if unit or text == "0" else None
    except ValueError:
        number = None
    if number is None:
        raise argparse.ArgumentTypeError(f"not a duration such as 50ms or 0.5s: {value!r}")
    seconds = number * _DURATION_UNITS.get(unit, 1.0)
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a duration >= 0: {value!r}")
    return seconds
