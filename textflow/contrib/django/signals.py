"""``sms_received``: sent once for each verified webhook call TextFlow makes.

Receivers get ``sender`` (the view function) and ``sms`` (a
`textflow.webhooks.IncomingSMS`).
"""

from __future__ import annotations

from django.dispatch import Signal

#: Sent with ``sender=`` the webhook view and ``sms=`` the `IncomingSMS`.
sms_received = Signal()
