"""What the fake answers to each operation: one handler per operation of the table.

``ANSWERS`` maps each operation's name (`textflow._operations.OPERATIONS`) to
the function that checks the request (key, body, fields, magic numbers) and
does what the API would: debit, deliver, keep or verify a code. A handler
raises `Rejected` for the API's error envelope. What is answered, and every
choice made where the wire reference is silent, is documented in the
``textflow.testing`` package docstring.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import parse_qs

from textflow._operations import BALANCE, BULK_SMS, SEND_CODE, SEND_SMS, VERIFY_CODE, Operation
from textflow._segments import segments
from textflow.testing import _phones
from textflow.testing._reply import Rejected, Reply, json_reply
from textflow.testing._state import Code, FakeMessage, FakeState, MessageKind

#: What one SMS segment costs: a message is charged ``segments x PRICE_PER_SEGMENT``
#: (``price`` in send-sms answers), debited from the balance like an account's credits.
PRICE_PER_SEGMENT = Decimal("0.15")
#: What a one-segment SMS costs (160 GSM-7 characters, or 70 UCS-2, or fewer).
PRICE_PER_SMS = PRICE_PER_SEGMENT
#: Digits in a verification code.
CODE_DIGITS = 6
#: ``seconds`` a verification code lives when the request does not say.
DEFAULT_CODE_SECONDS = 600
#: The longest ``seconds`` accepted: one day.
MAX_CODE_SECONDS = 86400

INVALID_KEY_MESSAGE = "Invalid API key or user id."
INVALID_PHONE_MESSAGE = "Phone number is invalid"
INSUFFICIENT_CREDIT_MESSAGE = "Insufficient credits."
INSUFFICIENT_CREDIT_STATUS = 402
RATE_LIMITED_MESSAGE = "Too many requests. Try again later."
UNAVAILABLE_MESSAGE = "Service temporarily unavailable."
INVALID_BODY_MESSAGE = "The request body is not valid JSON."
SECONDS_MESSAGE = f"seconds must be a whole number from 1 to {MAX_CODE_SECONDS}."
# The answers TextFlow's Python documentation page shows, word for word (trailing spaces
# included), with INVALID_KEY_MESSAGE above: 400, but 401 on verify-code.
VERIFY_BAD_KEY_STATUS = 401
SMS_SENT_MESSAGE = "Message sent successfully"
CODE_SENT_MESSAGE = "Verification SMS sent. "
CODE_VALID_MESSAGE = "The code is valid. "
CODE_INVALID_MESSAGE = "The code is invalid. "
#: The SMS a code is sent in (``message_text``): the code comes after a newline.
CODE_TEXT = "Your verification code for {service_name} is:\n{code}"
#: Not documented: the SMS when ``service_name`` is empty or missing.
CODE_TEXT_NO_SERVICE = "Your verification code is:\n{code}"
#: Not documented: an expired code, in the style of the documented verdicts.
CODE_EXPIRED_MESSAGE = "The code has expired. "
BULK_STARTED_MESSAGE = "Bulk SMS job started"

_FORM_TYPE = "application/x-www-form-urlencoded"

Fields = dict[str, Any]


def _check_key(state: FakeState, headers: Mapping[str, str], status: int = 400) -> None:
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    given = token.strip().encode()
    if not (scheme.lower() == "bearer" and hmac.compare_digest(given, state.api_key.encode())):
        raise Rejected(status, INVALID_KEY_MESSAGE)


def _fields(
    state: FakeState, headers: Mapping[str, str], body: bytes, key_status: int = 400
) -> Fields:
    """Checks the key, then reads the body: JSON, or form-urlencoded as the C# client posts."""
    _check_key(state, headers, key_status)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, INVALID_BODY_MESSAGE) from None
    if headers.get("content-type", "").split(";")[0].strip().lower() == _FORM_TYPE:
        form = parse_qs(text, keep_blank_values=True)
        fields: Fields = {name: values[-1] for name, values in form.items()}
        numbers = form.get("phone_numbers", []) + form.get("phone_numbers[]", [])
        if numbers:
            fields["phone_numbers"] = numbers
        return fields
    if not text.strip():
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        raise Rejected(400, INVALID_BODY_MESSAGE) from None
    if not isinstance(parsed, dict):
        raise Rejected(400, INVALID_BODY_MESSAGE)
    return parsed


def _missing(name: str) -> Rejected:
    return Rejected(400, f"Missing required field: {name}.")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _phone(value: Any, name: str = "phone_number") -> str:
    if _blank(value):
        raise _missing(name)
    number = _phones.parse(value)
    if number is None:
        raise Rejected(400, INVALID_PHONE_MESSAGE)
    return number


def _text(fields: Fields) -> str:
    text = fields.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _missing("text")
    return text


def _seconds(value: Any) -> int:
    """``seconds`` as an int: a JSON number or a numeric string (Java and C# send strings)."""
    if _blank(value):
        return DEFAULT_CODE_SECONDS
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Rejected(400, SECONDS_MESSAGE)
    if not 1 <= value <= MAX_CODE_SECONDS:
        raise Rejected(400, SECONDS_MESSAGE)
    return int(value)


def _code(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = f"{value:0{CODE_DIGITS}d}"  # a JSON number has lost the leading zeros
    if not isinstance(value, str) or not value.strip():
        raise _missing("code")
    return value.strip()


def _phone_numbers(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value:
        raise _missing("phone_numbers")
    return [_phone(raw, "phone_numbers") for raw in value]


def _check_magic(number: str, op: Operation[Any]) -> None:
    """Raise the fixed failure of a magic number."""
    if number == _phones.INVALID_NUMBER:
        raise Rejected(400, INVALID_PHONE_MESSAGE)
    if number == _phones.INSUFFICIENT_CREDIT_NUMBER and op.sends_sms:
        raise Rejected(INSUFFICIENT_CREDIT_STATUS, INSUFFICIENT_CREDIT_MESSAGE)
    if number == _phones.RATE_LIMITED_NUMBER:
        raise Rejected(429, RATE_LIMITED_MESSAGE, (("Retry-After", "1"),))
    if number == _phones.UNAVAILABLE_NUMBER:
        raise Rejected(503, UNAVAILABLE_MESSAGE)


def _priced(number: str, text: str, kind: MessageKind, now: int) -> FakeMessage:
    """The message ``text`` to ``number``, with its encoding, segments and price."""
    count = segments(text)
    price = PRICE_PER_SEGMENT * count.segments
    return FakeMessage(number, text, kind, now, count.encoding, count.segments, price)


def _debit(state: FakeState, messages: tuple[FakeMessage, ...]) -> Decimal:
    """Charge for ``messages`` (all or none). Caller holds the lock."""
    cost = sum((message.price for message in messages), Decimal(0))
    if state.credits < cost:
        raise Rejected(INSUFFICIENT_CREDIT_STATUS, INSUFFICIENT_CREDIT_MESSAGE)
    state.credits -= cost
    return cost


def money(amount: Decimal) -> float:
    """An amount for a JSON answer: a number, as the API writes ``price``.

    Amounts here are a few decimal places (``0.15 x segments``): the float's
    shortest form is those same digits, so a client reading it as ``Decimal``
    gets the exact amount back.
    """
    return float(amount)


# --- operations -------------------------------------------------------------------------


def _send_sms(state: FakeState, headers: Mapping[str, str], body: bytes) -> Reply:
    fields = _fields(state, headers, body)
    number = _phone(fields.get("phone_number"))
    text = _text(fields)
    _check_magic(number, SEND_SMS)
    with state.lock:
        message = _priced(number, text, "sms", state.now_ms())
        cost = _debit(state, (message,))
        state.messages.append(message)
    data = {
        "to": number,
        "content": text,
        "country_code": _phones.country_of(number),
        "price": money(cost),
        "timestamp": message.timestamp,
    }
    payload = {"ok": True, "status": 200, "message": SMS_SENT_MESSAGE, "data": data}
    return json_reply(200, payload, delivered=(message,))


def _send_code(state: FakeState, headers: Mapping[str, str], body: bytes) -> Reply:
    fields = _fields(state, headers, body)
    number = _phone(fields.get("phone_number"))
    service_name = fields.get("service_name")
    if service_name is None:
        service_name = ""
    if not isinstance(service_name, str):
        raise Rejected(400, "service_name must be a string.")
    seconds = _seconds(fields.get("seconds"))
    _check_magic(number, SEND_CODE)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    service = service_name.strip()
    template = CODE_TEXT if service else CODE_TEXT_NO_SERVICE
    text = template.format(service_name=service, code=code)
    with state.lock:
        now = state.now_ms()
        message = _priced(number, text, "code", now)
        _debit(state, (message,))
        expires = now + seconds * 1000
        state.codes[number] = Code(code, expires)  # replaces an earlier code
        state.messages.append(message)
    data = {"verification_code": code, "expires": expires, "message_text": text}
    payload = {"ok": True, "status": 200, "message": CODE_SENT_MESSAGE, "data": data}
    return json_reply(200, payload, delivered=(message,))


def _verify_code(state: FakeState, headers: Mapping[str, str], body: bytes) -> Reply:
    fields = _fields(state, headers, body, VERIFY_BAD_KEY_STATUS)
    number = _phone(fields.get("phone_number"))
    code = _code(fields.get("code"))
    _check_magic(number, VERIFY_CODE)
    with state.lock:
        live = state.codes.get(number)
        if live is None or not hmac.compare_digest(live.code.encode(), code.encode()):
            message = CODE_INVALID_MESSAGE
        elif state.now_ms() >= live.expires:
            del state.codes[number]
            message = CODE_EXPIRED_MESSAGE
        else:
            del state.codes[number]  # a code verifies once
            payload = {
                "ok": True,
                "valid": True,
                "status": 200,
                "message": CODE_VALID_MESSAGE,
                "valid_code": live.code,
                "expires": live.expires,
            }
            return json_reply(200, payload)
    return json_reply(400, {"ok": True, "valid": False, "status": 400, "message": message})


def _send_bulk(state: FakeState, headers: Mapping[str, str], body: bytes) -> Reply:
    fields = _fields(state, headers, body)
    numbers = _phone_numbers(fields.get("phone_numbers"))
    text = _text(fields)
    for number in numbers:
        _check_magic(number, BULK_SMS)
    with state.lock:
        now = state.now_ms()
        messages = tuple(_priced(number, text, "bulk", now) for number in numbers)
        cost = _debit(state, messages)
        state.messages.extend(messages)
    data = {"recipients": len(messages), "price": money(cost), "timestamp": now}
    payload = {"ok": True, "status": 200, "message": BULK_STARTED_MESSAGE, "data": data}
    return json_reply(200, payload, delivered=messages)


def _balance(state: FakeState, headers: Mapping[str, str], body: bytes) -> Reply:
    _check_key(state, headers, status=401)
    with state.lock:
        credits = state.credits
    return json_reply(200, {"ok": True, "credits": format(credits, "f"), "packages": {}})


Answer = Callable[[FakeState, Mapping[str, str], bytes], Reply]

#: The handler of each operation, by the operation's name.
ANSWERS: dict[str, Answer] = {
    SEND_SMS.name: _send_sms,
    SEND_CODE.name: _send_code,
    VERIFY_CODE.name: _verify_code,
    BULK_SMS.name: _send_bulk,
    BALANCE.name: _balance,
}
