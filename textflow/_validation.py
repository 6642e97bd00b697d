"""Checks on arguments, run before anything is sent.

Each check returns the value to put on the wire or raises
`textflow.errors.InputValidationError`. Messages never echo a
verification code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from textflow._redact import mask_phone
from textflow.errors import InputValidationError

MAX_SECONDS = 86_400  # the API's "one day"
_MAX_INT_CODE = 10**64  # no verification code has more digits

_PHONE_SEPARATORS = re.compile(r"[\s\-.()]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _type_error(argument: str, expected: str, value: object) -> InputValidationError:
    return InputValidationError(
        f"{argument} must be {expected}, not {type(value).__name__}.", argument=argument
    )


def _utf8(value: str, argument: str) -> str:
    """``value``, if it can be sent: lone surrogates (from undecodable bytes) cannot."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputValidationError(
            f"{argument} is not valid text: it holds a lone surrogate, as undecodable bytes "
            "become; decode the input with the right encoding.",
            argument=argument,
        ) from None
    return value


def _digit_problem(number: str) -> str:
    """Why ``number`` fails for its characters, when that is the reason; else ``""``.

    Names the kind of character, never the number (messages travel to logs).
    """
    if any("\uff10" <= c <= "\uff19" or c == "\uff0b" for c in number):
        return " It has full-width digits or '\uff0b' (as some keyboards type): type ASCII digits."
    if any(c.isdigit() and not c.isascii() for c in number):
        return " It has digits of another script: type ASCII digits 0-9."
    return ""


def phone_number(value: object, argument: str = "phone_number", *, echo: bool = False) -> str:
    """An E.164 number: ``+`` and 7 to 15 digits, the first not 0.

    Spaces, ``-``, ``.``, ``(`` and ``)`` are removed first, so
    ``"+1 (123) 456-7890"`` becomes ``"+11234567890"``. The message of a bad
    number shows it masked, unless ``echo`` (the command line shows users what
    they typed, on their own terminal); it names full-width digits as the problem.
    """
    if not isinstance(value, str):
        raise _type_error(argument, "a str like '+11234567890'", value)
    number = _PHONE_SEPARATORS.sub("", value)
    if not _E164.fullmatch(number):
        shown = repr(value) if echo else mask_phone(number) if number else "an empty string"
        raise InputValidationError(
            f"{argument} must be an international number in E.164 form: '+', the country "
            f"code and the number, 7 to 15 digits in all, like '+11234567890' (got {shown})."
            + _digit_problem(number),
            argument=argument,
        )
    return number


def text(value: object, argument: str = "text") -> str:
    """A non-empty message; sent as given (whitespace alone counts as empty)."""
    if not isinstance(value, str):
        raise _type_error(argument, "a str", value)
    if not value.strip():
        raise InputValidationError(f"{argument} must not be empty.", argument=argument)
    return _utf8(value, argument)


def service_name(value: object) -> str:
    """The name put in "Your verification code for <service_name> is: ...", may be empty."""
    if not isinstance(value, str):
        raise _type_error("service_name", "a str", value)
    return _utf8(value, "service_name")


def seconds(value: object) -> int:
    """How long a code stays valid: an int from 1 to 86400 (one day)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error("seconds", "an int", value)
    if not 1 <= value <= MAX_SECONDS:
        raise InputValidationError(
            f"seconds must be from 1 to {MAX_SECONDS} (one day); got {value}.",
            argument="seconds",
        )
    return value


def code(value: object) -> str:
    """The code the user typed: a str or an int, surrounding whitespace removed.

    An int is sent as its decimal digits, so it cannot carry a leading zero (``0451``
    typed by the user is ``451`` as an int): pass what the user typed as a str. A bool
    is not a code (``True`` is an int to Python), nor is a negative int.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _type_error("code", "a str (or an int)", value)
    if isinstance(value, int) and value < 0:
        raise InputValidationError(
            "code must be what the user typed: an int code cannot be negative.",
            argument="code",
        )
    if isinstance(value, int) and not -_MAX_INT_CODE < value < _MAX_INT_CODE:
        # str() of an int this long is refused by Python (over 4300 digits) or slow.
        raise InputValidationError(
            f"code is too long for a verification code (an int of {value.bit_length()} bits).",
            argument="code",
        )
    result = str(value).strip()
    if not result:
        raise InputValidationError("code must not be empty.", argument="code")
    return _utf8(result, "code")


def phone_numbers(value: object) -> list[str]:
    """A non-empty collection of numbers, each checked; duplicates are sent once."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise _type_error("phone_numbers", "a list of str (not a single str)", value)
    numbers: dict[str, None] = {}
    for index, item in enumerate(value):
        numbers[phone_number(item, f"phone_numbers[{index}]")] = None
    if not numbers:
        raise InputValidationError("phone_numbers must not be empty.", argument="phone_numbers")
    return list(numbers)
