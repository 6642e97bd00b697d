"""The guard's rules as pure functions: what to count, and what a refusal says.

Nothing here does I/O or reads a clock: the guards pass ``now`` in and ask a
store to count (see ``_store.py``).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Optional

from textflow._validation import MAX_SECONDS
from textflow.errors import ConfigurationError
from textflow.guard._errors import Reason, VerificationRefused
from textflow.guard._store import Limit

HOUR = 3600.0
DAY = 86_400.0
#: Wrong attempts are remembered as long as any code can live (one day).
ATTEMPTS_WINDOW = float(MAX_SECONDS)


@dataclass(frozen=True)
class GuardPolicy:
    """The limits a `VerificationGuard` enforces; ``None`` (or 0 for ``cooldown``) turns one off.

    Args:
        cooldown: Seconds between two codes to one number (default 30).
        codes_per_number_per_day: Codes to one number in any 24 hours (default 5).
        codes_per_caller_per_hour: Codes requested by one ``client_key`` in any
            hour (default 10).
        checks_per_caller_per_hour: ``check_code`` calls by one ``client_key``
            in any hour (default 30).
        attempts_per_code: Checks of one code; after that many wrong ones the
            code is burned until a new code is sent (default 5). A right code
            resets the count.
        codes_per_hour: The whole app's budget of codes in any hour (default off).
        allowed_calling_codes: Only numbers starting with one of these calling
            codes get codes, e.g. ``{"1", "44"}`` (default: every country).
        blocked_calling_codes: Numbers starting with one of these never get
            codes, e.g. ``{"1876"}``; blocked wins over allowed.

    Raises:
        ConfigurationError: A limit that is not a positive int, or a calling
            code that is not digits.

    Examples:
        >>> GuardPolicy(allowed_calling_codes={"1", "44"}, codes_per_hour=500)
    """

    cooldown: float = 30.0
    codes_per_number_per_day: Optional[int] = 5
    codes_per_caller_per_hour: Optional[int] = 10
    checks_per_caller_per_hour: Optional[int] = 30
    attempts_per_code: Optional[int] = 5
    codes_per_hour: Optional[int] = None
    allowed_calling_codes: Optional[Collection[str]] = None
    blocked_calling_codes: Collection[str] = ()

    def __post_init__(self) -> None:
        cooldown = self.cooldown
        if isinstance(cooldown, bool) or not isinstance(cooldown, (int, float)):
            raise ConfigurationError(f"cooldown must be seconds (a number), not {cooldown!r}.")
        if not (math.isfinite(cooldown) and 0 <= cooldown <= DAY):
            raise ConfigurationError(f"cooldown must be from 0 to 86400 seconds, not {cooldown}.")
        for name in (
            "codes_per_number_per_day",
            "codes_per_caller_per_hour",
            "checks_per_caller_per_hour",
            "attempts_per_code",
            "codes_per_hour",
        ):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ConfigurationError(f"{name} must be an int >= 1 or None, not {value!r}.")
        allowed = self.allowed_calling_codes
        if allowed is not None:
            allowed = _calling_codes(allowed, "allowed_calling_codes")
            if not allowed:
                raise ConfigurationError(
                    "allowed_calling_codes is empty, which would refuse every number; "
                    "use None to allow every country."
                )
        object.__setattr__(self, "allowed_calling_codes", allowed)
        blocked = _calling_codes(self.blocked_calling_codes, "blocked_calling_codes")
        object.__setattr__(self, "blocked_calling_codes", blocked)


def _calling_codes(codes: Collection[str], name: str) -> frozenset[str]:
    if isinstance(codes, str):
        raise ConfigurationError(f"{name} must be a collection of str like {{'1', '44'}}.")
    result = set()
    for code in codes:
        digits = code.strip().lstrip("+") if isinstance(code, str) else ""
        if not (digits.isdigit() and digits.isascii() and len(digits) <= 15):
            raise ConfigurationError(
                f"{name} must hold calling codes like '44' or '+44' (digits), not {code!r}."
            )
        result.add(digits)
    return frozenset(result)


@dataclass(frozen=True)
class Rule:
    """One counted rule of a call: the reason it gives and what the store counts."""

    reason: Reason
    limit: Limit


def send_rules(policy: GuardPolicy, number_id: str, caller_id: Optional[str]) -> list[Rule]:
    """What one ``send_code`` counts: each rule must pass, and then each is counted."""
    rules = []
    if policy.cooldown > 0:
        rules.append(Rule("cooldown", Limit(f"cooldown:{number_id}", 1, float(policy.cooldown))))
    if policy.codes_per_number_per_day is not None:
        limit = Limit(f"day:{number_id}", policy.codes_per_number_per_day, DAY)
        rules.append(Rule("number_limit", limit))
    if caller_id is not None and policy.codes_per_caller_per_hour is not None:
        limit = Limit(f"caller-codes:{caller_id}", policy.codes_per_caller_per_hour, HOUR)
        rules.append(Rule("caller_limit", limit))
    if policy.codes_per_hour is not None:
        rules.append(Rule("budget", Limit("budget", policy.codes_per_hour, HOUR)))
    return rules


def attempts_key(number_id: str) -> str:
    """The store key counting checks of the number's current code."""
    return f"attempts:{number_id}"


def check_rules(policy: GuardPolicy, number_id: str, caller_id: Optional[str]) -> list[Rule]:
    """What one ``check_code`` counts."""
    rules = []
    if policy.attempts_per_code is not None:
        limit = Limit(attempts_key(number_id), policy.attempts_per_code, ATTEMPTS_WINDOW)
        rules.append(Rule("attempts", limit))
    if caller_id is not None and policy.checks_per_caller_per_hour is not None:
        limit = Limit(f"caller-checks:{caller_id}", policy.checks_per_caller_per_hour, HOUR)
        rules.append(Rule("caller_limit", limit))
    return rules


def country_allowed(policy: GuardPolicy, number: str) -> bool:
    """Whether codes may go to ``number`` (E.164) under the calling-code rules."""
    digits = number.lstrip("+")
    if any(digits.startswith(code) for code in policy.blocked_calling_codes):
        return False
    allowed = policy.allowed_calling_codes
    return allowed is None or any(digits.startswith(code) for code in allowed)


_MESSAGES: dict[Reason, str] = {
    "cooldown": "A code was sent to this number moments ago",
    "number_limit": "Too many codes were sent to this number today",
    "caller_limit": "Too many verification requests from this caller",
    "budget": "The app's hourly budget of verification codes is spent",
    "country": "Verification codes are not sent to this country or calling code",
    "attempts": "Too many wrong codes: this code is burned; send a new code",
}


def refusal(reason: Reason, retry_after: Optional[float]) -> VerificationRefused:
    """The exception for ``reason``; its message names no number, code or caller."""
    if reason in ("country", "attempts"):
        retry_after = None
    message = _MESSAGES[reason]
    if retry_after is not None:
        retry_after = max(0.0, retry_after)
        message += f"; try again in {math.ceil(retry_after)} s"
    return VerificationRefused(message + ".", reason=reason, retry_after=retry_after)
