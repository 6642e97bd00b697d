"""textflow: the Python SDK for the TextFlow SMS API.

Examples:
    >>> from textflow import TextFlowClient
    >>> client = TextFlowClient(api_key="YOUR_KEY")
    >>> client.send_sms("+11234567890", "Hello from textflow").ok
    True

The ``textflowsms`` 0.1.0 functions (``useKey``, ``sendSMS``,
``sendVerificationSMS``, ``verifyCode``, ``VerifyCode``) are here too.
"""

import importlib
from typing import TYPE_CHECKING, Any

from textflow import _logging, _operations
from textflow._version import __version__
from textflow.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientStateError,
    ConfigurationError,
    GuardStoreError,
    InputValidationError,
    InternalServerError,
    JournalBusyError,
    JournalError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SendManyInterrupted,
    SendManyStopped,
    TextFlowError,
    VerificationRefused,
    WebhookError,
    WebhookVerificationError,
)

if TYPE_CHECKING:
    from textflow import models as models
    from textflow._async_client import AsyncTextFlowClient
    from textflow._client import TextFlowClient
    from textflow._hooks import CallEvent, ErrorEvent, RequestEvent, ResponseEvent, RetryEvent
    from textflow._http.aiohttp_client import DefaultAioHttpClient
    from textflow._legacy import VerifyCode, sendSMS, sendVerificationSMS, useKey, verifyCode
    from textflow._many._journal import Journal, SQLiteJournal
    from textflow._many._postgres_journal import PostgresJournal
    from textflow._many._recipients import Message
    from textflow._many._redis_journal import RedisJournal
    from textflow._report import Outcome, Progress, SendReport
    from textflow._segments import SegmentCount, segments
    from textflow.integrations.opentelemetry import instrument, uninstrument
    from textflow.models import (
        BalanceFailed,
        BalanceResult,
        BulkSMSResult,
        SendMessageData,
        SendMessageFailed,
        SendMessageOk,
        SendMessageResult,
        VerifyCodeResult,
        VerifyPhoneData,
        VerifyPhoneFailed,
        VerifyPhoneOk,
        VerifyPhoneResult,
    )

__all__ = [
    "uninstrument",
    "instrument",
    "RetryEvent",
    "ResponseEvent",
    "RequestEvent",
    "ErrorEvent",
    "CallEvent",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncTextFlowClient",
    "AuthenticationError",
    "BadRequestError",
    "BalanceFailed",
    "BalanceResult",
    "BulkSMSResult",
    "ClientStateError",
    "ConfigurationError",
    "DefaultAioHttpClient",
    "GuardStoreError",
    "InputValidationError",
    "InternalServerError",
    "Journal",
    "JournalBusyError",
    "JournalError",
    "MalformedResponseError",
    "Message",
    "NotFoundError",
    "Outcome",
    "PermissionDeniedError",
    "PostgresJournal",
    "Progress",
    "RateLimitError",
    "RedisJournal",
    "SQLiteJournal",
    "SegmentCount",
    "SendManyInterrupted",
    "SendManyStopped",
    "SendMessageData",
    "SendMessageFailed",
    "SendMessageOk",
    "SendMessageResult",
    "SendReport",
    "TextFlowClient",
    "TextFlowError",
    "VerifyCode",
    "VerifyCodeResult",
    "VerifyPhoneData",
    "VerifyPhoneFailed",
    "VerifyPhoneOk",
    "VerifyPhoneResult",
    "VerificationRefused",
    "WebhookError",
    "WebhookVerificationError",
    "__version__",
    "sendSMS",
    "segments",
    "sendVerificationSMS",
    "useKey",
    "verifyCode",
]

_logging.configure_from_env()

# Loaded on first use, so that ``import textflow`` (and ``textflow --help``) stays light:
# the clients bring httpx and pydantic, send_many its journal, the async client anyio.
_LAZY: dict[str, str] = {
    "AsyncTextFlowClient": "textflow._async_client",
    "DefaultAioHttpClient": "textflow._http.aiohttp_client",
    "TextFlowClient": "textflow._client",
    **dict.fromkeys(
        ("VerifyCode", "sendSMS", "sendVerificationSMS", "useKey", "verifyCode"), "textflow._legacy"
    ),
    **dict.fromkeys(("Journal", "SQLiteJournal"), "textflow._many._journal"),
    "PostgresJournal": "textflow._many._postgres_journal",
    "RedisJournal": "textflow._many._redis_journal",
    **dict.fromkeys(("Outcome", "Progress", "SendReport"), "textflow._report"),
    "Message": "textflow._many._recipients",
    **dict.fromkeys(
        ("CallEvent", "ErrorEvent", "RequestEvent", "ResponseEvent", "RetryEvent"),
        "textflow._hooks",
    ),
    **dict.fromkeys(("instrument", "uninstrument"), "textflow.integrations.opentelemetry"),
    **dict.fromkeys(("SegmentCount", "segments"), "textflow._segments"),
    # Each operation's models, named in the operation table; then the models no operation
    # names (the results' common classes and their data).
    **{
        name: "textflow.models"
        for op in _operations.OPERATIONS.values()
        for name in (op.model_name, op.failed_model_name)
    },
    **dict.fromkeys(
        ("SendMessageData", "SendMessageResult", "VerifyPhoneData", "VerifyPhoneResult"),
        "textflow.models",
    ),
}


def __getattr__(name: str) -> Any:
    """The names of ``__all__`` not imported above, loaded (and kept) on first use."""
    if name == "models":  # ``import textflow; textflow.models.X`` worked when it was eager
        value: Any = importlib.import_module("textflow.models")
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'textflow' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
