"""What the Django tests share: the test number, and how to post to the webhook."""

from __future__ import annotations

PHONE = "+11234567890"
