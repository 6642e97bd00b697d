"""The replies webhook: ``webhook_view`` (sync) and ``async_webhook_view`` (async).

.. code-block:: python

    # urls.py
    from textflow.contrib.django import webhook_view
    urlpatterns = [path("textflow/replies/", webhook_view)]

Each checks the body's secret against ``TEXTFLOW["WEBHOOK_SECRET"]`` in constant
time and parses it with `textflow.webhooks.parse_webhook`, then sends
`sms_received` once and answers 200. A wrong or missing secret is 403, a body
that is not TextFlow's (or too big for ``DATA_UPLOAD_MAX_MEMORY_SIZE``) 400, a
method other than POST 405: what a sender does never makes a 500. With no
``WEBHOOK_SECRET`` set, every call is refused with 403 and the error is logged.

A receiver that raises is the app's own failure: it propagates as Django handles
any view's exception (logged, 500), so that TextFlow counts the delivery as
failed instead of the reply being lost silently.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Optional

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from textflow.contrib.django import clients
from textflow.contrib.django.signals import sms_received
from textflow.errors import WebhookError, WebhookVerificationError
from textflow.webhooks import IncomingSMS, parse_webhook

logger = logging.getLogger("textflow")


def _secret() -> Optional[str]:
    loaded = clients.get_settings()
    if loaded.webhook_secret is not None:
        return loaded.webhook_secret
    if loaded.fake:
        return clients.get_fake().webhook_secret
    return None


def _parse(request: HttpRequest) -> tuple[Optional[IncomingSMS], Optional[HttpResponse]]:
    """The SMS, or the answer that refuses the request."""
    if request.method != "POST":
        answer = HttpResponse("POST only.\n", status=405, content_type="text/plain")
        answer["Allow"] = "POST"
        return None, answer
    secret = _secret()
    if not secret:
        logger.error("textflow webhook refused: settings.TEXTFLOW['WEBHOOK_SECRET'] is not set")
        return None, _plain(403, "Forbidden.")
    try:
        return parse_webhook(request.body, secret=secret), None
    except WebhookVerificationError:
        logger.warning("textflow webhook refused: the secret is missing or does not match")
        return None, _plain(403, "Forbidden.")
    except WebhookError as exc:
        return None, _plain(400, str(exc))
    except RequestDataTooBig:
        return None, _plain(400, "The webhook body is too big.")


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


def webhook_view(request: HttpRequest) -> HttpResponse:
    """TextFlow's replies webhook (sync): 200 and `sms_received` once, else 403/400/405.

    Examples:
        >>> urlpatterns = [path("textflow/replies/", webhook_view)]
    """
    sms, refused = _parse(request)
    if refused is not None:
        return refused
    sms_received.send(sender=webhook_view, sms=sms)
    return _plain(200, "OK")


async def async_webhook_view(request: HttpRequest) -> HttpResponse:
    """TextFlow's replies webhook (async): as `webhook_view`, receivers awaited.

    Examples:
        >>> urlpatterns = [path("textflow/replies/", async_webhook_view)]
    """
    sms, refused = _parse(request)
    if refused is not None:
        return refused
    await _asend(sender=async_webhook_view, sms=sms)
    return _plain(200, "OK")


# TextFlow posts no CSRF token. (The attribute csrf_exempt sets, set here: on Django 4.2
# the decorator would turn the async view into a sync one.)
webhook_view.csrf_exempt = True  # type: ignore[attr-defined]
async_webhook_view.csrf_exempt = True  # type: ignore[attr-defined]


async def _asend(**named: Any) -> None:
    asend: Optional[Callable[..., Any]] = getattr(sms_received, "asend", None)
    if asend is not None:  # Django 5.0+: async receivers awaited, sync ones in a thread
        await asend(**named)
        return
    from asgiref.sync import sync_to_async  # Django 4.2: send() calls an async receiver

    # Sync receivers run in a thread (they may use the ORM); what an async receiver
    # returned, a coroutine, is awaited here.
    for _, answer in await sync_to_async(sms_received.send)(**named):
        if inspect.isawaitable(answer):
            await answer
