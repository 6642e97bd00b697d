"""A small app's use of the typed surface, written as a user would: no asserts, no casts.

tests/docs/test_docs_typecheck.py runs ``mypy --strict`` on this file (every line
here must type-check as written) and also runs it against a fake TextFlow (every
line here must work). Not collected by pytest itself (no ``test_`` prefix).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Optional

import textflowsms as tf
from textflow import AsyncTextFlowClient, SendMessageResult, TextFlowClient, VerifyPhoneResult
from textflow.testing import FakeTextFlow

PHONE = "+11234567890"


def sync_app(client: TextFlowClient, fake: FakeTextFlow) -> dict[str, Any]:
    """Every sync method's result, read without checking for ``None`` first."""
    sent = client.send_sms(PHONE, "Your order has shipped")
    price: Decimal = sent.data.price
    to: str = sent.data.to
    sent_at: Optional[datetime] = sent.data.sent_at  # None only for an absurd timestamp
    code_sent = client.send_verification_sms(PHONE, "Acme", seconds=300)
    expires: int = code_sent.data.expires
    expires_at: Optional[datetime] = code_sent.data.expires_at
    code: str = fake.last_code(PHONE)  # str, never None: raises if there is none
    verified = client.verify_code(PHONE, code)
    valid: bool = verified.valid
    wrong = client.verify_code(PHONE, 12)  # an int is a code too (without leading zeros)
    bulk = client.send_bulk_sms([PHONE, "+381611231234"], "We are open")
    bulk_data: Optional[dict[str, Any]] = bulk.data  # undocumented shape: stays Optional
    credits: Decimal = client.get_balance().credits
    impatient: TextFlowClient = client.with_options(timeout=None, max_retries=0)
    old_style: SendMessageResult = impatient.send_sms(PHONE, "still a SendMessageResult")
    return {
        "price": price,
        "to": to,
        "sent_at": sent_at,
        "expires": expires,
        "expires_at": expires_at,
        "valid": valid,
        "wrong": wrong.valid,
        "bulk": bulk.ok and (bulk_data is None or isinstance(bulk_data, dict)),
        "credits": credits,
        "old_style": old_style.ok,
    }


async def async_app(client: AsyncTextFlowClient, fake: FakeTextFlow) -> dict[str, Any]:
    """Every async method's result, awaited, read without checking for ``None`` first."""
    sent = await client.send_sms(PHONE, "Your order has shipped")
    price: Decimal = sent.data.price
    code_sent = await client.send_verification_sms(PHONE, "Acme")
    message_text: str = code_sent.data.message_text
    code_in_text = fake.messages[-1].text == message_text
    verified = await client.verify_code(PHONE, fake.last_code(PHONE))
    bulk = await client.send_bulk_sms([PHONE], "We are open")
    balance = await client.get_balance()
    impatient: AsyncTextFlowClient = client.with_options(timeout=5.0)
    again = await impatient.send_sms(PHONE, "again")
    return {
        "price": price,
        "code_in_text": code_in_text,
        "valid": verified.valid,
        "bulk": bulk.ok,
        "credits": balance.credits,
        "again_to": again.data.to,
    }


def legacy_app() -> dict[str, Any]:
    """The 0.1.0 functions: ``data`` is there once ``ok`` says so (no assert needed)."""
    tf.useKey("YOUR_KEY")
    sent = tf.sendSMS(PHONE, "Dummy message text...")
    price: Optional[float] = sent.data.price if sent.ok else None  # 0.1.0's float
    refused = tf.sendSMS(PHONE, "")  # an ok=False result, not an exception
    refused_message = refused.message if not refused.ok else ""
    code_sent = tf.sendVerificationSMS(PHONE, "Acme", 300)
    if code_sent.ok:
        expires: Optional[int] = code_sent.data.expires
    else:
        expires = None
    general: VerifyPhoneResult = code_sent  # the 0.1.0 class still describes both
    verified = tf.verifyCode(PHONE, 123456)
    return {
        "price": price,
        "refused": (refused.ok, refused.status, refused_message != ""),
        "expires": expires,
        "general": general.ok,
        "verified": verified.valid,
    }
