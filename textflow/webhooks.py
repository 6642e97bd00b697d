"""Receiving SMS replies: parse and verify TextFlow's webhook call.

TextFlow POSTs a JSON body to the URL set in the API console when someone
replies to your SMS. The body carries the shared secret you set there (in the
body, not a header; there is no signature), the sender's number and the text::

    {"secret": "...", "phone_number": "+11234567890", "text": "Yes, confirm"}

Answer HTTP 200 to acknowledge it; anything else counts as a failed delivery.
The body shape is reconstructed from the author's OpenSMS project (see the wire
reference): unknown fields are kept on the model.

Examples:
    >>> from textflow.webhooks import parse_webhook
    >>> sms = parse_webhook(request_body, secret=os.environ["TEXTFLOW_WEBHOOK_SECRET"])
    >>> print(sms.phone_number, sms.text)
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Optional, Union

from pydantic import ValidationError

from textflow.errors import InputValidationError, WebhookError, WebhookVerificationError
from textflow.models import _from_millis, _Model

__all__ = ["IncomingSMS", "WebhookError", "WebhookVerificationError", "parse_webhook"]


class IncomingSMS(_Model):
    """An SMS someone sent to you (a reply). The secret is not kept.

    Examples:
        >>> sms.phone_number, sms.text
        ('+11234567890', 'Yes, confirm')
    """

    phone_number: str
    text: str
    timestamp: Optional[int] = None

    @property
    def received_at(self) -> Optional[datetime]:
        """``timestamp`` (milliseconds) as an aware UTC datetime, when TextFlow sent one
        in range."""
        return _from_millis(self.timestamp)


def parse_webhook(
    body: Union[bytes, bytearray, str, Mapping[str, Any]], *, secret: str
) -> IncomingSMS:
    """Check a webhook call's secret and return the SMS it carries.

    Args:
        body: The raw request body (bytes or str), or the JSON your framework
            already decoded.
        secret: The webhook secret you set in TextFlow's API console.

    Returns:
        The incoming SMS.

    Raises:
        WebhookVerificationError: The secret is missing or wrong (compared in
            constant time); answer 403.
        WebhookError: The body is not a JSON object with ``phone_number`` and
            ``text``, or repeats a key; answer 400.
        InputValidationError: ``secret`` is not a non-empty str.

    Examples:
        >>> sms = parse_webhook(
        ...     b'{"secret": "s3cret", "phone_number": "+11234567890", "text": "Yes"}',
        ...     secret="s3cret",
        ... )
        >>> sms.text
        'Yes'
    """
    expected = _secret_bytes(secret)
    if isinstance(body, (bytes, bytearray, str)):
        try:
            body = json.loads(body, object_pairs_hook=_without_duplicates)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or absurdly deep
            raise WebhookError("The webhook body is not JSON.") from None
        except _DuplicateKey as exc:
            raise WebhookError(
                f"The webhook body has the key {exc.key!a} twice: refused, since which one "
                "counts would be a guess."
            ) from None
    if not isinstance(body, Mapping):
        raise WebhookError("The webhook body is not a JSON object.")
    given = body.get("secret")
    if not isinstance(given, str) or not hmac.compare_digest(_utf8(given), expected):
        raise WebhookVerificationError("The webhook secret is missing or does not match.")
    fields = {name: value for name, value in body.items() if name != "secret"}
    try:
        return IncomingSMS.model_validate(fields)
    except ValidationError as exc:
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors(include_url=False))
        raise WebhookError(f"The webhook body lacks or mistypes: {missing}.") from None


def _secret_bytes(secret: object) -> bytes:
    """Your secret as bytes to compare; a wrong one is the caller's error, not the sender's."""
    if not isinstance(secret, str) or not secret:
        raise InputValidationError(
            "secret must be the non-empty webhook secret (a str) from the API console.",
            argument="secret",
        )
    try:
        return secret.encode("utf-8")
    except UnicodeEncodeError:
        raise InputValidationError(
            "secret is not valid text: it holds a lone surrogate; check how it was read.",
            argument="secret",
        ) from None


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate (JSON can escape one) becomes bytes no secret has."""
    return text.encode("utf-8", "surrogatepass")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused if a key repeats: parsers disagree on which one wins."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result
