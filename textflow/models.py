"""The result models, shared by both clients and the legacy functions.

Names and fields are those of every official TextFlow client, so code written
for ``textflowsms`` 0.1.0 keeps its attribute names. Fields the server adds are
kept (``result.model_extra``), never rejected. Timestamps stay integers in
milliseconds since the epoch, as on the wire; ``sent_at`` / ``expires_at`` give
them as aware `datetime.datetime` objects.

``str(result)`` is compact JSON, as in 0.1.0, except that verification codes
(and the SMS text that carries one) are masked there and in ``repr``: read them
from the attributes. Phone numbers and message texts appear in full: a result is
the caller's own data (exception messages, which travel to logs, mask numbers).

Just over 300 lines, yet one module: it holds one thing, the result models,
each a few fields and its docstring; split, an operation's models would sit
apart from their shared base.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_serializer,
    field_validator,
)

__all__ = [
    "BalanceFailed",
    "BalanceResult",
    "BulkSMSResult",
    "LegacySendMessageData",
    "LegacySendMessageOk",
    "Result",
    "SendMessageData",
    "SendMessageFailed",
    "SendMessageOk",
    "SendMessageResult",
    "VerifyCodeResult",
    "VerifyPhoneData",
    "VerifyPhoneFailed",
    "VerifyPhoneOk",
    "VerifyPhoneResult",
]

MASK = "******"


def _money_json(value: Decimal) -> Union[float, str]:
    # The wire sends a price as a JSON number, and str(result) / model_dump_json() print it
    # as one, as 0.1.0 did: a price read from the wire goes back to that same float. One no
    # float can hold (a server's "1e400") is written as its decimal string: JSON has no
    # Infinity.
    number = float(value)
    return number if math.isfinite(number) else str(value)


#: An amount of credits: exact, a `decimal.Decimal` (``Decimal("0.15")``, never
#: ``0.15000000000000002``). Read from a JSON number or a decimal string; written to JSON
#: (``str(result)``, ``model_dump_json()``) as a number.
_Money = Annotated[
    Decimal, PlainSerializer(_money_json, return_type=Union[float, str], when_used="json")
]


def _from_millis(value: Optional[int]) -> Optional[datetime]:
    """Milliseconds since the epoch as an aware UTC datetime; ``None`` for none, or for a
    time no datetime can hold (a server's absurd ``10**20``), rather than an OS error."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):  # out of the platform's or datetime's range
        return None


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")

    # Fields whose value is a secret: masked in str(); each is also Field(repr=False).
    _secret_fields: ClassVar[frozenset[str]] = frozenset()

    def _redacted(self) -> dict[str, Any]:
        dumped: dict[str, Any] = self.model_dump(mode="json", exclude_unset=True)
        for name in self._secret_fields:
            if dumped.get(name) is not None:
                dumped[name] = MASK
        for name, value in self:
            if isinstance(value, _Model) and name in dumped:
                dumped[name] = value._redacted()
        return dumped

    def __str__(self) -> str:
        return json.dumps(self._redacted(), separators=(",", ":"), ensure_ascii=False)


class Result(_Model):
    """What every API answer has: whether the request was processed.

    Attributes:
        ok: ``True`` when the API processed the request without error.

    Examples:
        >>> result = client.send_sms("+11234567890", "Hello")
        >>> result.ok
        True
    """

    ok: bool


class SendMessageData(_Model):
    """The SMS that was sent.

    Attributes:
        to: The recipient, as the API normalised it.
        content: The text that was sent.
        country_code: The recipient's country, e.g. ``"United States"``.
        price: What the SMS cost, in credits: a `decimal.Decimal`, exact (sums of prices
            do not drift as floats do). ``str(result)`` and ``model_dump_json()`` still
            write it as a JSON number, as the wire does.
        timestamp: When it was sent, in milliseconds since the epoch (see ``sent_at``).

    Examples:
        >>> result.data.price, result.data.sent_at.tzinfo
        (Decimal('0.15'), datetime.timezone.utc)
    """

    to: str
    content: str
    country_code: str
    price: _Money
    timestamp: int

    @property
    def sent_at(self) -> Optional[datetime]:
        """``timestamp`` as an aware UTC datetime; ``None`` if it is out of any datetime's range."""
        return _from_millis(self.timestamp)


class SendMessageResult(Result):
    """The answer to ``send_sms`` / ``sendSMS``: a `SendMessageOk` or a `SendMessageFailed`.

    The clients return a `SendMessageOk` (they raise on any failure), whose
    ``data`` is never ``None``; the legacy ``sendSMS`` returns either, and
    ``if result.ok:`` tells a type checker which.

    Attributes:
        ok: ``True`` when the SMS was accepted.
        status: The API's status, equal to the HTTP status.
        message: The API's sentence about the outcome.
        data: The SMS, when ``ok``; ``None`` otherwise.

    Examples:
        >>> result = tf.sendSMS("+11234567890", "Hello")
        >>> print(result.data.to if result.ok else result.message)
        +11234567890
    """

    status: int
    message: str
    data: Optional[SendMessageData] = None


class SendMessageOk(SendMessageResult):
    """A sent SMS: what ``send_sms`` returns, ``ok`` always ``True`` and ``data`` always set.

    Examples:
        >>> result = client.send_sms("+11234567890", "Hello")
        >>> result.data.to
        '+11234567890'
    """

    ok: Literal[True]
    data: SendMessageData


class LegacySendMessageData(SendMessageData):
    """The SMS the legacy ``sendSMS`` sent: ``price`` is a `float`, as 0.1.0 returned it.

    A `SendMessageData` in all else, so 0.1.0 code that adds prices to a float total
    keeps working. (Read through the base class its type says `Decimal`: the one
    place the legacy functions bend the modern types, for 0.1.0's sake.)

    Examples:
        >>> tf.sendSMS("+11234567890", "Hello").data.price
        0.15
    """

    price: float  # type: ignore[assignment]  # 0.1.0's type; see the docstring


class LegacySendMessageOk(SendMessageOk):
    """What the legacy ``sendSMS`` returns when the SMS went out: a `SendMessageOk` whose
    ``data`` is a `LegacySendMessageData` (``price`` a `float`, as in 0.1.0).

    Examples:
        >>> result = tf.sendSMS("+11234567890", "Hello")
        >>> type(result.data.price) if result.ok else None
        <class 'float'>
    """

    data: LegacySendMessageData


class SendMessageFailed(SendMessageResult):
    """An SMS that was not sent: the legacy ``sendSMS``'s answer with ``ok=False``.

    Also the ``result`` of an `APIStatusError` raised by ``send_sms``.

    Examples:
        >>> result = tf.sendSMS("+11234567890", "")
        >>> result.ok, result.status
        (False, 400)
    """

    ok: Literal[False]


class VerifyPhoneData(_Model):
    """The verification SMS that was sent (the code is masked in ``str``/``repr``).

    Attributes:
        verification_code: The code the SMS carries; keep it out of logs.
        expires: When the code expires, in milliseconds since the epoch (see ``expires_at``).
        message_text: The whole SMS, code included.

    Examples:
        >>> result.data.expires_at > datetime.now(timezone.utc)
        True
    """

    _secret_fields: ClassVar[frozenset[str]] = frozenset({"verification_code", "message_text"})

    verification_code: str = Field(repr=False)
    expires: int
    message_text: str = Field(repr=False)

    @property
    def expires_at(self) -> Optional[datetime]:
        """``expires`` as an aware UTC datetime; ``None`` if it is out of any datetime's range."""
        return _from_millis(self.expires)


class VerifyPhoneResult(Result):
    """The answer to ``send_verification_sms`` / ``sendVerificationSMS``.

    A `VerifyPhoneOk` (what the clients return: ``data`` always set) or a
    `VerifyPhoneFailed` (the legacy function's ``ok=False`` answer).

    Attributes:
        ok: ``True`` when the code was sent.
        status: The API's status, equal to the HTTP status.
        message: The API's sentence about the outcome.
        data: The code and its expiry, when ``ok``; ``None`` otherwise.

    Examples:
        >>> result = client.send_verification_sms("+11234567890", "Acme", 300)
        >>> result.ok
        True
    """

    status: int
    message: str
    data: Optional[VerifyPhoneData] = None


class VerifyPhoneOk(VerifyPhoneResult):
    """A sent code: what ``send_verification_sms`` returns, ``data`` always set.

    Examples:
        >>> result = client.send_verification_sms("+11234567890", "Acme", 300)
        >>> result.data.expires_at > datetime.now(timezone.utc)
        True
    """

    ok: Literal[True]
    data: VerifyPhoneData


class VerifyPhoneFailed(VerifyPhoneResult):
    """A code that was not sent: the legacy ``sendVerificationSMS``'s answer with ``ok=False``.

    Also the ``result`` of an `APIStatusError` raised by ``send_verification_sms``.

    Examples:
        >>> result = tf.sendVerificationSMS("+11234567890", "Acme", 0)
        >>> result.ok, result.status
        (False, 400)
    """

    ok: Literal[False]


class VerifyCodeResult(Result):
    """The answer to ``verify_code`` / ``verifyCode``.

    ``ok`` says the request was processed; ``valid`` is the verdict on the code.

    Attributes:
        ok: ``True`` when the API processed the request (even if the code is wrong).
        valid: ``True`` only when the code is right and has not expired.
        status: The API's status; a wrong or expired code can come with 400.
        message: The API's sentence about the outcome.
        valid_code: The code that is valid for this number, when the API says so.
        expires: When that code expires, in milliseconds since the epoch.

    Examples:
        >>> result = client.verify_code("+11234567890", "123456")
        >>> result.valid
        False
    """

    _secret_fields: ClassVar[frozenset[str]] = frozenset({"valid_code"})

    valid: bool
    status: int
    message: str
    valid_code: Optional[str] = Field(default=None, repr=False)
    expires: Optional[int] = None

    @property
    def expires_at(self) -> Optional[datetime]:
        """``expires`` as an aware UTC datetime, when the API sent one in range."""
        return _from_millis(self.expires)


class BulkSMSResult(Result):
    """The answer to ``send_bulk_sms``: the bulk job was accepted.

    Attributes:
        ok: ``True`` when the job was accepted; delivery takes minutes to hours.
        status: The API's status, equal to the HTTP status.
        message: The API's sentence about the outcome.
        data: Whatever the API says about the job: its shape is not documented, and it
            may be absent, so it stays ``Optional`` even on a result the client returns.
            A ``price`` in it that is a number is money, a `decimal.Decimal`, as
            ``SendMessageData.price`` is (written back to JSON as a number).

    Examples:
        >>> client.send_bulk_sms(["+11234567890", "+381611231234"], "Hi").ok
        True
    """

    status: int
    message: str
    data: Optional[dict[str, Any]] = None

    @field_validator("data")
    @classmethod
    def _price_as_money(cls, data: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        price = data.get("price") if data is not None else None
        if data is None or isinstance(price, bool) or not isinstance(price, (int, float)):
            return data
        if not math.isfinite(price):
            return data
        return {**data, "price": Decimal(str(price))}

    @field_serializer("data", when_used="json")
    def _price_as_number(self, data: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        if data is None or not isinstance(data.get("price"), Decimal):
            return data
        return {**data, "price": _money_json(data["price"])}


class BalanceResult(Result):
    """The account balance.

    Attributes:
        ok: ``True`` when the balance could be read.
        credits: The credit left, exact (the wire sends it as a decimal string).
        packages: Messages left in prepaid packages, by region name.

    Examples:
        >>> balance = client.get_balance()
        >>> balance.credits
        Decimal('0.11437')
    """

    credits: Decimal
    packages: dict[str, int] = Field(default_factory=dict)


class BalanceFailed(Result):
    """A balance that could not be read: the ``result`` of an `APIStatusError` raised by
    ``get_balance`` (a refused key, ...), ``ok=False`` with what the API said.

    Attributes:
        ok: Always ``False``.
        status: The API's status (the HTTP status when the body has none).
        message: The API's sentence, or the SDK's when it sent none.
        credits: The credit left, when the refusal still says it; else ``None``.
        packages: Messages left in prepaid packages, when the refusal says them.

    Examples:
        >>> try:
        ...     client.get_balance()
        ... except APIStatusError as exc:
        ...     print(exc.result.status, exc.result.credits)
        401 None
    """

    ok: Literal[False]
    status: int
    message: str
    credits: Optional[Decimal] = None
    packages: dict[str, int] = Field(default_factory=dict)
