"""The test project's settings: django-otp, django-two-factor-auth's phone plugin and
``textflow.contrib.django``, on SQLite, with every client on the fake."""

from __future__ import annotations

SECRET_KEY = "not-a-secret-test-project-key"  # a test project's own
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_otp",
    "phonenumber_field",
    "two_factor",
    "two_factor.plugins.phonenumber",
    "textflow.contrib.django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.django.project.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TEXTFLOW = {"FAKE": True, "SERVICE_NAME": "Acme"}
TWO_FACTOR_SMS_GATEWAY = "textflow.contrib.django.TwoFactorGateway"
