# Generated from textflow/guard/_async.py by scripts/unasync.py: do not edit by hand.
"""``VerificationGuard``: the rules around the verification calls of `TextFlowClient`.

Generated from the async twin by scripts/unasync.py: edit that one, not this.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Union

from textflow._client import TextFlowClient
from textflow.errors import GuardStoreError
from textflow.guard._core import GuardCore, OnDecision, Secret, check_client, default_secret
from textflow.guard._decision import Decision
from textflow.guard._policy import GuardPolicy
from textflow.guard._store import GuardStore
from textflow.guard._sync_store import OTHER_GUARD, guard_store
from textflow.models import VerifyCodeResult, VerifyPhoneOk


class VerificationGuard:
    """Sends and checks verification codes through ``client``, within the ``policy``'s limits.

    A call the rules refuse raises `VerificationRefused` before anything is
    sent or checked. Each decision is one atomic step in the store, so
    concurrent calls cannot slip past a limit together. The guard keeps a
    salted, keyed hash of the latest code per number (never the code): an old
    or wrong code is refused here, and TextFlow is asked only about the right one.

    Args:
        client: The `TextFlowClient` that sends and checks codes (not closed by the guard).
        policy: The limits; `GuardPolicy()` defaults if None.
        store: Where state lives: `MemoryStore()` (the default; one process),
            `SQLiteStore` (processes on one machine) or `RedisStore` (many machines).
            The async guard also takes `AsyncRedisStore` (asyncio), and calls a
            blocking store from a worker thread (so it works under trio too).
        secret: Key of the HMAC that hides phone numbers, prefixes, codes and
            ``client_key`` in the store; defaults to a hash of the client's API
            key. Give every guard sharing a store the same secret.
        clock: Seconds since the epoch, like ``time.time`` (the default); for tests.
        on_decision: Called with each `Decision` (allowed, refused, or what
            monitor mode would have refused), before a refusal is raised.

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
        on_decision: Optional[OnDecision] = None,
    ) -> None:
        check_client(client, TextFlowClient, type(self).__name__, OTHER_GUARD)
        secret = default_secret(client) if secret is None else secret
        self._core = GuardCore(policy, secret, clock, on_decision)
        self._client = client
        self._store = guard_store(store)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(policy={self.policy!r}, store={self._store!r})"

    @property
    def policy(self) -> GuardPolicy:
        """The limits this guard enforces."""
        return self._core.policy

    def stats(self) -> dict[str, int]:
        """How many decisions this guard made, by outcome.

        Keys are ``"<operation>.allowed"``, ``"<operation>.refused.<reason>"``,
        ``"<operation>.monitored.<reason>"`` (monitor mode let it through),
        ``"<operation>.store_failed"`` (the store failed before the call and
        ``fail_open`` let it through) and ``"<operation>.not_recorded"`` (the
        store failed after TextFlow answered; the result was returned); e.g.
        ``{"send_code.allowed": 12, "send_code.refused.prefix_velocity": 3}``.
        """
        return self._core.stats.snapshot()

    def send_code(
        self,
        phone_number: str,
        *,
        service_name: str = "",
        seconds: int = 600,
        client_key: Optional[str] = None,
        session: Optional[str] = None,
    ) -> VerifyPhoneOk:
        """Send a verification code, if the rules allow; only this latest code is then valid.

        Args:
            phone_number: The number to verify, in E.164 form.
            service_name: Your product's name, shown in the SMS.
            seconds: How long the code stays valid, 1 to 86400; default 600.
            client_key: What you know of the caller (IP address), for the
                per-caller limit; None skips that limit.
            session: Your session's id: the code can then be checked only with
                the same ``session`` (``"session_mismatch"`` otherwise).

        Raises:
            VerificationRefused: A rule refused; nothing was sent.
            GuardStoreError: The store failed before the send (unless ``fail_open``);
                nothing was sent. A store failing *after* the send does not raise: the
                code went out, so the result is returned, the failure logged and
                counted (``stats()["send_code.not_recorded"]``); that code is then
                not recorded, so checking it gets ``valid=False``: send a new one.
            InputValidationError: A bad argument; nothing was counted or sent.
            APIStatusError, APIConnectionError: From the client. The call still
                counts against the limits (the SMS may have gone out).
        """
        plan = self._core.plan_send(phone_number, service_name, seconds, client_key, session)
        decision: Optional[Decision] = plan.early
        if decision is None or decision.allowed:
            monitor = self.policy.mode == "monitor"
            try:
                verdict = self._store.decide(plan.now, plan.checks, always=monitor)
            except GuardStoreError as exc:
                decision = self._core.store_failed(plan, exc)
            else:
                decision = self._core.judge(plan, verdict)
        self._core.emit(decision, plan.number)
        result = self._client.send_verification_sms(plan.number, service_name, seconds)
        writes = self._core.sent(plan, result, seconds)
        try:
            self._store.write(plan.now, writes)
        except GuardStoreError as exc:  # the SMS went out: say so, never "failed"
            self._core.record_failed(plan, exc)
        return result

    def check_code(
        self,
        phone_number: str,
        code: Union[str, int],
        *,
        client_key: Optional[str] = None,
        session: Optional[str] = None,
    ) -> VerifyCodeResult:
        """Check the code the user typed; TextFlow is asked only about the latest code sent.

        Each check counts as an attempt. A code that is not the latest one
        sent to the number (wrong, older, or none sent) gets ``valid=False``
        here, without asking TextFlow; the right one is checked by TextFlow,
        so its expiry still applies. A valid code resets the attempts and the
        number's growing cooldown.

        Raises:
            VerificationRefused: ``"attempts"``: too many wrong codes, send a new
                one; ``"caller_limit"``: too many checks from ``client_key``;
                ``"session_mismatch"``: the code was sent for another
                ``session``. TextFlow was not asked.
            GuardStoreError: The store failed (unless ``fail_open``: then TextFlow is asked).
                Failing to record a valid code afterwards does not raise (the
                result is returned, the failure logged and counted).
            InputValidationError: A bad argument; nothing was counted or checked.
        """
        plan, typed = self._core.plan_check(phone_number, code, client_key, session)
        try:
            verdict = self._store.decide(plan.now, plan.checks, read=plan.code_key)
        except GuardStoreError as exc:
            self._core.emit(self._core.store_failed(plan, exc), plan.number)
            return self._client.verify_code(plan.number, code)
        decision, local = self._core.judge_check(plan, verdict, typed)
        self._core.emit(decision, plan.number)
        if local is not None:
            return local
        result = self._client.verify_code(plan.number, code)
        if result.valid:
            try:
                self._store.write(plan.now, self._core.verified(plan))
            except GuardStoreError as exc:  # TextFlow said valid: the user is verified
                self._core.record_failed(plan, exc)
        return result

    def lift(self, target: str) -> None:
        """End a ``low_conversion`` suspension now: ``"prefix:+4479460"`` or ``"country:+44"``.

        ``target`` is the ``key`` of the `Decision` that reported it. The
        group's counts start over.
        """
        writes = self._core.lift_writes(target)
        self._store.write(self._core.clock(), writes)
