"""The ``textflowsms`` 0.1.0 functions, over a default ``TextFlowClient``.

``import textflowsms as tf; tf.useKey(KEY); tf.sendSMS(...)`` keeps working,
with the same paths, JSON bodies and ``Authorization: Bearer`` header as 0.1.0,
but over a pooled, timed-out client. The functions never raise for API,
network or input failures: they return the result model with ``ok=False`` and

* the API's own ``status`` and ``message`` when it answered;
* ``status=400`` and a clear sentence for a bad argument or a missing key;
* ``status=0`` and a sentence naming the failure when no answer came;

and, for ``verifyCode``, ``valid=False``.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Optional, TypeVar, Union

from textflow import errors
from textflow._client import TextFlowClient
from textflow._config import ENV_API_KEY, ENV_BASE_URL
from textflow._operations import SEND_CODE, SEND_SMS, VERIFY_CODE, Operation
from textflow._wire import error_result
from textflow.models import (
    Result,
    SendMessageFailed,
    SendMessageOk,
    VerifyCodeResult,
    VerifyPhoneFailed,
    VerifyPhoneOk,
)

R = TypeVar("R", bound=Result)
F = TypeVar("F", bound=Result)

NO_KEY_MESSAGE = (
    "You have not specified the API key. Call useKey(key) or set the TEXTFLOW_API_KEY "
    "environment variable."
)


class _DefaultClient:
    """The client the legacy functions share: built on first use, rebuilt on change.

    It follows ``useKey`` and the ``TEXTFLOW_API_KEY`` / ``TEXTFLOW_BASE_URL``
    environment variables as they are at each call. A change derives a client
    that shares the first one's connection pool, so nothing needs closing while
    another thread may still be using the previous one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Optional[str] = None
        self._client: Optional[TextFlowClient] = None
        self._root: Optional[TextFlowClient] = None
        self._env: tuple[Optional[str], Optional[str]] = (None, None)

    def use_key(self, key: Optional[str]) -> None:
        with self._lock:
            self._key = key
            self._client = None

    def get(self) -> TextFlowClient:
        env = (os.environ.get(ENV_API_KEY), os.environ.get(ENV_BASE_URL))
        client = self._client
        if client is not None and env == self._env:
            return client
        with self._lock:
            if self._client is None or env != self._env:
                if self._root is None:
                    self._root = self._client = TextFlowClient(self._key)
                else:  # None means: from the environment
                    self._client = self._root.with_options(api_key=self._key, base_url=None)
                self._env = env
            return self._client

    def reset(self) -> None:
        """Forget the key and close the pool (for tests and interpreter shutdown)."""
        with self._lock:
            root, self._root, self._client, self._key = self._root, None, None, None
        if root is not None:
            root.close()

    def _after_fork(self) -> None:
        # Another thread may have held the lock when the process forked: the child starts
        # with a free one. (The client's connections are its transport's business.)
        self._lock = threading.Lock()


default_client = _DefaultClient()
if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=default_client._after_fork)


def useKey(key: Optional[str]) -> None:
    """Set the API key the legacy functions use (0.1.0 API).

    ``useKey(None)`` forgets it: ``TEXTFLOW_API_KEY`` is used again.

    Examples:
        >>> import textflowsms as tf
        >>> tf.useKey("YOUR_KEY")
    """
    default_client.use_key(key)


def _failure(op: Operation[Any], exc: errors.TextFlowError) -> Result:
    """The ``ok=False`` result the legacy functions return instead of raising ``exc``."""
    if isinstance(exc, errors.APIStatusError):
        if exc.result is not None:  # the API's own answer, parsed into this function's model
            return exc.result
        status, message = exc.status, exc.message
    elif isinstance(exc, errors.APIConnectionError):
        status, message = 0, f"No answer from TextFlow: {exc}"
    elif isinstance(exc, errors.MalformedResponseError):
        # As the official Java and C# clients do for an answer they cannot read.
        status = exc.status_code if exc.status_code and exc.status_code >= 400 else 500
        message = str(exc)
    elif isinstance(exc, errors.ConfigurationError) and exc.missing == "api_key":
        status, message = 400, NO_KEY_MESSAGE
    else:  # InputValidationError, other ConfigurationError
        status, message = 400, str(exc)
    result = error_result(op, status, message)
    assert result is not None  # every legacy model takes ok/status/message
    return result


def _never_raising(op: Operation[R], failed: type[F], call: Callable[[], R]) -> Union[R, F]:
    """``call()`` (a client method on the default client), or its failure as a ``failed``
    result (``op.failed_model``, with ``ok=False``)."""
    try:
        return call()
    except errors.TextFlowError as exc:
        result = _failure(op, exc)
        assert isinstance(result, failed), result  # error_result builds op.failed_model
        return result


# Each function is its client method on the default client (`default_client.get()` is inside
# the call: a missing key is a 400 result too). Written out, not generated, so that readers,
# IDEs and the API reference see their signatures and docstrings.


def sendSMS(phone_number: str, text: str) -> Union[SendMessageOk, SendMessageFailed]:
    """Send one SMS (0.1.0 API): `TextFlowClient.send_sms` on the default client.

    Args:
        phone_number: The recipient in E.164 form, e.g. ``"+11234567890"``.
        text: The message.

    Returns:
        The API's answer, a `SendMessageOk`; or, when the call failed, a
            `SendMessageFailed` with ``ok=False``, ``status`` and ``message`` (400 for
            bad input or no key, 0 for no answer). After ``if result.ok:`` a type
            checker knows ``result.data`` is there.

    Examples:
        >>> import textflowsms as tf
        >>> result = tf.sendSMS("+11234567890", "Hello")
        >>> print(result.data if result.ok else result.message)
    """
    return _never_raising(
        SEND_SMS, SendMessageFailed, lambda: default_client.get().send_sms(phone_number, text)
    )


def sendVerificationSMS(
    phone_number: str, service_name: str = "", seconds: int = 600
) -> Union[VerifyPhoneOk, VerifyPhoneFailed]:
    """Send a verification code by SMS (0.1.0 API): `TextFlowClient.send_verification_sms`.

    Runs on the default client, and returns a result with ``ok=False`` instead
    of raising.

    Args:
        phone_number: The number to verify, in E.164 form.
        service_name: Your product's name, shown in the SMS.
        seconds: How long the code stays valid, 1 to 86400 (one day); default 600.

    Returns:
        The API's answer, a `VerifyPhoneOk`; or, when the call failed, a
            `VerifyPhoneFailed` with ``ok=False``, ``status`` and ``message`` (400 for
            bad input or no key, 0 for no answer). After ``if result.ok:`` a type
            checker knows ``result.data`` is there.

    Examples:
        >>> import textflowsms as tf
        >>> result = tf.sendVerificationSMS("+11234567890", "Acme", 600)
        >>> print(result.ok, result.status, result.message)
    """
    return _never_raising(
        SEND_CODE,
        VerifyPhoneFailed,
        lambda: default_client.get().send_verification_sms(phone_number, service_name, seconds),
    )


def verifyCode(phone_number: str, code: Union[str, int]) -> VerifyCodeResult:
    """Check the code the user typed (0.1.0 API): `TextFlowClient.verify_code`.

    Runs on the default client, and returns a result with ``ok=False`` and
    ``valid=False`` instead of raising. Also importable as ``VerifyCode``.

    Args:
        phone_number: The number the code was sent to.
        code: What the user typed (str or int; surrounding whitespace is removed).

    Returns:
        ``result.valid`` is the verdict: ``False`` for a wrong or expired code,
            and for a call that failed (then ``ok=False`` too).

    Examples:
        >>> import textflowsms as tf
        >>> result = tf.verifyCode("+11234567890", "123456")
        >>> print(result.valid)
    """
    return _never_raising(
        VERIFY_CODE, VerifyCodeResult, lambda: default_client.get().verify_code(phone_number, code)
    )


VerifyCode = verifyCode  # the name 0.1.0's README used
