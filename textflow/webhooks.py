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

from textflow.errors import WebhookError, WebhookVerificationError
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


def parse_webhook(body: Union[bytes, str, Mapping[str, Any]], *, secret: str) -> IncomingSMS:
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
            ``text``; answer 400.

    Examples:
        >>> sms = parse_webhook(
        ...     b'{"secret": "s3cret", "phone_number": "+11234567890", "text": "Yes"}',
        ...     secret="s3cret",
        ... )
        >>> sms.text
        'Yes'
    """
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret must be the non-empty webhook secret from the API console.")
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or absurdly deep
            raise WebhookError("The webhook body is not JSON.") from None
    if not isinstance(body, Mapping):
        raise WebhookError("The webhook body is not a JSON object.")
    given = body.get("secret")
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode("utf-8"), secret.encode("utf-8")
    ):
        raise WebhookVerificationError("The webhook secret is missing or does not match.")
    fields = {name: value for name, value in body.items() if name != "secret"}
    try:
        return IncomingSMS.model_validate(fields)
    except ValidationError as exc:
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors(include_url=False))
        raise WebhookError(f"The webhook body lacks or mistypes: {missing}.") from None
