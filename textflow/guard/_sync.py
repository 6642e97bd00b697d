# Generated from textflow/guard/_async.py by scripts/unasync.py: do not edit by hand.
"""``VerificationGuard``: the rules around the verification calls of `TextFlowClient`.

Generated from the async twin by scripts/unasync.py: edit that one, not this.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Union

from textflow._client import TextFlowClient
from textflow.guard._core import GuardCore, Secret, check_client, default_secret
from textflow.guard._policy import GuardPolicy
from textflow.guard._store import GuardStore
from textflow.guard._sync_store import OTHER_GUARD, guard_store
from textflow.models import VerifyCodeResult, VerifyPhoneOk


class VerificationGuard:
    """Sends and checks verification codes through ``client``, within the ``policy``'s limits.

    A call the rules refuse raises `VerificationRefused` before anything is
    sent or checked. Counting is atomic in the store, so concurrent calls
    cannot slip past a limit together.

    Args:
        client: The `TextFlowClient` that sends and checks codes (not closed by the guard).
        policy: The limits; `GuardPolicy()` defaults if None.
        store: Where counts live: `MemoryStore()` (the default; one process),
            `SQLiteStore` (processes on one machine) or `RedisStore` (many machines).
            The async guard also takes `AsyncRedisStore` (asyncio), and calls a
            blocking store from a worker thread (so it works under trio too).
        secret: Key of the HMAC that hides phone numbers and ``client_key`` in
            the store; defaults to a hash of the client's API key. Give every
            guard sharing a store the same secret.
        clock: Seconds since the epoch, like ``time.time`` (the default); for tests.

    Examples:
        >>> guard = VerificationGuard(client, policy=GuardPolicy(allowed_calling_codes={"1"}))
        >>> guard.send_code("+11234567890", service_name="Acme", client_key="203.0.113.7")
        >>> result = guard.check_code("+11234567890", "123456", client_key="203.0.113.7")
        >>> result.valid
        False
    """

    def __init__(
        self,
        client: TextFlowClient,
        *,
        policy: Optional[GuardPolicy] = None,
        store: Optional[GuardStore] = None,
        secret: Optional[Secret] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_client(client, TextFlowClient, type(self).__name__, OTHER_GUARD)
        self._core = GuardCore(policy, default_secret(client) if secret is None else secret, clock)
        self._client = client
        self._store = guard_store(store)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(policy={self.policy!r}, store={self._store!r})"

    @property
    def policy(self) -> GuardPolicy:
        """The limits this guard enforces."""
        return self._core.policy

    def send_code(
        self,
        phone_number: str,
        *,
        service_name: str = "",
        seconds: int = 600,
        client_key: Optional[str] = None,
    ) -> VerifyPhoneOk:
        """Send a verification code, if the rules allow; a new code resets the wrong attempts.

        Args:
            phone_number: The number to verify, in E.164 form.
            service_name: Your product's name, shown in the SMS.
            seconds: How long the code stays valid, 1 to 86400; default 600.
            client_key: What you know of the caller (IP address, session id),
                for the per-caller limit; None skips that limit.

        Raises:
            VerificationRefused: A rule refused; nothing was sent.
            InputValidationError: A bad argument; nothing was counted or sent.
            APIStatusError, APIConnectionError: From the client. The call still
                counts against the limits (the SMS may have gone out).
        """
        plan = self._core.plan_send(phone_number, service_name, seconds, client_key)
        if plan.rules:
            denial = self._store.acquire(plan.now, plan.limits)
            if denial is not None:
                raise self._core.refused("send_code", plan, denial)
        result = self._client.send_verification_sms(plan.number, service_name, seconds)
        self._store.clear([plan.attempts_key])
        return result

    def check_code(
        self, phone_number: str, code: Union[str, int], client_key: Optional[str] = None
    ) -> VerifyCodeResult:
        """Check the code the user typed, if the number's code is not burned.

        Each check counts as an attempt before TextFlow is asked; a valid code
        resets the count. ``result.valid`` is the verdict, as for
        `TextFlowClient.verify_code`.

        Raises:
            VerificationRefused: ``"attempts"``: too many wrong codes, send a new
                one; ``"caller_limit"``: too many checks from ``client_key``.
                TextFlow was not asked.
            InputValidationError: A bad argument; nothing was counted or checked.
        """
        plan = self._core.plan_check(phone_number, code, client_key)
        if plan.rules:
            denial = self._store.acquire(plan.now, plan.limits)
            if denial is not None:
                raise self._core.refused("check_code", plan, denial)
        result = self._client.verify_code(plan.number, code)
        if result.valid:
            self._store.clear([plan.attempts_key])
        return result
