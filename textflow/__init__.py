"""textflow: the Python SDK for the TextFlow SMS API.

Examples:
    >>> from textflow import TextFlowClient
    >>> client = TextFlowClient(api_key="YOUR_KEY")
    >>> client.send_sms("+11234567890", "Hello from textflow").ok
    True

The ``textflowsms`` 0.1.0 functions (``useKey``, ``sendSMS``,
``sendVerificationSMS``, ``verifyCode``, ``VerifyCode``) are here too.
"""

from typing import TYPE_CHECKING, Any

from textflow import _logging
from textflow._async_client import AsyncTextFlowClient
from textflow._client import TextFlowClient
from textflow._legacy import VerifyCode, sendSMS, sendVerificationSMS, useKey, verifyCode
from textflow._many._journal import Journal, JournalBusyError, SQLiteJournal
from textflow._many._outcomes import (
    Outcome,
    Progress,
    SendManyInterrupted,
    SendManyStopped,
    SendReport,
)
from textflow._many._recipients import Message
from textflow._segments import SegmentCount, segments
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
    InputValidationError,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TextFlowError,
    VerificationRefused,
    WebhookError,
    WebhookVerificationError,
)
from textflow.models import (
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
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncTextFlowClient",
    "AuthenticationError",
    "BadRequestError",
    "BalanceResult",
    "BulkSMSResult",
    "ClientStateError",
    "ConfigurationError",
    "DefaultAioHttpClient",
    "InputValidationError",
    "InternalServerError",
    "Journal",
    "JournalBusyError",
    "MalformedResponseError",
    "Message",
    "NotFoundError",
    "Outcome",
    "PermissionDeniedError",
    "Progress",
    "RateLimitError",
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

if TYPE_CHECKING:
    from textflow._aiohttp import DefaultAioHttpClient


def __getattr__(name: str) -> Any:
    """``DefaultAioHttpClient`` is loaded on first use: ``import textflow`` stays light."""
    if name == "DefaultAioHttpClient":
        from textflow._aiohttp import DefaultAioHttpClient

        return DefaultAioHttpClient
    raise AttributeError(f"module 'textflow' has no attribute {name!r}")
