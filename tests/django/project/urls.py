"""The test project's routes: the replies webhook, sync and async."""

from __future__ import annotations

from django.urls import path

from textflow.contrib.django import async_webhook_view, webhook_view

urlpatterns = [
    path("textflow/replies/", webhook_view),
    path("textflow/replies-async/", async_webhook_view),
]
