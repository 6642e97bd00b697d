"""The ``TEXTFLOW`` setting of a Django project, read and checked in one place.

.. code-block:: python

    TEXTFLOW = {
        "API_KEY": env("TEXTFLOW_API_KEY"),  # None: the TEXTFLOW_API_KEY variable
        "WEBHOOK_SECRET": env("TEXTFLOW_WEBHOOK_SECRET"),
    }

Every key is optional. A key this module does not know is refused (a typo such as
``"APIKEY"`` would otherwise be ignored silently), and so is a value of the wrong
type: both raise `textflow.ConfigurationError` when a client is first asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import httpx
from django.conf import settings as django_settings

from textflow.errors import ConfigurationError
from textflow.guard import GuardPolicy

#: The name of the Django setting.
SETTING = "TEXTFLOW"

#: Where the verification guard keeps its counts (a store of ``textflow.guard``).
GuardStoreSetting = Any

_TIMEOUT_DEFAULT = httpx.Timeout(30.0, connect=5.0)


@dataclass(frozen=True)
class TextFlowSettings:
    """The ``TEXTFLOW`` setting, checked; ``repr`` never shows the key or the secret."""

    api_key: Optional[str] = None
    base_url: Optional[str] = None
    timeout: Union[float, httpx.Timeout, None] = field(default_factory=lambda: _TIMEOUT_DEFAULT)
    max_retries: int = 2
    webhook_secret: Optional[str] = None
    fake: bool = False
    service_name: str = ""
    code_seconds: int = 600
    sms_text: str = "Your verification code is: {token}"
    guard_policy: Optional[GuardPolicy] = None
    guard_store: GuardStoreSetting = None

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={'***' if name in _SECRET and value is not None else repr(value)}"
            for name, value in vars(self).items()
        )
        return f"TextFlowSettings({shown})"


_SECRET = frozenset({"api_key", "webhook_secret"})

#: Setting key -> (field, the types it takes, what to say when it is wrong).
_KEYS: dict[str, tuple[str, tuple[type, ...], str]] = {
    "API_KEY": ("api_key", (str, type(None)), "a str (None: the TEXTFLOW_API_KEY variable)"),
    "BASE_URL": ("base_url", (str, type(None)), "a str URL (None: the hosted API)"),
    "TIMEOUT": ("timeout", (int, float, httpx.Timeout, type(None)), "seconds or httpx.Timeout"),
    "MAX_RETRIES": ("max_retries", (int,), "an int >= 0"),
    "WEBHOOK_SECRET": ("webhook_secret", (str, type(None)), "the webhook secret, a str"),
    "FAKE": ("fake", (bool,), "True or False"),
    "SERVICE_NAME": ("service_name", (str,), "a str (your product's name in the SMS)"),
    "CODE_SECONDS": ("code_seconds", (int,), "an int from 1 to 86400"),
    "SMS_TEXT": ("sms_text", (str,), "a str with '{token}' in it"),
    "GUARD_POLICY": ("guard_policy", (GuardPolicy, type(None)), "a textflow.guard.GuardPolicy"),
    "GUARD_STORE": ("guard_store", (object,), "a store of textflow.guard"),
}


def load(value: Optional[Any] = None) -> TextFlowSettings:
    """The project's ``TEXTFLOW`` setting (or ``value``), checked.

    Raises:
        ConfigurationError: The setting is not a dict, has an unknown key, or a
            value of the wrong type.
    """
    if value is None:
        value = getattr(django_settings, SETTING, None)
    if value is None:
        return TextFlowSettings()
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"settings.{SETTING} must be a dict, not {type(value).__name__}.")
    unknown = sorted(str(key) for key in value if key not in _KEYS)
    if unknown:
        raise ConfigurationError(
            f"settings.{SETTING} has unknown keys {unknown}; known: {sorted(_KEYS)}."
        )
    fields: dict[str, Any] = {}
    for key, given in value.items():
        field, types, wanted = _KEYS[key]
        if not isinstance(given, types) or (isinstance(given, bool) and bool not in types):
            raise ConfigurationError(
                f"settings.{SETTING}[{key!r}] must be {wanted}, not {type(given).__name__}."
            )
        fields[field] = given
    loaded = TextFlowSettings(**fields)
    if loaded.max_retries < 0:
        raise ConfigurationError(f"settings.{SETTING}['MAX_RETRIES'] must be >= 0.")
    if not 1 <= loaded.code_seconds <= 86400:
        raise ConfigurationError(f"settings.{SETTING}['CODE_SECONDS'] must be from 1 to 86400.")
    if "{token}" not in loaded.sms_text:
        raise ConfigurationError(f"settings.{SETTING}['SMS_TEXT'] must contain '{{token}}'.")
    return loaded
