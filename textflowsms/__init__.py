"""The legacy import name: ``import textflowsms as tf`` as with textflowsms 0.1.0.

Example:
    >>> import textflowsms as tf
    >>> tf.useKey("YOUR_KEY")
    >>> result = tf.sendSMS("+11234567890", "Dummy message text...")
    >>> print(result.data if result.ok else result.message)
"""

from textflow import (
    SendMessageData,
    SendMessageFailed,
    SendMessageOk,
    SendMessageResult,
    VerifyCode,
    VerifyCodeResult,
    VerifyPhoneData,
    VerifyPhoneFailed,
    VerifyPhoneOk,
    VerifyPhoneResult,
    __version__,
    sendSMS,
    sendVerificationSMS,
    useKey,
    verifyCode,
)

__all__ = [
    "SendMessageData",
    "SendMessageFailed",
    "SendMessageOk",
    "SendMessageResult",
    "VerifyCode",
    "VerifyCodeResult",
    "VerifyPhoneData",
    "VerifyPhoneFailed",
    "VerifyPhoneOk",
    "VerifyPhoneResult",
    "__version__",
    "sendSMS",
    "sendVerificationSMS",
    "useKey",
    "verifyCode",
]
