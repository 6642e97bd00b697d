"""The exceptions the SDK raises.

Every exception but one derives from `TextFlowError`, so ``except
TextFlowError`` catches anything the SDK raises on purpose; ``except APIError``
catches everything that happened on the wire. Every exception class the SDK
raises to its users is here, and this is the one drawing of the tree (the docs
show a copy, and a test holds both to the classes)::

    TextFlowError
    ├── ConfigurationError                  no key, bad base_url, timeout or header
    ├── InputValidationError (ValueError)   bad argument, raised before any request
    ├── ClientStateError (RuntimeError)     closed, or used from a second event loop
    ├── WebhookError (ValueError)           a webhook body that is not TextFlow's
    │   └── WebhookVerificationError        wrong or missing secret
    ├── VerificationRefused                 a guard rule said no: .reason, .retry_after
    ├── GuardStoreError                     the guard's store failed (cause attached)
    ├── JournalError                        a send_many journal cannot be read or written
    │   └── JournalBusyError (RuntimeError) another run holds it
    ├── SendManyStopped                     a stop_on rule ended the run: .report
    └── APIError                            something happened on the wire: .request,
        │                                   .response, .status_code, .may_have_been_sent
        ├── APIConnectionError              no answer / connection broke
        │   └── APITimeoutError             (includes the overall deadline)
        ├── MalformedResponseError          not the JSON the API promises, or too big
        └── APIStatusError                  the API said no: .status, .message, .body, .result
            ├── BadRequestError             400
            ├── AuthenticationError         401, or a message about the API key
            ├── PermissionDeniedError       403
            ├── NotFoundError               404
            ├── RateLimitError              429, .retry_after
            └── InternalServerError         5xx

    KeyboardInterrupt
    └── SendManyInterrupted                 Ctrl-C during send_many: .report

`SendManyInterrupted` is a `KeyboardInterrupt` only, so ``except Exception``
(and ``except TextFlowError``) never swallows Ctrl-C.

No message built here ever contains the API key or a verification code.

Over 300 lines, yet one module: it holds one thing, the exception classes
(mostly their docstrings), and keeping every class beside this drawing is what
keeps the drawing true.

Every exception pickles (a worker process can hand it back): ``request`` and
``response`` come back as ``None``, and codes, message texts and phone numbers
in ``body``, ``result`` and a ``report`` come back masked, so the pickled bytes
hold none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Optional

from textflow._redact import redacted_body, redacted_report, redacted_result, secrets_of

if TYPE_CHECKING:
    import httpx

    from textflow._report import SendReport
    from textflow.models import Result

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientStateError",
    "ConfigurationError",
    "GuardStoreError",
    "InputValidationError",
    "InternalServerError",
    "JournalBusyError",
    "JournalError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "SendManyInterrupted",
    "SendManyStopped",
    "TextFlowError",
    "VerificationRefused",
    "WebhookError",
    "WebhookVerificationError",
]


class TextFlowError(Exception):
    """Base class of every exception the SDK raises.

    Attributes:
        may_have_been_sent: Whether the failed call may still have done what it
            asks (see `APIError`). Always ``False`` outside `APIError`: a bad
            argument, setting or client state is found before anything is sent.

    Examples:
        >>> try:
        ...     TextFlowClient(api_key="").get_balance()
        ... except TextFlowError as exc:
        ...     print(type(exc).__name__)
        ConfigurationError
    """

    may_have_been_sent: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own pickling calls cls(*args), which keyword-only arguments break;
        # rebuild from args and the attributes instead, without what must not travel.
        return (_rebuild, (type(self), self.args, self._pickled_state()))

    def _pickled_state(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class ConfigurationError(TextFlowError):
    """The client cannot be built as asked: no API key, an unusable ``base_url``,
    ``timeout`` or header.

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


class WebhookError(TextFlowError, ValueError):
    """A webhook body that is not what TextFlow sends (not JSON, fields missing); answer 400.

    Examples:
        >>> parse_webhook(b"not json", secret="s")
        Traceback (most recent call last):
        textflow.errors.WebhookError: ...
    """


class WebhookVerificationError(WebhookError):
    """The body's secret is missing or is not yours: do not trust the call (answer 403).

    Examples:
        >>> parse_webhook({"secret": "guess", "phone_number": "+1", "text": "hi"}, secret="s")
        Traceback (most recent call last):
        textflow.errors.WebhookVerificationError: ...
    """


#: Which rule refused: one of these strings.
Reason = Literal[
    "cooldown",
    "number_limit",
    "caller_limit",
    "budget",
    "country",
    "attempts",
    "prefix_velocity",
    "country_velocity",
    "low_conversion",
    "spend_cap",
    "blocked",
    "session_mismatch",
]


class VerificationRefused(TextFlowError):
    """A `VerificationGuard` rule refused the call; nothing was sent to or asked of TextFlow.

    Attributes:
        reason: The rule that refused: ``"cooldown"`` (a code went to this
            number moments ago), ``"number_limit"`` (too many codes to this
            number today), ``"caller_limit"`` (too many calls from this
            ``client_key`` this hour), ``"budget"`` (the app's hourly budget of
            codes is spent), ``"country"`` (codes are not sent to this calling
            code), ``"attempts"`` (too many wrong codes: send a new code),
            ``"prefix_velocity"`` / ``"country_velocity"`` (too many codes to
            this prefix or calling code lately), ``"low_conversion"`` (codes to
            this prefix or country are suspended: few were verified),
            ``"spend_cap"`` (the spending limit is reached), ``"blocked"`` (the
            number is on the blocklist) or ``"session_mismatch"`` (the code was
            sent for another session).
        retry_after: Seconds until the same call could pass, or ``None`` when
            waiting does not help (``"country"``, ``"attempts"``, ``"blocked"``,
            ``"session_mismatch"``).

    The message never holds the phone number, the code or the ``client_key``.

    Examples:
        >>> try:
        ...     guard.send_code("+11234567890", service_name="Acme")
        ... except VerificationRefused as exc:
        ...     print(exc.reason, exc.retry_after)
        cooldown 25.0
    """

    def __init__(
        self, message: str, *, reason: Reason, retry_after: Optional[float] = None
    ) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.retry_after = retry_after


class GuardStoreError(TextFlowError):
    """The verification guard's store failed (a locked or unreadable SQLite file, Redis
    down or refusing the script); ``__cause__`` is the store's own error.

    The guard decided nothing, so nothing was sent or checked: the call can be tried
    again once the store is back.

    Examples:
        >>> try:
        ...     guard.send_code("+11234567890", service_name="Acme")
        ... except GuardStoreError as exc:
        ...     print(type(exc.__cause__).__name__)
        ConnectionError
    """


class JournalError(TextFlowError):
    """A ``send_many`` journal cannot be opened, read or written; ``__cause__`` says why
    (a file that is not a journal, a full disk, a lost connection).

    The run stops rather than send what it could not record (a rerun might send it again).

    Attributes:
        report: When it stopped a ``send_many`` run, that run's `SendReport` so far
            (recipients in flight are ``maybe_sent`` in it); else ``None``.

    Examples:
        >>> client.send_many(numbers, text="Hi", journal="not-a-database.txt")
        Traceback (most recent call last):
        textflow.errors.JournalError: The journal not-a-database.txt cannot be used ...
    """

    report: Optional[SendReport] = None

    def _pickled_state(self) -> dict[str, Any]:
        state = super()._pickled_state()
        if self.report is not None:
            state["report"] = redacted_report(self.report)
        return state


class JournalBusyError(JournalError, RuntimeError):
    """Another run holds this journal now (two runs at once could send twice).

    Examples:
        >>> SQLiteJournal("campaign.db")  # while another process runs on it
        Traceback (most recent call last):
        textflow.errors.JournalBusyError: The journal campaign.db is in use ...
    """


class SendManyStopped(TextFlowError):
    """``send_many`` stopped early; ``report`` holds what was done until then.

    Raised when an error matched ``stop_on`` (by default a refused key, or
    credits running out), which is also ``__cause__``. Sends in flight were
    finished first; recipients not reached were not sent.

    Attributes:
        report: The `SendReport` so far (numbers and texts masked after unpickling).

    Examples:
        >>> try:
        ...     client.send_many(numbers, text="Hi")
        ... except SendManyStopped as stopped:
        ...     print(stopped.report.sent, type(stopped.__cause__).__name__)
    """

    def __init__(self, message: str, report: SendReport) -> None:
        super().__init__(message)
        self.report = report

    def _pickled_state(self) -> dict[str, Any]:
        return dict(self.__dict__, report=redacted_report(self.report))


class SendManyInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped ``send_many``: a `KeyboardInterrupt` (only), with the report.

    Not a `TextFlowError`, so ``except Exception`` never swallows the Ctrl-C.
    Sends in flight were finished (or recorded as maybe sent) first.

    Attributes:
        report: The `SendReport` so far (numbers and texts masked after unpickling).

    Examples:
        >>> try:
        ...     client.send_many(numbers, text="Hi", journal="campaign.db")
        ... except KeyboardInterrupt as stopped:
        ...     print(stopped.report.sent)  # run again with the same journal to resume
    """

    def __init__(self, message: str, report: SendReport) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[Any, ...]:
        state = dict(self.__dict__, report=redacted_report(self.report))
        return (_rebuild, (type(self), self.args, state))


class APIError(TextFlowError):
    """Something happened on the wire: catch this to catch every failed call to the API.

    Attributes:
        request: The request that was sent, or ``None`` (its ``Authorization``
            header holds the key: do not log it). ``None`` after unpickling.
        response: The `httpx.Response`, or ``None`` when no answer came or it
            could not be read. ``None`` after unpickling.
        status_code: The HTTP status of the answer, or ``None`` without one.
        may_have_been_sent: ``True`` when a sending call (``send_sms``,
            ``send_verification_sms``, ``verify_code``, ``send_bulk_sms``) may
            have been processed by TextFlow although it failed: after a read
            timeout, a connection dropped once the request was written, a 5xx
            or an unreadable answer. ``False`` when the request was never
            written, the API refused it (4xx, 429 included), or the call only
            reads (``get_balance``). The SDK never re-sends in the first case.

    Examples:
        >>> try:
        ...     client.send_sms("+11234567890", "hi")
        ... except APIError as exc:
        ...     print(exc.may_have_been_sent)
        False
    """

    def __init__(
        self,
        message: str,
        *,
        request: Optional[httpx.Request] = None,
        response: Optional[httpx.Response] = None,
        may_have_been_sent: bool = False,
    ) -> None:
        super().__init__(message)
        if request is None and response is not None:
            request = _request_of(response)
        self.request = request
        self.response = response
        self.status_code: Optional[int] = None if response is None else response.status_code
        self.may_have_been_sent = may_have_been_sent

    def _pickled_state(self) -> dict[str, Any]:
        state = super()._pickled_state()
        state.update(request=None, response=None)  # they carry the key, the number, the code
        return state


def _request_of(response: httpx.Response) -> Optional[httpx.Request]:
    try:
        return response.request
    except RuntimeError:  # built by hand, without its request
        return None


class APIConnectionError(APIError):
    """No answer came from the API: the connection failed or broke.

    ``may_have_been_sent`` tells whether a send may have gone out; it was not re-sent.

    Examples:
        >>> try:
        ...     client.send_sms("+11234567890", "hi")
        ... except APIConnectionError as exc:
        ...     ...  # exc.may_have_been_sent: check your outbox before trying again
    """


class APITimeoutError(APIConnectionError):
    """The API did not answer within the timeout (``timeout=``, 30 s by default).

    A send that timed out was not re-sent: it may or may not have gone out
    (``may_have_been_sent`` is ``True`` unless it was never written).

    Examples:
        >>> try:
        ...     client.with_options(timeout=2.0).send_sms("+11234567890", "hi")
        ... except APITimeoutError:
        ...     ...  # check your outbox before trying again
    """


class MalformedResponseError(APIError):
    """The API answered, but not with the JSON it promises (or with too much of it).

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


class APIStatusError(APIError):
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
        request: Optional[httpx.Request] = None,
        may_have_been_sent: bool = False,
    ) -> None:
        super().__init__(
            f"TextFlow API error {status}: {message}",
            request=request,
            response=response,
            may_have_been_sent=may_have_been_sent,
        )
        self.message = message
        self.status = status
        self.body = body
        self.result = result

    def _pickled_state(self) -> dict[str, Any]:
        secrets = secrets_of(self.request)
        state = super()._pickled_state()
        state.update(
            body=redacted_body(self.body, secrets), result=redacted_result(self.result, secrets)
        )
        return state


class BadRequestError(APIStatusError):
    """The API rejected the request as invalid (400), e.g. ``Phone number is invalid``."""


class AuthenticationError(APIStatusError):
    """The API key was refused (401, or any answer whose message is about the API key)."""


class PermissionDeniedError(APIStatusError):
    """The key may not do this (403)."""


class NotFoundError(APIStatusError):
    """The API does not know this path or object (404)."""


class RateLimitError(APIStatusError):
    """Too many requests (429). Nothing was processed: ``may_have_been_sent`` is ``False``.

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
        request: Optional[httpx.Request] = None,
        may_have_been_sent: bool = False,
    ) -> None:
        super().__init__(
            message,
            response=response,
            status=status,
            body=body,
            result=result,
            request=request,
            may_have_been_sent=may_have_been_sent,
        )
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """The API failed on its side (5xx). A send was not retried: it may have gone out."""
