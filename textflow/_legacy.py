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

import inspect
import os
import threading
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, Union

from textflow import errors
from textflow._client import TextFlowClient
from textflow._config import ENV_API_KEY, ENV_BASE_URL
from textflow._operations import OPERATIONS, Operation, error_result
from textflow.models import Result, SendMessageFailed, VerifyCodeResult, VerifyPhoneFailed

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    P = ParamSpec("P")

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


def _shim(
    name: str, method: Callable[Concatenate[TextFlowClient, P], R], failed: type[F]
) -> Callable[P, Union[R, F]]:
    """The legacy function ``name``: ``method`` on the default client, never raising: its
    failures are ``failed`` results (``ok=False``; ``op.failed_model``)."""
    op: Operation[R] = OPERATIONS[method.__name__]
    assert op.failed_model is failed

    def legacy(*args: P.args, **kwargs: P.kwargs) -> Union[R, F]:
        try:
            return method(default_client.get(), *args, **kwargs)
        except errors.TextFlowError as exc:
            return _failure(op, exc)  # type: ignore[return-value]  # an op.failed_model

    signature = inspect.signature(method)
    returned = signature.return_annotation
    legacy.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:],
        return_annotation=(
            returned if returned == failed.__name__ else f"Union[{returned}, {failed.__name__}]"
        ),
    )
    legacy.__name__ = legacy.__qualname__ = name
    legacy.__module__ = "textflow"
    legacy.__doc__ = _doc(name, method)
    return legacy


def _doc(name: str, method: Callable[..., Any]) -> str:
    summary = (method.__doc__ or "").strip().splitlines()[0]
    parameters = list(inspect.signature(method).parameters)[1:]
    example_args = {
        "phone_number": '"+11234567890"',
        "text": '"Hello"',
        "service_name": '"Acme"',
        "seconds": "600",
        "code": "user_entered_code",
    }
    call = ", ".join(example_args[p] for p in parameters)
    return (
        f"{summary}\n\n"
        f"The textflowsms 0.1.0 function: `TextFlowClient.{method.__name__}` on the default "
        "client (see `useKey`), returning the result with `ok=False` instead of raising.\n\n"
        f"Examples:\n    >>> import textflowsms as tf\n    >>> result = tf.{name}({call})\n"
        "    >>> print(result.ok, result.status, result.message)\n"
    )


# The table: legacy name -> client method.
sendSMS = _shim("sendSMS", TextFlowClient.send_sms, SendMessageFailed)
sendVerificationSMS = _shim(
    "sendVerificationSMS", TextFlowClient.send_verification_sms, VerifyPhoneFailed
)
verifyCode = _shim("verifyCode", TextFlowClient.verify_code, VerifyCodeResult)
VerifyCode = verifyCode
