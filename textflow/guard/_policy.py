"""The guard's rules as pure data and functions: what to check, and what a refusal says.

Nothing here does I/O or reads a clock: the guards pass ``now`` in and ask a
store to decide (see ``_store.py`` and ``_checks.py``). The defaults come from
the simulation (``python -m textflow.guard.simulate``; docs/guard.md explains
each figure).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Optional

from textflow._validation import MAX_SECONDS
from textflow.errors import ConfigurationError, Reason, VerificationRefused
from textflow.guard._checks import Check

HOUR = 3600.0
DAY = 86_400.0
#: Wrong attempts are remembered as long as any code can live (one day).
ATTEMPTS_WINDOW = float(MAX_SECONDS)
Mode = Literal["enforce", "monitor"]


def _positive_or_none(owner: str, name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(f"{owner}.{name} must be an int >= 1 or None, not {value!r}.")


@dataclass(frozen=True)
class Velocity:
    """Codes sent per prefix and per calling code, in sliding windows; ``None`` turns one off.

    Args:
        prefix_per_hour: Codes to numbers sharing a prefix in any hour (default 5).
        prefix_per_day: Codes to numbers sharing a prefix in any 24 hours (default 15).
        country_per_hour: Codes to one calling code in any hour (default off).
        country_per_day: Codes to one calling code in any 24 hours (default off).

    Examples:
        >>> GuardPolicy(velocity_by_country={"44": Velocity(country_per_hour=200)})
    """

    prefix_per_hour: Optional[int] = 5
    prefix_per_day: Optional[int] = 15
    country_per_hour: Optional[int] = None
    country_per_day: Optional[int] = None

    def __post_init__(self) -> None:
        for name in ("prefix_per_hour", "prefix_per_day", "country_per_hour", "country_per_day"):
            _positive_or_none("Velocity", name, getattr(self, name))


@dataclass(frozen=True)
class ConversionRule:
    """Suspend a prefix or country whose codes are rarely verified.

    When, over ``window`` seconds, at least ``min_sends`` codes went to it and
    fewer than ``min_conversion`` of them were verified, new codes to it are
    refused (``low_conversion``) for ``suspend_for`` seconds; then the rule
    looks again. `VerificationGuard.lift` ends a suspension early.

    Examples:
        >>> ConversionRule(min_sends=4, min_conversion=0.25)
    """

    min_sends: int = 4
    min_conversion: float = 0.25
    window: float = DAY
    suspend_for: float = HOUR

    def __post_init__(self) -> None:
        _positive_or_none("ConversionRule", "min_sends", self.min_sends)
        ratio = self.min_conversion
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
            raise ConfigurationError(f"min_conversion must be in (0, 1], not {ratio!r}.")
        for name in ("window", "suspend_for"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigurationError(f"{name} must be seconds, not {value!r}.")
            if not (math.isfinite(value) and 60 <= value <= 30 * DAY):
                raise ConfigurationError(f"{name} must be from 60 s to 30 days, not {value}.")


@dataclass(frozen=True)
class GuardPolicy:
    """The limits a `VerificationGuard` enforces; ``None`` (or 0 for ``cooldown``) turns one off.

    Args:
        cooldown: Seconds between the first two codes to one number (default 30);
            each next code waits ``cooldown_growth`` times longer (30, 60, 120 s,
            ...) up to ``cooldown_max``; a verified code starts over.
        cooldown_growth: The factor (default 2; 1 keeps the cooldown flat).
        cooldown_max: The longest cooldown, seconds (default 3600).
        codes_per_number_per_day: Codes to one number in any 24 hours (default 5).
        codes_per_caller_per_hour: Codes requested by one ``client_key`` in any
            hour (default 10).
        checks_per_caller_per_hour: ``check_code`` calls by one ``client_key``
            in any hour (default 30).
        attempts_per_code: Checks of one code; after that many wrong ones the
            code is burned until a new code is sent (default 5). Always
            enforced, in monitor mode and for safelisted numbers too.
        codes_per_hour: The whole app's budget of codes in any hour (default off).
        allowed_calling_codes: Only numbers starting with one of these calling
            codes get codes, e.g. ``{"1", "44"}`` (default: every country).
        blocked_calling_codes: Numbers starting with one of these never get
            codes, e.g. ``{"1876"}``; blocked wins over allowed.
        velocity: Codes per prefix and per calling code (`Velocity`).
        velocity_by_country: A `Velocity` per calling code, instead of ``velocity``.
        prefix_hide_digits: A number's prefix is the number without its last
            this many digits (default 4: ``+447946012345`` is in ``+4479460``).
        prefix_conversion: The `ConversionRule` per prefix (default: at least
            4 codes in a day and under 25 % verified suspends it for an hour).
        country_conversion: The `ConversionRule` per calling code (default:
            at least 20 codes in a day and under 40 % verified).
        spend_per_hour: The most money the codes of any hour may cost (default off).
        spend_per_day: The same over any 24 hours (default off).
        price_estimate: What a code is counted as costing until TextFlow's
            answer gives its ``price`` (send-code answers carry none today, so
            this is what each code counts; default 0.15, TextFlow's price to
            the US).
        safelist: Numbers and prefixes (``"+15550100"``) that skip every send
            rule but the spend cap: test numbers, staff.
        blocklist: Numbers and prefixes that never get a code (``blocked``).
        mode: ``"enforce"`` (default) or ``"monitor"``: evaluate every send
            rule and report what would have been refused (`Decision`), but
            refuse nothing.
        fail_open: When the store fails, send anyway (logged at WARNING)
            instead of raising `GuardStoreError` (default False: fail closed).

    Raises:
        ConfigurationError: A limit that is not a positive int, or a calling
            code that is not digits.

    Examples:
        >>> GuardPolicy(allowed_calling_codes={"1", "44"}, codes_per_hour=500)
    """

    cooldown: float = 30.0
    cooldown_growth: float = 2.0
    cooldown_max: float = 3600.0
    codes_per_number_per_day: Optional[int] = 5
    codes_per_caller_per_hour: Optional[int] = 10
    checks_per_caller_per_hour: Optional[int] = 30
    attempts_per_code: Optional[int] = 5
    codes_per_hour: Optional[int] = None
    allowed_calling_codes: Optional[Collection[str]] = None
    blocked_calling_codes: Collection[str] = ()
    velocity: Velocity = field(default_factory=Velocity)
    velocity_by_country: Mapping[str, Velocity] = field(default_factory=dict)
    prefix_hide_digits: int = 4
    prefix_conversion: Optional[ConversionRule] = field(default_factory=ConversionRule)
    country_conversion: Optional[ConversionRule] = field(
        default_factory=lambda: ConversionRule(min_sends=20, min_conversion=0.4)
    )
    spend_per_hour: Optional[Decimal] = None
    spend_per_day: Optional[Decimal] = None
    price_estimate: Decimal = Decimal("0.15")
    safelist: Collection[str] = ()
    blocklist: Collection[str] = ()
    mode: Mode = "enforce"
    fail_open: bool = False

    def __post_init__(self) -> None:
        for name in ("cooldown", "cooldown_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigurationError(f"{name} must be seconds (a number), not {value!r}.")
            if not (math.isfinite(value) and 0 <= value <= DAY):
                raise ConfigurationError(f"{name} must be from 0 to 86400 seconds, not {value}.")
        growth = self.cooldown_growth
        if isinstance(growth, bool) or not isinstance(growth, (int, float)):
            raise ConfigurationError(f"cooldown_growth must be a number, not {growth!r}.")
        if not (math.isfinite(growth) and 1 <= growth <= 100):
            raise ConfigurationError(f"cooldown_growth must be from 1 to 100, not {growth}.")
        for name in (
            "codes_per_number_per_day",
            "codes_per_caller_per_hour",
            "checks_per_caller_per_hour",
            "attempts_per_code",
            "codes_per_hour",
        ):
            _positive_or_none("GuardPolicy", name, getattr(self, name))
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
        self._check_groups()
        self._check_money()
        for name in ("safelist", "blocklist"):
            object.__setattr__(self, name, _numbers(getattr(self, name), name))
        if self.mode not in ("enforce", "monitor"):
            raise ConfigurationError(f"mode must be 'enforce' or 'monitor', not {self.mode!r}.")
        if not isinstance(self.fail_open, bool):
            raise ConfigurationError(f"fail_open must be True or False, not {self.fail_open!r}.")

    def _check_groups(self) -> None:
        if not isinstance(self.velocity, Velocity):
            raise ConfigurationError(f"velocity must be a Velocity, not {self.velocity!r}.")
        by_country = dict(self.velocity_by_country)
        codes = _calling_codes(list(by_country), "velocity_by_country")
        if any(not isinstance(v, Velocity) for v in by_country.values()):
            raise ConfigurationError("velocity_by_country must map calling codes to Velocity.")
        normal = {c.strip().lstrip("+"): v for c, v in by_country.items()}
        assert set(normal) == codes
        object.__setattr__(self, "velocity_by_country", normal)
        hide = self.prefix_hide_digits
        if isinstance(hide, bool) or not isinstance(hide, int) or not 1 <= hide <= 8:
            raise ConfigurationError(
                f"prefix_hide_digits must be an int from 1 to 8, not {hide!r}."
            )
        for name in ("prefix_conversion", "country_conversion"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, ConversionRule):
                raise ConfigurationError(f"{name} must be a ConversionRule or None, not {value!r}.")

    def _check_money(self) -> None:
        for name in ("spend_per_hour", "spend_per_day", "price_estimate"):
            value = getattr(self, name)
            if value is None and name != "price_estimate":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
                raise ConfigurationError(f"{name} must be a Decimal (or None), not {value!r}.")
            try:
                amount = Decimal(value)
            except ArithmeticError:
                raise ConfigurationError(f"{name} must be an amount, not {value!r}.") from None
            if not amount.is_finite() or amount < 0 or (amount == 0 and name != "price_estimate"):
                raise ConfigurationError(f"{name} must be a positive amount, not {value!r}.")
            object.__setattr__(self, name, amount)

    def velocity_for(self, calling_code: str) -> Velocity:
        """The `Velocity` that applies to numbers with ``calling_code``."""
        return self.velocity_by_country.get(calling_code, self.velocity)


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


def _numbers(values: Collection[str], name: str) -> frozenset[str]:
    if isinstance(values, str):
        raise ConfigurationError(f"{name} must be a collection of str like {{'+15550100'}}.")
    result = set()
    for value in values:
        digits = value.strip()[1:] if isinstance(value, str) and value.startswith("+") else ""
        if not (digits.isdigit() and digits.isascii() and 1 <= len(digits) <= 15):
            raise ConfigurationError(
                f"{name} must hold numbers or prefixes in E.164 form like '+15550100'."
            )
        result.add("+" + digits)
    return frozenset(result)


def listed(entries: Collection[str], number: str) -> bool:
    """Whether ``number`` is one of ``entries`` or starts with one of them."""
    return any(number.startswith(entry) for entry in entries)


def money(amount: Decimal) -> int:
    """An amount in micro-units, as the stores count it."""
    return int((amount * 1_000_000).to_integral_value())


@dataclass(frozen=True)
class Rule:
    """One rule of a call: the reason it gives, the store check, and its key redacted."""

    reason: Reason
    check: Check
    key: str


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
    "prefix_velocity": "Too many codes went to numbers like this one lately",
    "country_velocity": "Too many codes went to this country lately",
    "low_conversion": "Codes to numbers like this one are suspended: few were verified",
    "spend_cap": "The app's verification spending limit is reached",
    "blocked": "Verification codes are not sent to this number",
    "session_mismatch": "This code was sent for another session",
}

#: Refusals that waiting does not cure.
FINAL: frozenset[Reason] = frozenset({"country", "attempts", "blocked", "session_mismatch"})


def refusal(reason: Reason, retry_after: Optional[float]) -> VerificationRefused:
    """The exception for ``reason``; its message names no number, code or caller."""
    if reason in FINAL:
        retry_after = None
    message = _MESSAGES[reason]
    if retry_after is not None:
        retry_after = max(0.0, retry_after)
        message += f"; try again in {math.ceil(retry_after)} s"
    return VerificationRefused(message + ".", reason=reason, retry_after=retry_after)
