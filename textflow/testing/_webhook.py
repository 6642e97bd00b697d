"""Replies from the fake's phones: TextFlow's webhook call, delivered to your app.

When someone answers an SMS, TextFlow POSTs ``{"secret", "phone_number",
"text", "timestamp"}`` as JSON to the webhook URL set in its console (the body
``textflow.webhooks.parse_webhook`` reads). The fake builds the same body and
delivers it to a URL (your app running locally) or to a callable (your handler
in process, or a framework's test client), and gives back what the app answered.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional, Union

import httpx

#: The secret the fake puts in webhook bodies unless told otherwise. Obviously not real.
DEFAULT_WEBHOOK_SECRET = "tf_test_webhook_secret"  # noqa: S105 (a test value, like the key)
#: Seconds the fake waits for your app to answer a webhook call.
WEBHOOK_TIMEOUT = 10.0

#: A URL (``http://127.0.0.1:8000/sms``), or a callable given the raw JSON body.
WebhookTarget = Union[str, Callable[[bytes], Any]]


def check_target(target: Optional[WebhookTarget]) -> Optional[WebhookTarget]:
    """``target`` if it is None, a callable or an ``http(s)://`` URL.

    Raises:
        ValueError: Anything else.
    """
    if target is None or callable(target):
        return target
    if isinstance(target, str):
        try:
            url = httpx.URL(target)
        except httpx.InvalidURL:
            url = None
        if url is not None and url.scheme in ("http", "https") and url.host:
            return target
    raise ValueError(f"webhook_url must be an http(s) URL or a callable, not {target!r}.")


def check_secret(secret: Optional[str]) -> str:
    """The secret to send: ``DEFAULT_WEBHOOK_SECRET`` for None.

    Raises:
        ValueError: Not a non-empty string.
    """
    if secret is None:
        return DEFAULT_WEBHOOK_SECRET
    if not isinstance(secret, str) or not secret:
        raise ValueError("webhook_secret must be a non-empty string.")
    return secret


def body(secret: str, phone_number: str, text: str, timestamp: int) -> bytes:
    """The webhook body TextFlow sends for an incoming SMS, as JSON bytes."""
    payload = {"secret": secret, "phone_number": phone_number, "text": text, "timestamp": timestamp}
    # A lone surrogate becomes its JSON escape (inside a string it reads back the same).
    return json.dumps(payload, ensure_ascii=False).encode("utf-8", "backslashreplace")


def deliver(target: WebhookTarget, content: bytes) -> Any:
    """POST ``content`` to a URL (an ``httpx.Response`` back), or call ``target(content)``.

    Raises:
        httpx.HTTPError: The URL did not answer (refused, timed out...).
    """
    if callable(target):
        return target(content)
    headers = {"Content-Type": "application/json", "User-Agent": "TextFlow-Fake-Webhook"}
    with httpx.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False) as http:
        return http.post(target, content=content, headers=headers)


def status_of(answer: Any) -> Optional[int]:
    """The HTTP status in what the app answered: ``answer.status_code``, or an int itself."""
    status = getattr(answer, "status_code", answer)
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    return None
