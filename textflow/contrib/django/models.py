"""``TextFlowDevice``: a django-otp device whose codes TextFlow makes, sends and checks.

Add ``"django_otp"`` and ``"textflow.contrib.django"`` to ``INSTALLED_APPS`` and
run ``migrate``. Unlike a TOTP device, no secret is stored: `generate_challenge`
asks TextFlow to send a code (``send_verification_sms``, through the process's
verification guard), and `verify_token` asks TextFlow whether the code the user
typed is right (``verify_code``, through the guard). django-otp's
``ThrottlingMixin`` locks the device after wrong tokens (1, 2, 4, ... seconds
times ``OTP_TEXTFLOW_THROTTLE_FACTOR``, default 1).
"""

from __future__ import annotations

from typing import Optional, Union

from django.conf import settings
from django.db import models
from django_otp.models import Device, ThrottlingMixin

from textflow.contrib.django.clients import get_guard, get_settings
from textflow.errors import InputValidationError, VerificationRefused


class TextFlowDevice(ThrottlingMixin, Device):  # type: ignore[misc]
    """A phone number whose one-time codes TextFlow sends and verifies.

    Examples:
        >>> device = TextFlowDevice.objects.create(user=user, name="phone", number="+11234567890")
        >>> device.generate_challenge()
        'A code was sent by SMS.'
        >>> device.verify_token(code_the_user_typed)
        True
    """

    number = models.CharField(
        max_length=32, help_text="The phone number the codes go to, in E.164 form (+...)."
    )

    class Meta:
        verbose_name = "TextFlow SMS device"

    def __repr__(self) -> str:
        return f"<TextFlowDevice(id={self.pk!r}, name={self.name!r})>"

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_TEXTFLOW_THROTTLE_FACTOR", 1))

    def generate_challenge(self, client_key: Optional[str] = None) -> str:
        """Send a code to ``number`` through the guard; returns a message for the user.

        Args:
            client_key: What you know of the caller (an IP address) for the guard's
                per-caller limit; None skips that limit.

        Raises:
            VerificationRefused: The guard refused (``.reason``, ``.retry_after``);
                nothing was sent.
            TextFlowError: The send failed (django-otp's views show the error).
        """
        loaded = get_settings()
        get_guard().send_code(
            self.number,
            service_name=loaded.service_name,
            seconds=loaded.code_seconds,
            client_key=client_key,
        )
        return "A code was sent by SMS."

    def verify_token(self, token: Union[str, int], client_key: Optional[str] = None) -> bool:
        """Whether TextFlow says ``token`` is the code it sent (a right code is used up).

        A wrong token, and a token tried while the device is throttled or the guard
        has burned the code, counts as a failure and returns False. An error on the
        wire (TextFlow did not answer) raises and counts as nothing.
        """
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            valid = get_guard().check_code(self.number, token, client_key=client_key).valid
        except (VerificationRefused, InputValidationError):
            valid = False
        if valid:
            self.throttle_reset()
        else:
            self.throttle_increment()
        return bool(valid)
