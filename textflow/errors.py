"""The exceptions the SDK raises.

Every exception derives from `TextFlowError`, so ``except TextFlowError``
catches anything the SDK raises on purpose::

    TextFlowError
    ├── ConfigurationError                  no key, bad base_url
    ├── ClientStateError (RuntimeError)     closed, or used from a second event loop
    ├── InputValidationError (ValueError)   bad argument, raised before any request
    ├── APIConnectionError                  no answer / connection broke
    │   └── APITimeoutError
    ├── MalformedResponseError              answer is not the JSON the API promises
    └── APIStatusError                      the API said no
        ├── BadRequestError                 400
        ├── AuthenticationError             401, or a message about the API key
        ├── PermissionDeniedError           403
        ├── NotFoundError                   404
        ├── RateLimitError                  429
        └── InternalServerError             5xx

No message built here ever contains the API key or a verification code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import httpx

    from textflow.models import Result

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientStateError",
    "ConfigurationError",
    "InputValidationError",
    "InternalServerError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "TextFlowError",
]


class TextFlowError(Exception):
    """Base class of every exception the SDK raises.

    Examples:
        >>> try:
        ...     TextFlowClient(api_key="").get_balance()
        ... except TextFlowError as exc:
        ...     print(type(exc).__name__)
        ConfigurationError
    """


class ConfigurationError(TextFlowError):
    """The client cannot be built as asked: no API key, or an unusable ``base_url``.

    Attributes:
        missing: The name of a required setting that was not given at all
            (``"api_key"``), or ``None`` when a setting was given but is unusable.

    Examples:
        >>> TextFlowClient(api_key="k", base_url="http://example.com/api")
        Traceback (most recent call last):
        textflow.errors.ConfigurationError: ...
    """

    def __init__(self, message: str, *, missing: Optional[str] = None) -> None:
        super().__init__(message)
        self.missing = missing


class ClientStateError(TextFlowError, RuntimeError):
    """The client cannot be used now: it was closed, or it belongs to another event loop.

    Examples:
        >>> client.close()
        >>> client.get_balance()
        Traceback (most recent call last):
        textflow.errors.ClientStateError: This client is closed ...
    """


class InputValidationError(TextFlowError, ValueError):
    """An argument is not acceptable; raised before anything is sent.

    It is also a `ValueError`, so code that already catches ``ValueError``
    keeps working.

    Attributes:
        argument: The name of the offending parameter, e.g. ``"phone_number"``.

    Examples:
        >>> client.send_sms("12345", "hi")
        Traceback (most recent call last):
        textflow.errors.InputValidationError: phone_number must be ...
    """

    def __init__(self, message: str, *, argument: str) -> None:
        super().__init__(message)
        self.argument = argument


class APIConnectionError(TextFlowError):
    """No answer came from the API: the connection failed or broke.

    Attributes:
        request: The request that was being sent, if any (its ``Authorization``
            header holds the key: do not log it).

    Examples:
        >>> try:
        ...     client.send_sms("+11234567890", "hi")
        ... except APIConnectionError:
        ...     ...  # the SMS may or may not have been sent; it was not re-sent
    """

    def __init__(self, message: str, *, request: Optional[httpx.Request] = None) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """The API did not answer within the timeout (``timeout=``, 30 s by default).

    A send that timed out was not re-sent: it may or may not have gone out.

    Examples:
        >>> try:
        ...     client.with_options(timeout=2.0).send_sms("+11234567890", "hi")
        ... except APITimeoutError:
        ...     ...  # check your outbox before trying again
    """


class MalformedResponseError(TextFlowError):
    """The API answered, but not with the JSON it promises.

    Attributes:
        status_code: The HTTP status of the answer, or ``None`` when even its
            body could not be read (a broken ``Content-Encoding``).
        response: The `httpx.Response`, or ``None`` likewise.

    Examples:
        >>> try:
        ...     client.get_balance()
        ... except MalformedResponseError as exc:
        ...     print(exc.status_code)
    """

    def __init__(self, message: str, *, response: Optional[httpx.Response]) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = None if response is None else response.status_code


class APIStatusError(TextFlowError):
    """The API answered and said no (``"ok": false`` or an error status).

    Attributes:
        status_code: The HTTP status of the answer.
        status: The ``status`` the body reports (equal to ``status_code`` when the
            body carries none).
        message: The API's own message, or a sentence of ours when it sent none.
        body: The decoded JSON body, or ``None`` when it was not JSON.
        result: The body parsed into the operation's result model (``ok=False``),
            when it fits one; ``None`` otherwise.
        response: The `httpx.Response`.

    Examples:
        >>> try:
        ...     client.send_sms("+11234567890", "hi")
        ... except APIStatusError as exc:
        ...     print(exc.status, exc.message)
        400 Phone number is invalid
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        status: int,
        body: Any = None,
        result: Optional[Result] = None,
    ) -> None:
        super().__init__(f"TextFlow API error {status}: {message}")
        self.message = message
        self.status = status
        self.status_code = response.status_code
        self.body = body
        self.result = result
        self.response = response


class BadRequestError(APIStatusError):
    """The API rejected the request as invalid (400), e.g. ``Phone number is invalid``."""


class AuthenticationError(APIStatusError):
    """The API key was refused (401, or any answer whose message is about the API key)."""


class PermissionDeniedError(APIStatusError):
    """The key may not do this (403)."""


class NotFoundError(APIStatusError):
    """The API does not know this path or object (404)."""


class RateLimitError(APIStatusError):
    """Too many requests (429).

    Attributes:
        retry_after: Seconds the API asked to wait (``Retry-After``), or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        status: int,
        body: Any = None,
        result: Optional[Result] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message, response=response, status=status, body=body, result=result)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """The API failed on its side (5xx). A send was not retried: it may have gone out."""
