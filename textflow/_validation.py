"""Checks on arguments, run before anything is sent.

Each check returns the value to put on the wire or raises
`textflow.errors.InputValidationError`. Messages never echo a
verification code.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping

from textflow._redact import mask_phone
from textflow.errors import InputValidationError

MAX_SECONDS = 86_400  # the API's "one day"
_MAX_INT_CODE = 10**64  # no verification code has more digits

_PHONE_SEPARATORS = re.compile(r"[\s\-.()]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def without_separators(number: str) -> str:
    """``number`` as `phone_number` reads it, never raising: without the separators a
    number given to the SDK may have, and without a "(0)" right after its calling code
    (``+44 (0)20 7946 0018`` is ``+442079460018``); a "(0)" anywhere else is kept, as a
    form that cannot be read as one number."""
    if "(" in number:  # (an answer's number, on every send: the common case skips it)
        with contextlib.suppress(InputValidationError):
            number = _without_trunk_zero(number, "number")
    return _PHONE_SEPARATORS.sub("", number)


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


# Calling codes form a prefix code: a number's first digits say how long its code is.
# One digit: 1 (North America) and 7; two digits: these; every other code has three.
# fmt: off
_TWO_DIGIT_CODES = frozenset({
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
    "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
})
# fmt: on
#: Countries whose numbers keep their 0 when dialled from abroad (Italy +39 06 ...,
#: San Marino, Vatican City, Côte d'Ivoire, Benin, Gabon, Republic of the Congo): there a
#: "(0)" may be part of the number, or may not, so it is refused rather than guessed.
ZERO_KEEPING_CODES = frozenset({"39", "378", "379", "225", "229", "241", "242"})

#: "(0)", a trunk zero written in brackets: "+44 (0)20 7946 0018".
_BRACKETED_ZERO = re.compile(r"\(\s*0\s*\)")


def calling_code(number: str) -> str:
    """The calling code of ``number`` (``+`` and digits): ``"44"`` for ``+442079460018``."""
    digits = number.lstrip("+")
    if digits[:1] in ("1", "7"):
        return digits[:1]
    return digits[:2] if digits[:2] in _TWO_DIGIT_CODES else digits[:3]


def shown_phone(value: str) -> str:
    """How an error message shows a bad phone number, in the SDK and the command line alike:
    masked (`mask_phone`, on the number with its separators removed) and quoted, with a
    control or bidi character escaped; or ``an empty string``."""
    number = _PHONE_SEPARATORS.sub("", value)
    return repr(mask_phone(number)) if number else "an empty string"


def _without_trunk_zero(value: str, argument: str) -> str:
    """``value`` without a "(0)" written right after its calling code.

    ``+44 (0)20 7946 0018`` is ``+44 20 7946 0018``: from abroad the trunk zero is not
    dialled, and TextFlow would take it for a digit of the number. A "(0)" anywhere else,
    or after a calling code whose numbers keep their 0, is refused: which number was meant
    cannot be told.
    """
    found = _BRACKETED_ZERO.search(value)
    if found is None:
        return value
    before = _PHONE_SEPARATORS.sub("", value[: found.start()])
    code = calling_code(before)
    problem = ""
    if not before.startswith("+") or before[1:] != code or not code.isdigit():
        problem = (
            "has '(0)' after something other than its calling code; a trunk zero in brackets "
            "may only follow the calling code, as in '+44 (0)20 7946 0018'"
        )
    elif code in ZERO_KEEPING_CODES:
        problem = (
            f"has '(0)' after +{code}, whose numbers may keep their 0 when dialled from "
            "abroad: write the number without brackets, as that country writes it "
            "internationally (Italy: '+39 06 ...')"
        )
    elif _BRACKETED_ZERO.search(value, found.end()):
        problem = "has '(0)' more than once"
    if problem:
        raise InputValidationError(
            f"{argument} {problem} (got {shown_phone(value)}).", argument=argument
        )
    return value[: found.start()] + " " + value[found.end() :]


def phone_number(value: object, argument: str = "phone_number") -> str:
    """An E.164 number: ``+`` and 7 to 15 digits, the first not 0.

    Spaces, ``-``, ``.``, ``(`` and ``)`` are removed first, so
    ``"+1 (123) 456-7890"`` becomes ``"+11234567890"``; a trunk zero written in
    brackets right after the calling code goes too, so ``"+44 (0)20 7946 0018"`` is
    ``"+442079460018"`` (see `_without_trunk_zero` for the forms refused). The message
    of a bad number shows it masked (`shown_phone`); it names full-width digits as the
    problem.
    """
    if not isinstance(value, str):
        raise _type_error(argument, "a str like '+11234567890'", value)
    number = _PHONE_SEPARATORS.sub("", _without_trunk_zero(value, argument))
    if not _E164.fullmatch(number):
        raise InputValidationError(
            f"{argument} must be an international number in E.164 form: '+', the country "
            f"code and the number, 7 to 15 digits in all, like '+11234567890' (got "
            f"{shown_phone(value)})." + _digit_problem(number),
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
