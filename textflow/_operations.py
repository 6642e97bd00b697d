"""The one table of the API's operations: every fact about an operation, no I/O.

Each `Operation` says its client method (``name``), HTTP method and path,
whether re-sending it is harmless, its result models, whether it sends an SMS,
and its ``textflow`` command. Everything else is derived from ``OPERATIONS``:
the fake's routes (`textflow.testing`), the CLI's API commands
(`textflow._cli`), the lazily imported model names of `textflow`, and the
legacy shim. `textflow._wire` builds an operation's request and reads its
answer.

This module stays light (no httpx, no pydantic): ``textflow --help`` and
``import textflow`` read the table. The models are named here and imported on
first use of ``Operation.model``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, Optional, TypeVar

from textflow import _validation as check

if TYPE_CHECKING:
    from textflow.models import (
        BalanceResult,
        BulkSMSResult,
        Result,
        SendMessageOk,
        VerifyCodeResult,
        VerifyPhoneOk,
    )

ResultT = TypeVar("ResultT", bound="Result")

#: The module that holds every operation's models.
MODELS_MODULE = "textflow.models"


class _Models:
    """`textflow.models`, imported on first attribute access.

    The clients name their return types through it (``-> models.SendMessageOk``), so
    ``typing.get_type_hints`` still resolves them, while importing a client loads no
    pydantic: the models load with the first answer.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and introspection probing: not a model
            raise AttributeError(name)
        return getattr(importlib.import_module(MODELS_MODULE), name)

    def __repr__(self) -> str:
        return f"<{MODELS_MODULE}, loaded on first use>"


#: `textflow.models` for the clients' annotations (see `_Models`).
LAZY_MODELS: Any = _Models()


@dataclass(frozen=True)
class Operation(Generic[ResultT]):
    """One API operation. ``name`` is the client method that performs it.

    Attributes:
        name: The client method (``send_sms``); also the operation's name in the
            fake (``fail_next("send_sms")``).
        method: The HTTP method.
        path: The path under the base URL.
        read_only: Re-sending it cannot change anything: safe to retry after it may
            have arrived.
        model_name: What the client returns, an answer with ``"ok": true``: a class
            of `textflow.models` (see ``model``).
        failed_model_name: The same answer with ``"ok": false`` (``exc.result``, the
            legacy results): a class of `textflow.models` (see ``failed_model``).
        sends_sms: It sends SMS and costs credits (the fake's ``fail_rate`` applies).
        command: The ``textflow`` command that performs it; None for none.
        legacy_name: The 0.1.0 function that performs it (``sendSMS``), never raising:
            a failure is a ``failed_model`` result; "" for none. scripts/unasync.py
            writes these functions into ``textflow/_legacy.py``.
        legacy_aliases: Other 0.1.0 names of that function (``VerifyCode``).
        legacy_model_name: What that function returns on success, when it differs from
            ``model_name`` (0.1.0's types: ``sendSMS``'s price is a float); "" for the same.
    """

    name: str
    method: str
    path: str
    read_only: bool
    model_name: str
    failed_model_name: str
    sends_sms: bool = False
    command: Optional[str] = None
    legacy_name: str = ""
    legacy_aliases: tuple[str, ...] = ()
    legacy_model_name: str = ""

    @cached_property
    def model(self) -> type[ResultT]:
        """The class named ``model_name`` (imports `textflow.models` on first use)."""
        model: type[ResultT] = getattr(importlib.import_module(MODELS_MODULE), self.model_name)
        return model

    @cached_property
    def failed_model(self) -> type[Result]:
        """The class named ``failed_model_name``."""
        model: type[Result] = getattr(
            importlib.import_module(MODELS_MODULE), self.failed_model_name
        )
        return model

    @cached_property
    def legacy_model(self) -> type[Result]:
        """The class named ``legacy_model_name``, else ``model``."""
        if not self.legacy_model_name:
            return self.model
        model: type[Result] = getattr(
            importlib.import_module(MODELS_MODULE), self.legacy_model_name
        )
        return model

    def may_have_been_sent(self, *, written: bool, processed: bool = True) -> bool:
        """Whether a failed call may still have done what it asks (sent an SMS, used a code).

        ``written``: the request may have reached TextFlow. ``processed``: TextFlow did
        not refuse it (a 4xx, 429 included, says it did nothing). A read-only
        operation sends nothing, whatever happened.
        """
        return not self.read_only and written and processed


SEND_SMS: Operation[SendMessageOk] = Operation(
    "send_sms",
    "POST",
    "/send-sms",
    False,
    "SendMessageOk",
    "SendMessageFailed",
    sends_sms=True,
    command="send",
    legacy_name="sendSMS",
    legacy_model_name="LegacySendMessageOk",  # 0.1.0's price was a float
)
SEND_CODE: Operation[VerifyPhoneOk] = Operation(
    "send_verification_sms",
    "POST",
    "/send-code",
    False,
    "VerifyPhoneOk",
    "VerifyPhoneFailed",
    sends_sms=True,
    command="send-code",
    legacy_name="sendVerificationSMS",
)
VERIFY_CODE: Operation[VerifyCodeResult] = Operation(
    "verify_code",
    "POST",
    "/verify-code",
    False,
    "VerifyCodeResult",
    "VerifyCodeResult",
    command="verify-code",
    legacy_name="verifyCode",
    legacy_aliases=("VerifyCode",),  # the name 0.1.0's README used
)
BULK_SMS: Operation[BulkSMSResult] = Operation(
    "send_bulk_sms",
    "POST",
    "/bulk-sms",
    False,
    "BulkSMSResult",
    "BulkSMSResult",
    sends_sms=True,
    command="bulk",
)
BALANCE: Operation[BalanceResult] = Operation(
    "get_balance",
    "GET",
    "/balance",
    True,
    "BalanceResult",
    "BalanceFailed",
    command="balance",
)

#: Every operation by name, in the order the docs and ``textflow --help`` list them.
OPERATIONS: dict[str, Operation[Any]] = {
    op.name: op for op in (SEND_SMS, SEND_CODE, VERIFY_CODE, BULK_SMS, BALANCE)
}


# The payload of each operation, checked before anything is sent. The legacy
# sendVerificationSMS always sent all three fields, and so do we.
def send_sms_payload(phone_number: object, text: object) -> dict[str, Any]:
    return {"phone_number": check.phone_number(phone_number), "text": check.text(text)}


def send_code_payload(
    phone_number: object, service_name: object, seconds: object
) -> dict[str, Any]:
    return {
        "phone_number": check.phone_number(phone_number),
        "service_name": check.service_name(service_name),
        "seconds": check.seconds(seconds),
    }


def verify_code_payload(phone_number: object, code: object) -> dict[str, Any]:
    return {"phone_number": check.phone_number(phone_number), "code": check.code(code)}


def bulk_sms_payload(phone_numbers: object, text: object) -> dict[str, Any]:
    return {"phone_numbers": check.phone_numbers(phone_numbers), "text": check.text(text)}
