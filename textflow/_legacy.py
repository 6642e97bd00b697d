# Generated from textflow/_operations.py by scripts/unasync.py: do not edit by hand.
"""The ``textflowsms`` 0.1.0 functions, over a default ``TextFlowClient``.

``import textflowsms as tf; tf.useKey(KEY); tf.sendSMS(...)`` keeps working,
with the same paths, JSON bodies and ``Authorization: Bearer`` header as 0.1.0,
but over a pooled, timed-out client. The functions never raise for API,
network or input failures: they return the result model with ``ok=False`` and

* the API's own ``status`` and ``message`` when it answered;
* ``status=400`` and a clear sentence for a bad argument or a missing key;
* ``status=0`` and a sentence naming the failure when no answer came;

and, for ``verifyCode``, ``valid=False``.

One function per operation of ``textflow._operations.OPERATIONS`` that has a
0.1.0 name, written out (static signatures and docstrings, for readers, IDEs
and the API reference) by scripts/unasync.py; what they run on is
``textflow._legacy_runtime``, written by hand.
"""

from __future__ import annotations

from typing import Union

from textflow._legacy_runtime import default_client, never_raising, useKey
from textflow._operations import SEND_CODE, SEND_SMS, VERIFY_CODE
from textflow.models import (
    LegacySendMessageOk,
    SendMessageFailed,
    VerifyCodeResult,
    VerifyPhoneFailed,
    VerifyPhoneOk,
)

__all__ = ["VerifyCode", "default_client", "sendSMS", "sendVerificationSMS", "useKey", "verifyCode"]


def sendSMS(phone_number: str, text: str) -> Union[LegacySendMessageOk, SendMessageFailed]:
    """Send one SMS (0.1.0 API): `TextFlowClient.send_sms`.

    Runs on the default client (the key of ``useKey``, else ``TEXTFLOW_API_KEY``) and never
    raises for API, network or input failures: it returns a result with ``ok=False`` instead.

    Args:
        phone_number: The recipient in E.164 form, e.g. ``"+11234567890"``;
            spaces, dashes, dots and brackets are removed first.
        text: The message.

    Returns:
        The API's answer, a `LegacySendMessageOk`; or, when the call failed, a
            `SendMessageFailed` with ``ok=False``, ``status`` and ``message`` (400 for bad input
            or no key, 0 for no answer). After ``if result.ok:`` a type checker knows
            ``result.data`` is there.

    Examples:
        >>> import textflowsms as tf
        >>> result = tf.sendSMS("+11234567890", "Your order has shipped")
        >>> print(result.ok, result.status, result.message)
    """
    return never_raising(
        SEND_SMS,
        LegacySendMessageOk,
        SendMessageFailed,
        lambda: default_client.get().send_sms(phone_number, text),
    )


def sendVerificationSMS(
    phone_number: str, service_name: str = "", seconds: int = 600
) -> Union[VerifyPhoneOk, VerifyPhoneFailed]:
    """Send a verification code by SMS (0.1.0 API): `TextFlowClient.send_verification_sms`.

    Runs on the default client (the key of ``useKey``, else ``TEXTFLOW_API_KEY``) and never
    raises for API, network or input failures: it returns a result with ``ok=False`` instead.

    Args:
        phone_number: The number to verify, in E.164 form.
        service_name: Your product's name, shown in the SMS.
        seconds: How long the code stays valid, 1 to 86400 (one day); default 600.

    Returns:
        The API's answer, a `VerifyPhoneOk`; or, when the call failed, a `VerifyPhoneFailed`
            with ``ok=False``, ``status`` and ``message`` (400 for bad input or no key, 0 for no
            answer). After ``if result.ok:`` a type checker knows ``result.data`` is there.

    Examples:
        >>> import textflowsms as tf
        >>> result = tf.sendVerificationSMS("+11234567890", "Acme", seconds=300)
        >>> print(result.ok, result.status, result.message)
    """
    return never_raising(
        SEND_CODE,
        VerifyPhoneOk,
        VerifyPhoneFailed,
        lambda: default_client.get().send_verification_sms(phone_number, service_name, seconds),
    )


def verifyCode(phone_number: str, code: Union[str, int]) -> VerifyCodeResult:
    """Check the code the user typed (0.1.0 API): `TextFlowClient.verify_code`.

    Runs on the default client (the key of ``useKey``, else ``TEXTFLOW_API_KEY``) and never
    raises for API, network or input failures: it returns a result with ``ok=False`` and
    ``valid=False`` instead. Also importable as ``VerifyCode``.

    Args:
        phone_number: The number the code was sent to.
        code: What the user typed (str or int; surrounding whitespace is removed).
            An int loses leading zeros (``0451`` is ``451``): pass a str for those.
            A bool or a negative int is refused.

    Returns:
        The API's answer, a `VerifyCodeResult`; when the call failed, one with ``ok=False``,
            ``valid=False``, ``status`` and ``message`` (400 for bad input or no key, 0 for no
            answer).

    Examples:
        >>> import textflowsms as tf
        >>> result = tf.verifyCode("+11234567890", "123456")
        >>> print(result.ok, result.status, result.message)
    """
    return never_raising(
        VERIFY_CODE,
        VerifyCodeResult,
        VerifyCodeResult,
        lambda: default_client.get().verify_code(phone_number, code),
    )


VerifyCode = verifyCode
