"""The Django app ``textflow.contrib.django`` (label ``textflow``): it holds the
`TextFlowDevice` model and its migration."""

from __future__ import annotations

from django.apps import AppConfig


class TextFlowConfig(AppConfig):  # type: ignore[misc]
    name = "textflow.contrib.django"
    label = "textflow"
    verbose_name = "TextFlow"
    default_auto_field = "django.db.models.BigAutoField"
