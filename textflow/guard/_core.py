"""What the sync and async guards share: argument checks, hashed keys, rules, refusals.

The guards differ only in ``await``: each call is "plan, ask the store, call
the client, tidy up", and every step but the I/O lives here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from dataclasses import dataclass
from typing import Callable, Optional, Union

from textflow import _redact, _validation
from textflow._async_client import AsyncTextFlowClient
from textflow._client import TextFlowClient
from textflow.errors import ConfigurationError, InputValidationError, Reason, VerificationRefused
from textflow.guard import _policy
from textflow.guard._policy import GuardPolicy, Rule
from textflow.guard._store import Denial, Limit

Secret = Union[str, bytes]

#: Refusals are logged here at INFO: under the ``textflow`` logger, so ``TEXTFLOW_LOG``
#: and the handlers on ``textflow`` apply; a name of its own, to filter or tune.
logger = logging.getLogger("textflow.guard")

_DEFAULT_SECRET_LABEL = b"textflow.guard secret from the API key\0"


def default_secret(client: Union[TextFlowClient, AsyncTextFlowClient]) -> bytes:
    """A secret derived from the client's API key: a hash of it, never the key itself."""
    return hashlib.sha256(_DEFAULT_SECRET_LABEL + client._api_key.encode()).digest()


@dataclass(frozen=True)
class Plan:
    """One guarded call, checked and ready: the number to use and what to count."""

    number: str
    now: float
    rules: list[Rule]
    attempts_key: str

    @property
    def limits(self) -> list[Limit]:
        return [rule.limit for rule in self.rules]


def check_client(client: object, expected: type[object], guard: str, other: str) -> None:
    """A guard's client must be the kind it awaits (or does not)."""
    if not isinstance(client, expected):
        raise ConfigurationError(
            f"{guard} works with {expected.__name__}, not {type(client).__name__}"
            f" (for the other kind of client, use {other})."
        )


class GuardCore:
    """Policy, keyed hashing and clock of one guard."""

    def __init__(
        self,
        policy: Optional[GuardPolicy],
        secret: Secret,
        clock: Callable[[], float],
    ) -> None:
        if policy is None:
            policy = GuardPolicy()
        if not isinstance(policy, GuardPolicy):
            raise ConfigurationError(f"policy must be a GuardPolicy, not {type(policy).__name__}.")
        if isinstance(secret, str):
            secret = secret.encode()
        if not isinstance(secret, bytes) or not secret:
            raise ConfigurationError("secret must be a non-empty str or bytes.")
        self.policy = policy
        self._secret = secret
        self.clock = clock

    def _id(self, kind: bytes, value: str) -> str:
        """A keyed hash of ``value``: the store sees this, never a number or caller."""
        digest = hmac.new(self._secret, kind + b"\0" + value.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def _caller_id(self, client_key: object) -> Optional[str]:
        if client_key is None:
            return None
        if not isinstance(client_key, str) or not client_key.strip():
            raise InputValidationError(
                "client_key must be a non-empty str (an IP address, a session id) or None.",
                argument="client_key",
            )
        return self._id(b"caller", client_key)

    def plan_send(
        self, phone_number: object, service_name: object, seconds: object, client_key: object
    ) -> Plan:
        """Checks the arguments and the country rules; the rules to count for a send."""
        number = _validation.phone_number(phone_number)
        _validation.service_name(service_name)
        _validation.seconds(seconds)
        caller_id = self._caller_id(client_key)
        now = self.clock()
        if not _policy.country_allowed(self.policy, number):
            raise self._refused("send", number, "country", None)
        number_id = self._id(b"number", number)
        rules = _policy.send_rules(self.policy, number_id, caller_id)
        return Plan(number, now, rules, _policy.attempts_key(number_id))

    def plan_check(self, phone_number: object, code: object, client_key: object) -> Plan:
        """Checks the arguments; the rules to count for a check."""
        number = _validation.phone_number(phone_number)
        _validation.code(code)
        caller_id = self._caller_id(client_key)
        number_id = self._id(b"number", number)
        rules = _policy.check_rules(self.policy, number_id, caller_id)
        return Plan(number, self.clock(), rules, _policy.attempts_key(number_id))

    def refused(self, operation: str, plan: Plan, denial: Denial) -> VerificationRefused:
        """The exception for a store's denial, logged."""
        reason = plan.rules[denial.index].reason
        return self._refused(operation, plan.number, reason, denial.retry_after)

    def _refused(
        self, operation: str, number: str, reason: Reason, retry_after: Optional[float]
    ) -> VerificationRefused:
        exc = _policy.refusal(reason, retry_after)
        logger.info(
            "refused %s for %s: %s%s",
            operation,
            _redact.mask_phone(number),
            reason,
            "" if exc.retry_after is None else f", retry after {math.ceil(exc.retry_after)} s",
        )
        return exc
