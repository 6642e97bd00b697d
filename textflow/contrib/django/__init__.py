"""TextFlow in a Django project (``pip install 'textflowsms[django]'``).

* Settings: ``TEXTFLOW = {"API_KEY": ..., "BASE_URL": ..., "TIMEOUT": ...,
  "WEBHOOK_SECRET": ...}`` (`textflow.contrib.django.settings`), and
  `get_client()` / `get_async_client()`: one client per process (and event loop).
* django-two-factor-auth: ``TWO_FACTOR_SMS_GATEWAY =
  "textflow.contrib.django.TwoFactorGateway"``.
* django-otp: `TextFlowDevice` (add ``"textflow.contrib.django"`` to
  ``INSTALLED_APPS``), whose codes TextFlow sends and checks, through the guard.
* Replies: `webhook_view` / `async_webhook_view` and the signal `sms_received`.
* Tests: ``TEXTFLOW = {"FAKE": True}`` sends nothing; `get_fake()` reads it back.

`TextFlowDevice` is a model: it is imported on first use of the name (after Django
is set up), so importing this package needs no configured settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textflow.contrib.django.clients import (
    get_async_client,
    get_async_guard,
    get_client,
    get_fake,
    get_guard,
    get_settings,
    reset,
)
from textflow.contrib.django.gateway import TwoFactorGateway
from textflow.contrib.django.signals import sms_received
from textflow.contrib.django.views import async_webhook_view, webhook_view

if TYPE_CHECKING:
    from textflow.contrib.django.models import TextFlowDevice

__all__ = [
    "TextFlowDevice",
    "TwoFactorGateway",
    "async_webhook_view",
    "get_async_client",
    "get_async_guard",
    "get_client",
    "get_fake",
    "get_guard",
    "get_settings",
    "reset",
    "sms_received",
    "webhook_view",
]


def __getattr__(name: str) -> Any:
    if name == "TextFlowDevice":  # a model: Django's app registry must be ready first
        from textflow.contrib.django.models import TextFlowDevice

        return TextFlowDevice
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
