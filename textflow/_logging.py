"""The ``textflow`` logger: silent by default, ``TEXTFLOW_LOG=info|debug`` for stderr.

What is logged: the operation, the masked recipient(s), the HTTP status, the
time taken and retries. Never the API key, a code, or a message's text.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Optional

from textflow._redact import mask_phone

ENV_LOG = "TEXTFLOW_LOG"

logger = logging.getLogger("textflow")
logger.addHandler(logging.NullHandler())


#: The values ``TEXTFLOW_LOG`` accepts, in any case; unset or empty means no logging.
LEVELS = ("info", "debug")


def configure_from_env() -> None:
    """Add one stderr handler at the level ``TEXTFLOW_LOG`` names (``info`` or ``debug``).

    Any other non-empty value is a mistake (``verbose``, ``1``) that would leave
    logging off without a word: it gets one `RuntimeWarning`, naming the values
    accepted. This runs once, when ``textflow`` is imported.
    """
    value = os.environ.get(ENV_LOG, "").strip()
    level = value.upper()
    if level not in ("INFO", "DEBUG"):
        if value:
            warnings.warn(
                f"{ENV_LOG}={value!r} is not a level textflow knows, so nothing is logged: "
                f"set it to {' or '.join(LEVELS)}, or unset it.",
                RuntimeWarning,
                stacklevel=2,
            )
        return
    if not any(getattr(h, "_textflow_env", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler._textflow_env = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)


def recipients(payload: Optional[dict[str, Any]]) -> str:
    """Who a request is for, masked: ``+1123*****90`` or ``3 numbers``."""
    if not payload:
        return "-"
    if "phone_numbers" in payload:
        return f"{len(payload['phone_numbers'])} numbers"
    return mask_phone(str(payload.get("phone_number", "")))
