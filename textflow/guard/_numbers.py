"""A number's calling code and prefix: the groups the pumping rules count by.

Calling codes are 1 to 3 digits and no code is the start of another (ITU-T
E.164), so the code is read from the first digits with the table of the 1- and
2-digit codes; every other code has 3 digits.
"""

from __future__ import annotations

_ONE_DIGIT = frozenset({"1", "7"})
_TWO_DIGITS = frozenset(
    {
        "20",
        "27",
        "30",
        "31",
        "32",
        "33",
        "34",
        "36",
        "39",
        "40",
        "41",
        "43",
        "44",
        "45",
        "46",
        "47",
        "48",
        "49",
        "51",
        "52",
        "53",
        "54",
        "55",
        "56",
        "57",
        "58",
        "60",
        "61",
        "62",
        "63",
        "64",
        "65",
        "66",
        "81",
        "82",
        "84",
        "86",
        "90",
        "91",
        "92",
        "93",
        "94",
        "95",
        "98",
    }
)


def calling_code(number: str) -> str:
    """The calling code of an E.164 ``number``, digits only: ``"+447700900123"`` gives ``"44"``."""
    digits = number.lstrip("+")
    if digits[:1] in _ONE_DIGIT:
        return digits[:1]
    if digits[:2] in _TWO_DIGITS:
        return digits[:2]
    return digits[:3]


def prefix(number: str, hide_digits: int) -> str:
    """``number`` without its last ``hide_digits`` digits (never shorter than its calling code)."""
    keep = max(len(number) - hide_digits, len(calling_code(number)) + 1)
    return number[:keep]
