"""What the generated legacy functions (``textflow/_legacy.py``) run on: written by hand.

The default client the ``tf.*`` functions share, ``useKey``, and the mapping of
an exception to the ``ok=False`` result those functions return instead of raising.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Optional, TypeVar, Union

from textflow import errors
from textflow._client import TextFlowClient
from textflow._config import ENV_API_KEY, ENV_BASE_URL
from textflow._operations import Operation
from textflow._wire import error_result
from textflow.models import Result

L = TypeVar("L", bound=Result)
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


def never_raising(
    op: Operation[Any], ok: type[L], failed: type[F], call: Callable[[], Result]
) -> Union[L, F]:
    """``call()`` (a client method on the default client) as an ``ok`` result (the
    operation's ``legacy_model``: 0.1.0's types), or its failure as a ``failed`` result
    (``op.failed_model``, with ``ok=False``)."""
    try:
        result = call()
    except errors.TextFlowError as exc:
        failure = _failure(op, exc)
        assert isinstance(failure, failed), failure  # error_result builds op.failed_model
        return failure
    if isinstance(result, ok):
        return result
    # The same answer in 0.1.0's types (a price as a float): the fields it was given, and
    # only those, so that str(result) shows what it showed.
    return ok.model_validate(result.model_dump(exclude_unset=True))
