"""What one recipient of ``send_many`` may be, and how it becomes a number and a text."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union

from textflow import _validation as check
from textflow.errors import InputValidationError

DEFAULT_PHONE_FIELD = "phone_number"


@dataclass(frozen=True)
class Message:
    """One SMS for ``send_many``: a number and its own text.

    Attributes:
        phone_number: The recipient, in E.164 form (spaces and dashes are removed).
        text: The message for this recipient.

    Examples:
        >>> report = client.send_many([Message("+11234567890", "Your table is ready")])
        >>> report.sent
        1
    """

    phone_number: str
    text: str


Recipient = Union[str, "tuple[str, str]", Message, Mapping[str, Any]]
#: What ``TextFlowClient.send_many`` takes (the async client's alias of this name
#: also takes async iterables; one name keeps the two signatures alike).
Recipients = Iterable[Recipient]


@dataclass(frozen=True)
class Prepared:
    """A recipient checked and rendered: what will be sent, and its journal key."""

    index: int
    phone_number: str
    text: str

    @property
    def key(self) -> str:
        """The recipient's identity: a hash of (number, text), so a new text is a new message."""
        return message_key(self.phone_number, self.text)


def message_key(phone_number: str, text: str) -> str:
    """``sha256(number NUL text)`` in hex."""
    return hashlib.sha256(f"{phone_number}\x00{text}".encode()).hexdigest()


def shown_number(item: object, phone_field: str) -> str:
    """The number as the caller gave it, for an outcome whose recipient was refused."""
    if isinstance(item, str):
        return item
    if isinstance(item, Message):
        return item.phone_number
    if isinstance(item, tuple) and item:
        return str(item[0])
    if isinstance(item, Mapping):
        return str(item.get(phone_field, ""))
    return ""


def _unusable(index: int, why: str) -> InputValidationError:
    """A recipient ``send_many`` cannot read: refused, and the reason never shows the item."""
    return InputValidationError(f"recipient {index} {why}", argument=f"recipients[{index}]")


def _raw(index: int, item: object, text: Optional[str], phone_field: str) -> tuple[object, object]:
    """(number, text) before checks.

    Raises:
        InputValidationError: A recipient ``send_many`` cannot read (refused).
        TypeError: A number given without ``text=`` (the call, not the recipient, is wrong).
    """
    if isinstance(item, Message):
        return item.phone_number, item.text
    if isinstance(item, tuple):
        if len(item) != 2:
            raise _unusable(index, f"is a tuple of {len(item)} items, not (phone_number, text).")
        return item[0], item[1]
    if isinstance(item, (str, Mapping)):
        if text is None:
            raise TypeError(
                f"a recipient given as a {type(item).__name__} needs text=...; or give "
                "(phone_number, text) tuples or Message values."
            )
        if isinstance(item, str):
            return item, text
        if phone_field not in item:
            raise InputValidationError(
                f"the recipient has no {phone_field!r} field.", argument=phone_field
            )
        return item[phone_field], _render(text, item)
    raise _unusable(
        index,
        f"is a {type(item).__name__}; a recipient is a phone number, a (phone_number, text) "
        "tuple, a Message or a mapping.",
    )


def _render(template: str, fields: Mapping[str, Any]) -> str:
    try:
        return template.format_map(fields)
    except KeyError as exc:
        raise InputValidationError(
            f"the template needs the field {exc.args[0]!r}, which this recipient lacks.",
            argument="text",
        ) from None
    except (IndexError, AttributeError, TypeError, ValueError) as exc:
        # ``{field.attr}``, ``{field[0]}`` or a format spec this recipient's value lacks
        raise InputValidationError(
            f"the template cannot be filled from this recipient's fields ({type(exc).__name__}).",
            argument="text",
        ) from None


def prepare(index: int, item: object, text: Optional[str], phone_field: str) -> Prepared:
    """Check one recipient.

    Raises:
        InputValidationError: A bad number or text, or a recipient ``send_many`` cannot
            read (``None``, an int, a tuple of three): an outcome, not the end of the run.
        TypeError: A number or mapping given without ``text=``.
    """
    phone_number, message = _raw(index, item, text, phone_field)
    return Prepared(
        index,
        check.phone_number(phone_number, "phone_number"),
        check.text(message, "text"),
    )
