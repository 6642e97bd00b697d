"""Keeping secrets and personal data out of what an exception shows or carries. No I/O.

An exception's message never holds the API key, a verification code or a
recipient's full number, even when the API echoes them; a pickled exception
holds none of them either (``body`` and ``result`` travel masked).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional, TypeVar

if TYPE_CHECKING:
    import httpx

    from textflow._report import SendReport
    from textflow.models import Result

MASK = "******"
# Fields whose value is a secret or a message's text (which may hold a code).
_SECRET_FIELDS = frozenset(
    {"verification_code", "valid_code", "message_text", "code", "text", "content"}
)
# Fields whose value is a phone number, or a list of them.
_PHONE_FIELDS = frozenset({"phone_number", "phone_numbers", "to"})
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # a phone number inside a text
_MIN_SECRET = 4  # shorter strings would mask unrelated words


def mask_phone(phone: str) -> str:
    """``+11234567890`` → ``+1123*****90``: enough to tell numbers apart in a log.

    At least five characters are masked, and at most the first five and the last
    two shown, so a short number does not show almost whole.
    """
    if len(phone) <= 7:
        return "*" * len(phone)
    head = min(5, len(phone) - 7)
    return phone[:head] + "*" * (len(phone) - head - 2) + phone[-2:]


# ITU-T E.164 country calling codes: 1 and 7 are one digit, these are two, the rest three.
_TWO_DIGIT_CODES = frozenset(
    str(code)
    for code in [
        *(20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49),
        *(51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86),
        *(90, 91, 92, 93, 94, 95, 98),
    ]
)


def calling_code(phone: str) -> str:
    """``+11234567890`` → ``+1``, ``+381611231234`` → ``+381``: the country, not the person.

    ``phone`` is a normalised number (``+`` and digits); anything else is ``"unknown"``.
    """
    digits = phone[1:]
    if not phone.startswith("+") or not (digits.isascii() and digits.isdigit()) or len(digits) < 4:
        return "unknown"
    if digits[0] in "17":
        return "+" + digits[0]
    return "+" + (digits[:2] if digits[:2] in _TWO_DIGIT_CODES else digits[:3])


def redacted_body(value: Any, secrets: Sequence[str] = ()) -> Any:
    """``value`` (a decoded JSON body) with secrets, texts and phone numbers masked,
    wherever they are: in their own fields, or echoed in another field's text."""
    if isinstance(value, dict):
        return {name: _redacted_field(name, item, secrets) for name, item in value.items()}
    if isinstance(value, list):
        return [redacted_body(item, secrets) for item in value]
    if isinstance(value, str):
        return _E164.sub(lambda match: mask_phone(match.group()), scrubbed(value, secrets))
    return value


def _redacted_field(name: Any, value: Any, secrets: Sequence[str]) -> Any:
    if name in _SECRET_FIELDS and value is not None:
        return MASK
    if name in _PHONE_FIELDS:
        if isinstance(value, str):
            return mask_phone(value)
        if isinstance(value, list):
            return [mask_phone(item) if isinstance(item, str) else MASK for item in value]
        return value if value is None else MASK
    return redacted_body(value, secrets)


R = TypeVar("R", bound="Result")


def redacted_result(result: Optional[R], secrets: Sequence[str] = ()) -> Optional[R]:
    """``result`` with its secrets, texts and numbers masked (``None`` if it cannot be)."""
    if result is None:
        return None
    import pydantic  # here: ``import textflow`` loads this module (logs mask numbers)

    try:
        return type(result).model_validate(redacted_body(result.model_dump(), secrets))
    except pydantic.ValidationError:  # pragma: no cover - masked fields are all strings
        return None


def redacted_report(report: SendReport) -> SendReport:
    """A copy of ``report`` whose outcomes show masked numbers and no texts (for a pickle)."""
    outcomes = [
        dataclasses.replace(
            outcome,
            phone_number=mask_phone(outcome.phone_number),
            text=None if outcome.text is None else MASK,
            result=redacted_result(outcome.result),
        )
        for outcome in report.outcomes
    ]
    return dataclasses.replace(report, outcomes=outcomes)


def key_of(request: Optional[httpx.Request]) -> list[str]:
    """The API key ``request`` carries, as a list for `scrubbed` (empty without one)."""
    if request is None:
        return []
    key = request.headers.get("Authorization", "")[len("Bearer ") :]
    return [key] if len(key) >= _MIN_SECRET else []


def secrets_of(request: Optional[httpx.Request]) -> list[str]:
    """What ``request`` carries that no message may show: the key, codes, phone numbers."""
    if request is None:
        return []
    found = key_of(request)
    try:
        payload = json.loads(request.content) if request.content else None
    except (ValueError, RecursionError, RuntimeError):  # pragma: no cover - the SDK's own JSON
        payload = None
    if isinstance(payload, dict):
        for name in ("code", "phone_number", "phone_numbers"):
            value = payload.get(name)
            found.extend(
                v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)
            )
    # Longest first, so that a number is masked whole before a shorter secret inside it.
    return sorted((s for s in found if len(s) >= _MIN_SECRET), key=len, reverse=True)


def scrubbed(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` (a str or decoded JSON) with every occurrence of each secret masked."""
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(
                    secret, mask_phone(secret) if secret.startswith("+") else MASK
                )
        return value
    if isinstance(value, dict):
        return {name: scrubbed(item, secrets) for name, item in value.items()}
    if isinstance(value, list):
        return [scrubbed(item, secrets) for item in value]
    return value


def printable(text: str) -> str:
    """``text`` safe to print as one line: control characters shown as escapes.

    A message or an SMS comes from a server (or, in the sandbox, from whoever
    sends to it); escape sequences in it must not move the cursor, recolour the
    terminal or start a new line, and a lone surrogate (JSON's ``\\ud800``) must
    not make printing or logging it fail.

    Args:
        text: Text received from a server.

    Returns:
        The text with newlines, tabs, ESC and other non-printable characters
        written as ``\\n``, ``\\t``, ``\\x1b``...

    Examples:
        >>> printable("two\\nlines \\x1b[31mred")
        'two\\\\nlines \\\\x1b[31mred'
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
