"""Django is configured here, for this folder only: no DJANGO_SETTINGS_MODULE in the
environment (subprocesses of other tests would inherit it), no ``--ds``. pytest-django's
fixtures then see configured settings; the other folders' tests never import Django."""

from __future__ import annotations

import django
from django.conf import settings

from tests.django.project import settings as project

if not settings.configured:
    settings.configure(**{name: getattr(project, name) for name in dir(project) if name.isupper()})
    django.setup()
