"""What an error means to ``send_many``: refused or maybe sent, and whether the run stops."""

from __future__ import annotations

from typing import Callable, Optional, Union

from textflow._report import (
    MAYBE_SENT,
    REFUSED,
    SENT,
    SKIPPED,
    STATUSES,
    Outcome,
    Progress,
    SendReport,
)
from textflow.errors import (
    APIStatusError,
    AuthenticationError,
    PermissionDeniedError,
    TextFlowError,
)

__all__ = [  # the report's names are also reached from here
    "MAYBE_SENT",
    "REFUSED",
    "SENT",
    "SKIPPED",
    "STATUSES",
    "Outcome",
    "Progress",
    "SendReport",
    "StopOn",
    "classify",
    "default_stop_on",
    "out_of_credits",
    "stop_predicate",
]

INSUFFICIENT_CREDITS_STATUS = 402

StopOn = Union[Callable[[BaseException], bool], "tuple[type[BaseException], ...]"]


def classify(exc: BaseException) -> str:
    """``REFUSED`` when ``exc`` proves the SMS was not sent, else ``MAYBE_SENT``.

    The one place that decides, by the SDK's own answer (``may_have_been_sent``,
    False for a bad argument, a closed client, a refusal or a connection never
    made). Anything else (a bug, a cancellation) may have been sent.
    """
    if isinstance(exc, TextFlowError):
        return MAYBE_SENT if exc.may_have_been_sent else REFUSED
    return MAYBE_SENT


def out_of_credits(exc: BaseException) -> bool:
    """A 402, or a refusal whose message is about credits or balance."""
    if not isinstance(exc, APIStatusError):
        return False
    if INSUFFICIENT_CREDITS_STATUS in (exc.status, exc.status_code):
        return True
    words = exc.message.lower()
    return "insufficient" in words and ("credit" in words or "balance" in words)


def default_stop_on(exc: BaseException) -> bool:
    """Stop at a refused key or permission, or when credits run out; not at a bad number.

    Examples:
        >>> default_stop_on(AuthenticationError(...))
        True
    """
    return isinstance(exc, (AuthenticationError, PermissionDeniedError)) or out_of_credits(exc)


def stop_predicate(stop_on: Optional[StopOn]) -> Callable[[BaseException], bool]:
    """``stop_on`` as a predicate: None is ``default_stop_on``, a tuple of classes is isinstance."""
    if stop_on is None:
        return default_stop_on
    if isinstance(stop_on, tuple):
        classes = stop_on
        if not all(isinstance(cls, type) and issubclass(cls, BaseException) for cls in classes):
            raise TypeError("stop_on must be a callable or a tuple of exception classes.")
        return lambda exc: isinstance(exc, classes)
    if not callable(stop_on):
        raise TypeError("stop_on must be a callable or a tuple of exception classes.")
    return stop_on
