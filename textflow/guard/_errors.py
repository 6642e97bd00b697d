"""``VerificationRefused``: the guard said no, before anything was sent or checked."""

from __future__ import annotations

import functools
from typing import Any, Literal, Optional

from textflow.errors import TextFlowError

#: Which rule refused: one of these strings.
Reason = Literal["cooldown", "number_limit", "caller_limit", "budget", "country", "attempts"]


class VerificationRefused(TextFlowError):
    """A `VerificationGuard` rule refused the call; nothing was sent to or asked of TextFlow.

    Attributes:
        reason: The rule that refused: ``"cooldown"`` (a code went to this
            number moments ago), ``"number_limit"`` (too many codes to this
            number today), ``"caller_limit"`` (too many calls from this
            ``client_key`` this hour), ``"budget"`` (the app's hourly budget of
            codes is spent), ``"country"`` (codes are not sent to this calling
            code) or ``"attempts"`` (too many wrong codes: send a new code).
        retry_after: Seconds until the same call could pass, or ``None`` when
            waiting does not help (``"country"``, ``"attempts"``).

    The message never holds the phone number, the code or the ``client_key``.

    Examples:
        >>> try:
        ...     guard.send_code("+11234567890", service_name="Acme")
        ... except VerificationRefused as exc:
        ...     print(exc.reason, exc.retry_after)
        cooldown 25.0
    """

    def __init__(
        self, message: str, *, reason: Reason, retry_after: Optional[float] = None
    ) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.retry_after = retry_after

    def __reduce__(self) -> Any:
        rebuild = functools.partial(type(self), reason=self.reason, retry_after=self.retry_after)
        return (rebuild, (str(self),))
