"""The ``textflow`` logger: silent by default, ``TEXTFLOW_LOG=info|debug`` for stderr.

What is logged: the operation, the masked recipient(s), the HTTP status, the
time taken and retries. Never the API key, a code, or a message's text.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

from textflow._validation import mask_phone

ENV_LOG = "TEXTFLOW_LOG"

logger = logging.getLogger("textflow")
logger.addHandler(logging.NullHandler())


def configure_from_env() -> None:
    """Add one stderr handler at the level ``TEXTFLOW_LOG`` names (``info`` or ``debug``)."""
    level = os.environ.get(ENV_LOG, "").strip().upper()
    if level not in ("INFO", "DEBUG"):
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
