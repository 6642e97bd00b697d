"""``TwoFactorGateway``: django-two-factor-auth's SMS gateway, sending through TextFlow.

.. code-block:: python

    TWO_FACTOR_SMS_GATEWAY = "textflow.contrib.django.TwoFactorGateway"

django-two-factor-auth makes the token itself (TOTP on its ``PhoneDevice``) and
asks the gateway to deliver it: ``gateway.send_sms(device=..., token=...)``. The
SMS text is ``TEXTFLOW["SMS_TEXT"]`` (default ``"Your verification code is:
{token}"``). TextFlow sends SMS only: ``make_call`` raises, so do not set
``TWO_FACTOR_CALL_GATEWAY`` to this class.
"""

from __future__ import annotations

from typing import Any

from textflow.contrib.django.clients import get_client, get_settings
from textflow.errors import ConfigurationError


class TwoFactorGateway:
    """Sends django-two-factor-auth's tokens by SMS with `get_client()`.

    A failure raises the client's `textflow.TextFlowError` (nothing is retried
    once the SMS may have gone out); django-two-factor-auth shows its error page.

    Examples:
        >>> # settings.py
        >>> TWO_FACTOR_SMS_GATEWAY = "textflow.contrib.django.TwoFactorGateway"
    """

    def send_sms(self, device: Any, token: str) -> None:
        """Text ``token`` to ``device.number`` (a phonenumber_field number, or a str)."""
        number = getattr(device.number, "as_e164", device.number)
        text = get_settings().sms_text.replace("{token}", str(token))
        get_client().send_sms(str(number), text)

    def make_call(self, device: Any, token: str) -> None:
        """TextFlow has no voice calls: always raises `ConfigurationError`."""
        raise ConfigurationError(
            "TextFlow sends SMS only: set TWO_FACTOR_CALL_GATEWAY to a gateway that makes "
            "calls, or offer SMS alone."
        )
