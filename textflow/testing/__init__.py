"""A fake TextFlow for testing your app: in process, over local HTTP, or as pytest fixtures.

Nothing here sends a real SMS or reaches the network. It needs nothing beyond
the SDK's own dependencies.

Quick start::

    from textflow.testing import FakeTextFlow

    fake = FakeTextFlow()                    # api_key="tf_test_key", 100 credits
    client = fake.client()                   # TextFlowClient wired in process
    client.send_verification_sms("+11234567890", "Acme")
    code = fake.last_code("+11234567890")    # read the "SMS" back
    assert client.verify_code("+11234567890", code).valid
    assert fake.messages[0].kind == "code"

    with fake.serve() as base_url:           # the same fake over HTTP on 127.0.0.1
        ...                                  # base_url == "http://127.0.0.1:PORT/api"

With pytest, the fixtures ``textflow_fake``, ``textflow_client`` and
``async_textflow_client`` come from ``textflow.testing.pytest_plugin``.

Magic numbers
-------------
Well-formed numbers from the fictional 555-01XX range that always fail the same
way, so error handling can be tested without scripting faults. Nothing is sent
or debited.

======================  ==============================  =========================================
number                  constant                        answer
======================  ==============================  =========================================
``+15555550100``        ``INVALID_NUMBER``              400 ``Phone number is invalid``
``+15555550101``        ``INSUFFICIENT_CREDIT_NUMBER``  402 ``Insufficient credits.`` (operations
                                                        that send; ``verify_code`` treats it as
                                                        an ordinary number)
``+15555550102``        ``RATE_LIMITED_NUMBER``         429 ``Too many requests. Try again
                                                        later.`` with ``Retry-After: 1``
``+15555550103``        ``UNAVAILABLE_NUMBER``          503 ``Service temporarily unavailable.``
======================  ==============================  =========================================

They apply to every operation that takes numbers; in a bulk request the first
magic number in the list decides the answer for the whole request. Note that
the SDK retries a 429 (honouring ``Retry-After``), so use ``max_retries=0`` to
see the ``RateLimitError`` at once.

Wire behaviour
--------------
Paths, envelopes, field names and types follow the TextFlow API reference; the
answers TextFlow's Python documentation page shows (a sent SMS, a sent code, a
valid code, a wrong code, a bad key) come word for word, trailing spaces included:

* ``POST /api/send-sms``, ``/api/send-code``, ``/api/verify-code``,
  ``/api/bulk-sms`` and ``GET /api/balance``; ``Authorization: Bearer KEY``.
* Bodies are JSON, or ``application/x-www-form-urlencoded`` as the official C#
  client posts (``phone_numbers`` repeated, or ``phone_numbers[]``); ``seconds``
  may be a numeric string (as the Java and C# clients send it). Unknown fields
  (such as the C# client's ``test``) are ignored.
* Errors are ``{"ok": false, "status": S, "message": "..."}`` with HTTP status
  ``S``. A missing or wrong key is 400 ``Invalid API key or user id.`` (401 on
  ``verify-code``).
* Phone numbers: spaces, ``-``, ``.``, ``(`` and ``)`` are ignored; the rest must
  be ``+`` and 7-15 digits, the first not 0, else 400 ``Phone number is invalid``.
* ``send-sms`` answers ``Message sent successfully`` and
  ``data: {to, content, country_code, price, timestamp}``:
  ``country_code`` is the English country name ("United States", "Serbia"; +1 is
  always "United States"; "Unknown" when the prefix is not in the fake's table),
  ``price`` is what the message cost, per message: its segments (a
  260-character GSM-7 text is 2, see `textflow._segments`) x
  ``PRICE_PER_SEGMENT`` (0.15), computed as a ``Decimal`` and written as a JSON
  number; ``timestamp`` is ms by the fake's clock. The price is debited from
  the balance.
* ``send-code`` makes a 6-digit numeric code, texts
  ``Your verification code for <service_name> is:\n<CODE>`` (the code on a line
  of its own; ``Your verification code is:\n<CODE>`` when ``service_name`` is
  empty or missing), and answers ``Verification SMS sent. `` with
  ``data: {verification_code, expires, message_text}`` with ``expires`` = now +
  ``seconds`` (default 600) in ms. A new code replaces the number's earlier one.
  It costs what its ``message_text`` costs (one segment with a short service name).
* ``verify-code`` always carries ``valid``. The right live code: 200
  ``{ok: true, valid: true, status: 200, message: "The code is valid. ",
  valid_code, expires}``. A wrong code, no code, or an expired one: HTTP 400
  ``{ok: true, valid: false, status: 400, message}`` (``The code is invalid. ``;
  ``The code has expired. ``, which is not documented). Errors (bad key, bad
  number, ...) also carry ``valid: false``. ``code`` may be a JSON string or
  number (a number is zero-padded to 6 digits, since JSON numbers lose leading
  zeros).
* ``GET /balance``: ``{"ok": true, "credits": "<decimal string>", "packages": {}}``;
  its only error body is exactly ``{"ok": false}``.

Choices where the reference is silent
-------------------------------------
* A verified code is consumed: verifying it again answers ``valid: false``
  (codes are one-time passwords). A wrong guess leaves the live code in place;
  there is no limit on guesses.
* Insufficient credit: HTTP 402 ``Insufficient credits.``; nothing is sent.
* ``seconds`` outside 1-86400, or not a whole number: 400
  ``seconds must be a whole number from 1 to 86400.``; missing or empty: 600.
* A missing or blank field: 400 ``Missing required field: <name>.``
  (``phone_number``, ``text``, ``code``, ``phone_numbers``). A body that is not
  JSON (or not an object): 400 ``The request body is not valid JSON.``. A
  ``service_name`` that is not a string: 400. Larger than 1 MiB (HTTP server): 413.
* A bad key on ``GET /balance``: HTTP 401 with ``{"ok": false}``.
* Unknown path: 404 ``Not found.``; wrong method: 405 ``Method not allowed.``
  with ``Allow``. Paths may end in ``/``; query strings are ignored.
* ``bulk-sms`` (answer undocumented; every ``data`` field is invented): checks
  every number first (one invalid number fails the whole request, nothing is
  sent), debits each recipient's message (segments x ``PRICE_PER_SEGMENT``; all
  or none), delivers one ``"bulk"`` message per recipient at once, and answers
  200 ``{ok: true, status: 200, message: "Bulk SMS job started", data:
  {recipients: N, price: <total, a number>, timestamp: <ms>}}``.
  ``phone_numbers`` may also be one comma-separated string.
* Order of checks: path, method, scripted fault, key, body, fields, magic
  numbers, credit.
* ``packages`` is always ``{}``: the fake has only credits.
* Scripted faults (``fail_next``) are consumed in order, one per request of that
  operation, before the key is checked. A faulted request is not processed,
  unless only ``delay`` was given (then it is processed at once and answered late).
* Random failures (``fail_rate``) are drawn before scripted faults and the key
  check, for the sending operations only; ``latency`` is added to every answer,
  errors included.
* ``reply`` sends ``{"secret", "phone_number", "text", "timestamp"}`` (the body
  ``textflow.webhooks`` parses) and does not retry; ``attempts`` re-sends it.

Web inbox
---------
``fake.serve()`` (and ``textflow sandbox``) also serve a web page at ``/``
listing every delivered SMS by phone, live, with a reply box when
``webhook_url`` is set; ``/_inbox/messages`` is its JSON and ``/_inbox/events``
its Server-Sent Events. The API stays under ``/api``.
"""

from __future__ import annotations

from textflow.testing._answers import PRICE_PER_SEGMENT, PRICE_PER_SMS
from textflow.testing._fake import DEFAULT_API_KEY, FakeTextFlow, NoCodeError
from textflow.testing._phones import (
    INSUFFICIENT_CREDIT_NUMBER,
    INVALID_NUMBER,
    RATE_LIMITED_NUMBER,
    UNAVAILABLE_NUMBER,
)
from textflow.testing._state import FakeEvent, FakeMessage
from textflow.testing._webhook import DEFAULT_WEBHOOK_SECRET

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_WEBHOOK_SECRET",
    "INSUFFICIENT_CREDIT_NUMBER",
    "INVALID_NUMBER",
    "PRICE_PER_SEGMENT",
    "PRICE_PER_SMS",
    "RATE_LIMITED_NUMBER",
    "UNAVAILABLE_NUMBER",
    "FakeEvent",
    "FakeMessage",
    "FakeTextFlow",
    "NoCodeError",
]
