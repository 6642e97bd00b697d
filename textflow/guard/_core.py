"""What the sync and async guards share: argument checks, hashed keys, rules, decisions.

The guards differ only in ``await``: each call is "plan, ask the store, call
the client, record", and every step but the I/O lives here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Optional, Union

from textflow import _redact, _validation
from textflow._async_client import AsyncTextFlowClient
from textflow._client import TextFlowClient
from textflow.errors import (
    ConfigurationError,
    GuardStoreError,
    InputValidationError,
    Reason,
)
from textflow.guard import _numbers, _policy
from textflow.guard._checks import (
    Backoff,
    Check,
    Conversion,
    Delete,
    Lift,
    Limit,
    Put,
    Settle,
    Spend,
    Verified,
    Write,
)
from textflow.guard._decision import Decision, Operation, Stats
from textflow.guard._policy import ATTEMPTS_WINDOW, DAY, HOUR, GuardPolicy, Rule
from textflow.guard._store import Verdict, worst
from textflow.models import VerifyCodeResult, VerifyPhoneOk

Secret = Union[str, bytes]
OnDecision = Callable[[Decision], None]

#: Refusals are logged here at INFO: under the ``textflow`` logger, so ``TEXTFLOW_LOG``
#: and the handlers on ``textflow`` apply; a name of its own, to filter or tune.
logger = logging.getLogger("textflow.guard")

_DEFAULT_SECRET_LABEL = b"textflow.guard secret from the API key\0"
#: TextFlow's own words for a wrong code, used for a wrong code refused locally.
_INVALID = {"ok": True, "valid": False, "status": 400, "message": "The code is invalid. "}


def default_secret(client: Union[TextFlowClient, AsyncTextFlowClient]) -> bytes:
    """A secret derived from the client's API key: a hash of it, never the key itself."""
    return hashlib.sha256(_DEFAULT_SECRET_LABEL + client._api_key.encode()).digest()


@dataclass(frozen=True)
class Plan:
    """One guarded call, checked and ready: the number, what to check, and what follows."""

    operation: Operation
    number: str
    now: float
    rules: list[Rule]
    number_id: str
    session_id: str
    early: Optional[Decision] = None
    conversions: list[Conversion] = field(default_factory=list)
    member: str = ""

    @property
    def checks(self) -> list[Check]:
        return [rule.check for rule in self.rules]

    @property
    def code_key(self) -> str:
        return f"code:{self.number_id}"

    @property
    def attempts_key(self) -> str:
        return f"attempts:{self.number_id}"

    @property
    def backoff_key(self) -> str:
        return f"cooldown:{self.number_id}"


def check_client(client: object, expected: type[object], guard: str, other: str) -> None:
    """A guard's client must be the kind it awaits (or does not)."""
    if not isinstance(client, expected):
        raise ConfigurationError(
            f"{guard} works with {expected.__name__}, not {type(client).__name__}"
            f" (for the other kind of client, use {other})."
        )


class GuardCore:
    """Policy, keyed hashing, clock, hook and counts of one guard."""

    def __init__(
        self,
        policy: Optional[GuardPolicy],
        secret: Secret,
        clock: Callable[[], float],
        on_decision: Optional[OnDecision] = None,
    ) -> None:
        if policy is None:
            policy = GuardPolicy()
        if not isinstance(policy, GuardPolicy):
            raise ConfigurationError(f"policy must be a GuardPolicy, not {type(policy).__name__}.")
        if isinstance(secret, str):
            secret = secret.encode()
        if not isinstance(secret, bytes) or not secret:
            raise ConfigurationError("secret must be a non-empty str or bytes.")
        if on_decision is not None and not callable(on_decision):
            raise ConfigurationError("on_decision must be a function taking a Decision.")
        self.policy = policy
        self._secret = secret
        self.clock = clock
        self._on_decision = on_decision
        self.stats = Stats()

    def _id(self, kind: bytes, value: str) -> str:
        """A keyed hash of ``value``: the store sees this, never a number or caller."""
        digest = hmac.new(self._secret, kind + b"\0" + value.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def _optional_id(self, kind: bytes, value: object, argument: str, what: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise InputValidationError(
                f"{argument} must be a non-empty str ({what}) or None.", argument=argument
            )
        return self._id(kind, value)

    # --- send_code -----------------------------------------------------------------------

    def plan_send(
        self,
        phone_number: object,
        service_name: object,
        seconds: object,
        client_key: object,
        session: object,
    ) -> Plan:
        """Checks the arguments; the rules a send must pass."""
        number = _validation.phone_number(phone_number)
        _validation.service_name(service_name)
        _validation.seconds(seconds)
        caller_id = self._optional_id(b"caller", client_key, "client_key", "an IP, a session id")
        session_id = self._optional_id(b"session", session, "session", "your session's id")
        now = self.clock()
        policy = self.policy
        number_id = self._id(b"number", number)
        early = None
        if _policy.listed(policy.blocklist, number):
            early = self._early("blocked", f"number:{_redact.mask_phone(number)}")
        elif not _policy.country_allowed(policy, number):
            early = self._early("country", f"country:+{_numbers.calling_code(number)}")
        member = uuid.uuid4().hex
        if _policy.listed(policy.safelist, number):
            rules = self._spend_rules(member)
            return Plan("send_code", number, now, rules, number_id, session_id, early, [], member)
        rules = self._number_rules(number, number_id, caller_id)
        rules += self._group_rules(number)
        rules += self._spend_rules(member)
        conversions = [rule.check for rule in rules if isinstance(rule.check, Conversion)]
        return Plan(
            "send_code", number, now, rules, number_id, session_id, early, conversions, member
        )

    def _early(self, reason: Reason, key: str) -> Decision:
        monitored = self.policy.mode == "monitor"
        return Decision("send_code", monitored, reason, None, key, monitored)

    def _number_rules(self, number: str, number_id: str, caller_id: str) -> list[Rule]:
        policy = self.policy
        masked = f"number:{_redact.mask_phone(number)}"
        rules = []
        if policy.cooldown > 0:
            check = Backoff(
                f"cooldown:{number_id}",
                float(policy.cooldown),
                float(policy.cooldown_growth),
                float(max(policy.cooldown_max, policy.cooldown)),
                DAY,
            )
            rules.append(Rule("cooldown", check, masked))
        if policy.codes_per_number_per_day is not None:
            limit = Limit(f"day:{number_id}", policy.codes_per_number_per_day, DAY)
            rules.append(Rule("number_limit", limit, masked))
        if caller_id and policy.codes_per_caller_per_hour is not None:
            limit = Limit(f"caller-codes:{caller_id}", policy.codes_per_caller_per_hour, HOUR)
            rules.append(Rule("caller_limit", limit, "caller"))
        if policy.codes_per_hour is not None:
            rules.append(Rule("budget", Limit("budget", policy.codes_per_hour, HOUR), "app"))
        return rules

    def _group_rules(self, number: str) -> list[Rule]:
        policy = self.policy
        code = _numbers.calling_code(number)
        prefix = _numbers.prefix(number, policy.prefix_hide_digits)
        prefix_id, country_id = self._id(b"prefix", prefix), self._id(b"country", code)
        velocity = policy.velocity_for(code)
        rules = []
        for reason, group, key, per_hour, per_day in (
            (
                "prefix_velocity",
                "prefix",
                prefix_id,
                velocity.prefix_per_hour,
                velocity.prefix_per_day,
            ),
            (
                "country_velocity",
                "country",
                country_id,
                velocity.country_per_hour,
                velocity.country_per_day,
            ),
        ):
            label = f"prefix:{prefix}" if group == "prefix" else f"country:+{code}"
            for window, limit in ((HOUR, per_hour), (DAY, per_day)):
                if limit is not None:
                    name = f"{group}-{int(window)}:{key}"
                    rules.append(Rule(reason, Limit(name, limit, window), label))  # type: ignore[arg-type]
        for group, key, conversion in (
            ("prefix", prefix_id, policy.prefix_conversion),
            ("country", country_id, policy.country_conversion),
        ):
            if conversion is not None:
                label = f"prefix:{prefix}" if group == "prefix" else f"country:+{code}"
                check = Conversion(
                    f"conversion-{group}:{key}",
                    conversion.min_sends,
                    float(conversion.min_conversion),
                    float(conversion.window),
                    float(conversion.suspend_for),
                )
                rules.append(Rule("low_conversion", check, label))
        return rules

    def _spend_rules(self, member: str) -> list[Rule]:
        policy = self.policy
        estimate = _policy.money(policy.price_estimate)
        rules = []
        for name, window, cap in (
            ("spend-hour", HOUR, policy.spend_per_hour),
            ("spend-day", DAY, policy.spend_per_day),
        ):
            if cap is not None:
                check = Spend(name, _policy.money(cap), window, estimate, member)
                rules.append(Rule("spend_cap", check, "app"))
        return rules

    def sent(self, plan: Plan, result: VerifyPhoneOk, seconds: int) -> list[Write]:
        """What to record once TextFlow sent the code: its salted hash, its price."""
        code = result.data.verification_code
        salt = os.urandom(16)
        record = {
            "h": self._code_hash(salt, plan.number, code),
            "s": salt.hex(),
            "x": plan.session_id,
        }
        writes: list[Write] = [
            Put(plan.code_key, record, float(seconds)),
            Delete(plan.attempts_key),
        ]
        price = (result.data.model_extra or {}).get("price")
        if price is not None:
            try:
                amount = _policy.money(Decimal(str(price)))
            except ArithmeticError:
                amount = None
            if amount is not None and amount >= 0:
                for rule in plan.rules:
                    if isinstance(rule.check, Spend):
                        writes.append(Settle(rule.check.key, plan.member, amount))
        return writes

    def _code_hash(self, salt: bytes, number: str, code: str) -> str:
        message = b"code\0" + salt + number.encode() + b"\0" + code.encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    # --- check_code ----------------------------------------------------------------------

    def plan_check(
        self, phone_number: object, code: object, client_key: object, session: object
    ) -> tuple[Plan, str]:
        """Checks the arguments; the rules to count for a check, and the code as typed."""
        number = _validation.phone_number(phone_number)
        typed = _validation.code(code)
        caller_id = self._optional_id(b"caller", client_key, "client_key", "an IP, a session id")
        session_id = self._optional_id(b"session", session, "session", "your session's id")
        number_id = self._id(b"number", number)
        policy = self.policy
        rules = []
        masked = f"number:{_redact.mask_phone(number)}"
        if policy.attempts_per_code is not None:
            limit = Limit(f"attempts:{number_id}", policy.attempts_per_code, ATTEMPTS_WINDOW)
            rules.append(Rule("attempts", limit, masked))
        if caller_id and policy.checks_per_caller_per_hour is not None:
            limit = Limit(f"caller-checks:{caller_id}", policy.checks_per_caller_per_hour, HOUR)
            rules.append(Rule("caller_limit", limit, "caller"))
        conversions = [
            r.check for r in self._group_rules(number) if isinstance(r.check, Conversion)
        ]
        plan = Plan(
            "check_code", number, self.clock(), rules, number_id, session_id, None, conversions
        )
        return plan, typed

    def judge_check(
        self, plan: Plan, verdict: Verdict, typed: str
    ) -> tuple[Decision, Optional[VerifyCodeResult]]:
        """The decision on a check, and the local answer when TextFlow need not be asked."""
        decision = self.judge(plan, verdict, monitor=False)
        if not decision.allowed:
            return decision, None
        record = verdict.record
        masked = f"number:{_redact.mask_phone(plan.number)}"
        if record is not None and not hmac.compare_digest(record.get("x", ""), plan.session_id):
            return Decision("check_code", False, "session_mismatch", None, masked), None
        if record is None or not hmac.compare_digest(
            record.get("h", ""),
            self._code_hash(bytes.fromhex(record.get("s", "")), plan.number, typed),
        ):
            return decision, VerifyCodeResult.model_validate(_INVALID)
        return decision, None

    def verified(self, plan: Plan) -> list[Write]:
        """What a verified code records: the conversion, and a fresh start for the number."""
        writes: list[Write] = [Verified(c.key, c.window) for c in plan.conversions]
        return [*writes, Delete(plan.code_key), Delete(plan.attempts_key), Delete(plan.backoff_key)]

    # --- decisions -----------------------------------------------------------------------

    def judge(self, plan: Plan, verdict: Verdict, *, monitor: Optional[bool] = None) -> Decision:
        """The decision from a store's verdict (and a refusal made before the store)."""
        if monitor is None:
            monitor = self.policy.mode == "monitor"
        if plan.early is not None:
            return plan.early
        denial = worst(verdict.denials)
        if denial is None:
            return Decision(plan.operation, True)
        rule = plan.rules[denial.index]
        retry = None if rule.reason in _policy.FINAL else max(0.0, denial.retry_after)
        return Decision(plan.operation, monitor, rule.reason, retry, rule.key, monitor)

    def store_failed(self, plan: Plan, exc: GuardStoreError) -> Decision:
        """Fail closed (raise) unless the policy says fail open; then a logged decision."""
        if not self.policy.fail_open:
            raise exc
        logger.warning("guard store failed; %s goes on (fail_open): %s", plan.operation, exc)
        return Decision(plan.operation, True, store_failed=True)

    def record_failed(self, plan: Plan, exc: GuardStoreError) -> None:
        """The store failed after TextFlow answered: log and count it, raise nothing."""
        logger.warning(
            "guard store failed after %s was done; not recorded: %s", plan.operation, exc
        )
        self.stats.add(f"{plan.operation}.not_recorded")

    def emit(self, decision: Decision, number: str) -> None:
        """Count, hook and log ``decision``; raise the refusal if it refuses."""
        self.stats.count(decision)
        if self._on_decision is not None:
            self._on_decision(decision)
        if decision.reason is None:
            return
        exc = _policy.refusal(decision.reason, decision.retry_after)
        logger.info(
            "%s %s for %s: %s%s",
            "would refuse (monitor)" if decision.monitored else "refused",
            decision.operation,
            _redact.mask_phone(number),
            decision.reason,
            "" if exc.retry_after is None else f", retry after {math.ceil(exc.retry_after)} s",
        )
        if not decision.allowed:
            raise exc

    def lift_writes(self, target: object) -> list[Write]:
        """The writes that end a suspension: ``"prefix:+4479460"`` or ``"country:+44"``."""
        if isinstance(target, str) and ":" in target:
            group, _, value = target.partition(":")
            digits = value[1:] if value.startswith("+") else ""
            if group in ("prefix", "country") and digits.isdigit() and digits.isascii():
                kind = b"prefix" if group == "prefix" else b"country"
                hashed = self._id(kind, value if group == "prefix" else digits)
                return [Lift(f"conversion-{group}:{hashed}")]
        raise InputValidationError(
            "lift takes a Decision's key: 'prefix:+4479460' or 'country:+44'.", argument="target"
        )
