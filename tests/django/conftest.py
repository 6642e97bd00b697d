"""Django is configured here, for this folder only: no DJANGO_SETTINGS_MODULE in the
environment (subprocesses of other tests would inherit it), no ``--ds``. pytest-django's
fixtures then see configured settings; the other folders' tests never import Django.

Its own conftest also because ``project_fake`` is not the ``fake`` of tests/many.
"""

from __future__ import annotations

from collections.abc import Iterator

import django
import pytest
from django.conf import settings

from textflow.contrib.django import get_fake, reset
from textflow.testing import FakeTextFlow

from tests.django.project import settings as project

if not settings.configured:
    settings.configure(**{name: getattr(project, name) for name in dir(project) if name.isupper()})
    django.setup()


@pytest.fixture
def project_fake() -> Iterator[FakeTextFlow]:
    """The fake every client of the project talks to (``TEXTFLOW = {"FAKE": True}``),
    fresh for each test."""
    reset()
    yield get_fake()
    reset()
