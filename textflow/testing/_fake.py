"""``FakeTextFlow``: the fake account, its in-process clients and its HTTP server.

One module over 300 lines on purpose: it is the one public class of
``textflow.testing``, and most of its length is the docstrings (with
examples) of its public methods and properties. The work is done elsewhere:
requests in `_handler`, `_routes` and `_answers`, faults in `_failures`,
replies in `_webhook`, the HTTP server in `_server`, the web inbox in `_inbox`.
Splitting the class itself would scatter one API over several files.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import httpx

from textflow._operations import OPERATIONS
from textflow._redact import mask_phone
from textflow.testing import _phones, _webhook
from textflow.testing._failures import FailurePlan, scripted_fault
from textflow.testing._handler import FakeHandler
from textflow.testing._inbox import InboxApp
from textflow.testing._inbox_log import InboxLog
from textflow.testing._server import FakeHTTPServer
from textflow.testing._state import FakeEvent, FakeMessage, FakeState
from textflow.testing._transport import async_transport, sync_transport
from textflow.testing._webhook import WebhookTarget

if TYPE_CHECKING:
    from textflow import AsyncTextFlowClient, TextFlowClient

#: The key a ``FakeTextFlow`` accepts unless told otherwise. Obviously not a real key.
DEFAULT_API_KEY = "tf_test_key"
#: The credits a new ``FakeTextFlow`` starts with.
DEFAULT_CREDITS = Decimal("100")
#: The base URL of the in-process clients (``.invalid`` never resolves: nothing can leak out).
IN_PROCESS_BASE_URL = "https://textflow.invalid/api"
#: The longest ``latency`` accepted, in seconds.
MAX_LATENCY = 60.0

_FIXED_OPTIONS = frozenset({"base_url", "http_client"})

Credits = Union[Decimal, int, str]


class NoCodeError(LookupError):
    """``FakeTextFlow.last_code``: no live code for that number.

    None was sent to it, or the one sent was verified already (a code verifies
    once) or has expired. The message names the number masked, never a code.

    Examples:
        >>> with pytest.raises(NoCodeError):
        ...     FakeTextFlow().last_code("+11234567890")
    """


class FakeTextFlow:
    """A fake TextFlow account that answers like the real API, in process or over HTTP.

    Nothing it does leaves the machine: "delivered" SMS land in ``messages``,
    verification codes can be read back with ``last_code``, and the balance goes
    down by each SMS's price: its segments x ``PRICE_PER_SEGMENT``. Safe to share between threads.

    Args:
        api_key: The key it accepts; ``DEFAULT_API_KEY`` (``"tf_test_key"``) if None.
        credits: The starting balance (``Decimal``, int or decimal string).
        clock: Zero-argument callable returning seconds since the epoch, like
            ``time.time`` (the default); drives timestamps and code expiry.
        on_message: Called with each ``FakeMessage`` as it is delivered (after the
            fake's lock is released), e.g. to print an inbox line.
        fail_rate: The share of sends (send_sms, send_verification_sms,
            send_bulk_sms) answered HTTP 500 or dropped after the request was
            read, from 0 to 1. Exact: ``round(fail_rate * 1000)`` of every 1,000
            sends fail. A failed send is not processed.
        seed: Makes the failures repeatable: the same seed fails the same sends.
            None draws one (read it back from ``seed``).
        latency: Seconds every answer waits before it is sent (HTTP and in process).
        webhook_url: Where ``reply`` delivers the phone's answers: your app's
            webhook URL (``http://127.0.0.1:8000/sms``), or a callable given the
            raw JSON body (your handler, or a framework test client's post).
            Settable later (``fake.webhook_url = ...``).
        webhook_secret: The ``secret`` put in each webhook body;
            ``DEFAULT_WEBHOOK_SECRET`` (``"tf_test_webhook_secret"``) if None.
        on_event: Called with a ``FakeEvent`` for each reply delivered (or not) to
            the webhook, and each send ``fail_rate`` failed, e.g. to log it.

    Examples:
        >>> fake = FakeTextFlow()
        >>> with fake.client() as client:
        ...     client.send_sms("+11234567890", "Hello").ok
        True
        >>> fake.messages[0].text
        'Hello'
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        credits: Credits = Decimal("100"),
        clock: Callable[[], float] = time.time,
        on_message: Optional[Callable[[FakeMessage], None]] = None,
        fail_rate: float = 0.0,
        seed: Optional[int] = None,
        latency: float = 0.0,
        webhook_url: Optional[WebhookTarget] = None,
        webhook_secret: Optional[str] = None,
        on_event: Optional[Callable[[FakeEvent], None]] = None,
    ) -> None:
        if isinstance(latency, bool) or not isinstance(latency, (int, float)):
            raise ValueError(f"latency must be a number of seconds >= 0, not {latency!r}.")
        if not 0 <= latency <= MAX_LATENCY:
            raise ValueError(f"latency must be from 0 to {MAX_LATENCY:g} seconds, not {latency!r}.")
        self._failures = FailurePlan(fail_rate, seed)
        self._webhook_url = _webhook.check_target(webhook_url)
        self._webhook_secret = _webhook.check_secret(webhook_secret)
        self._inbox = InboxLog()
        self._latency = float(latency)
        if api_key is None:
            api_key = DEFAULT_API_KEY
        if not isinstance(api_key, str) or not api_key.strip() or api_key != api_key.strip():
            raise ValueError("api_key must be a non-blank string without surrounding spaces.")
        self._state = FakeState(api_key=api_key, initial_credits=_credits(credits), clock=clock)
        self._handle = FakeHandler(
            self._state, self._failures, self._inbox, self._latency, on_message, on_event
        )

    def __repr__(self) -> str:
        return f"FakeTextFlow(balance={self.balance!r}, messages={len(self.messages)})"

    @property
    def api_key(self) -> str:
        """The API key the fake accepts.

        Examples:
            >>> FakeTextFlow().api_key
            'tf_test_key'
        """
        return self._state.api_key

    @property
    def fail_rate(self) -> float:
        """The share of sends that fail (``fail_rate`` as given).

        Examples:
            >>> FakeTextFlow(fail_rate=0.1, seed=7).fail_rate
            0.1
        """
        return self._failures.rate

    @property
    def seed(self) -> int:
        """The seed of the random failures: give it back to repeat a run's failures.

        Examples:
            >>> FakeTextFlow(seed=7).seed
            7
        """
        return self._failures.seed

    @property
    def latency(self) -> float:
        """Seconds every answer waits.

        Examples:
            >>> FakeTextFlow(latency=0.05).latency
            0.05
        """
        return self._latency

    @property
    def webhook_url(self) -> Optional[WebhookTarget]:
        """Where ``reply`` delivers: a URL, a callable, or None (settable).

        Examples:
            >>> fake = FakeTextFlow()
            >>> fake.webhook_url = "http://127.0.0.1:8000/sms"
        """
        return self._webhook_url

    @webhook_url.setter
    def webhook_url(self, target: Optional[WebhookTarget]) -> None:
        self._webhook_url = _webhook.check_target(target)

    @property
    def webhook_secret(self) -> str:
        """The ``secret`` in webhook bodies (settable); not shown in ``repr``.

        Examples:
            >>> FakeTextFlow().webhook_secret
            'tf_test_webhook_secret'
        """
        return self._webhook_secret

    @webhook_secret.setter
    def webhook_secret(self, secret: str) -> None:
        self._webhook_secret = _webhook.check_secret(secret)

    def reply(self, phone_number: str, text: str, *, attempts: int = 1) -> Any:
        """The phone answers: deliver TextFlow's webhook call for an incoming SMS to your app.

        The body is what TextFlow POSTs, ``{"secret", "phone_number", "text",
        "timestamp"}`` (``textflow.webhooks.parse_webhook`` reads it), sent to
        ``webhook_url``. The reply shows in the sandbox's web inbox.

        Args:
            phone_number: Who replies (normalised like a recipient: ``+`` and digits).
            text: What they wrote.
            attempts: Deliver the same body this many times, as TextFlow retrying
                would (to test that your app handles duplicates); default once.

        Returns:
            What the app answered to the last delivery: an ``httpx.Response`` for a
            URL, or what the callable returned.

        Raises:
            ValueError: No ``webhook_url`` set, an invalid number, blank text, or
                ``attempts`` below 1.
            httpx.HTTPError: The URL did not answer (connection refused, timeout).

        Examples:
            >>> from textflow.webhooks import parse_webhook
            >>> fake = FakeTextFlow(webhook_url=lambda body: parse_webhook(
            ...     body, secret="tf_test_webhook_secret"))
            >>> fake.reply("+11234567890", "YES").text
            'YES'
        """
        target = self._webhook_url
        if target is None:
            raise ValueError("Set webhook_url first: your app's webhook URL, or a callable.")
        number = _phones.parse(phone_number)
        if number is None:
            raise ValueError(f"phone_number is not a valid phone number: {phone_number!r}.")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-blank string.")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"attempts must be an int >= 1, not {attempts!r}.")
        timestamp = self._state.now_ms()
        content = _webhook.body(self._webhook_secret, number, text, timestamp)
        answer: Any = None
        try:
            for _ in range(attempts):
                answer = _webhook.deliver(target, content)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:300]
            self._inbox.add_reply(number, text, timestamp, None, reason)
            self._handle.event(FakeEvent("reply", number, f"no answer: {reason}", timestamp, text))
            raise
        status = _webhook.status_of(answer)
        self._inbox.add_reply(number, text, timestamp, status, None)
        detail = "answered" if status is None else f"HTTP {status}"
        self._handle.event(FakeEvent("reply", number, detail, timestamp, text))
        return answer

    @property
    def messages(self) -> list[FakeMessage]:
        """A copy of every SMS delivered so far, oldest first.

        Examples:
            >>> fake = FakeTextFlow()
            >>> fake.client().send_sms("+11234567890", "Hi").ok
            True
            >>> [(m.phone_number, m.kind) for m in fake.messages]
            [('+11234567890', 'sms')]
        """
        with self._state.lock:
            return list(self._state.messages)

    @property
    def balance(self) -> Decimal:
        """The credits left; settable (e.g. to 0, to test running out).

        Examples:
            >>> fake = FakeTextFlow(credits="1.00")
            >>> fake.client().send_sms("+11234567890", "Hi").ok
            True
            >>> fake.balance
            Decimal('0.85')
        """
        with self._state.lock:
            return self._state.credits

    @balance.setter
    def balance(self, credits: Credits) -> None:
        value = _credits(credits)
        with self._state.lock:
            self._state.credits = value
        self._inbox.touch()

    def last_code(self, phone_number: str) -> str:
        """The live (sent, not yet verified, not expired) code for ``phone_number``.

        Raises:
            NoCodeError: No live code for that number (never sent, verified, or expired).

        Examples:
            >>> fake = FakeTextFlow()
            >>> client = fake.client()
            >>> client.send_verification_sms("+11234567890", "Acme").ok
            True
            >>> code = fake.last_code("+1 123 456 7890")
            >>> client.verify_code("+11234567890", code).valid
            True
            >>> fake.has_code("+11234567890")  # a code verifies once
            False
        """
        number = _phones.normalize(phone_number)
        with self._state.lock:
            live = self._state.codes.get(number)
            expired = live is not None and self._state.now_ms() >= live.expires
            if live is not None and not expired:
                return live.code
        why = (
            "the code sent to it has expired"
            if expired
            else "none was sent to it, or the one sent was verified already"
        )
        raise NoCodeError(f"No live verification code for {mask_phone(number)}: {why}.")

    def has_code(self, phone_number: str) -> bool:
        """Whether ``phone_number`` has a live code, i.e. whether ``last_code`` would return one.

        Examples:
            >>> FakeTextFlow().has_code("+11234567890")
            False
        """
        try:
            self.last_code(phone_number)
        except NoCodeError:
            return False
        return True

    def fail_next(
        self,
        operation: str,
        *,
        status: Optional[int] = None,
        body: Union[Mapping[str, Any], str, bytes, None] = None,
        headers: Optional[Mapping[str, str]] = None,
        disconnect: bool = False,
        delay: Optional[float] = None,
    ) -> None:
        """Script the answer to the next request of ``operation``; queued faults apply in order.

        The faulted request is not processed (nothing is sent or debited),
        except when only ``delay`` is given: then it is processed at once and
        answered ``delay`` seconds late (past the client's read timeout, the
        client times out, as over a real connection).

        Args:
            operation: The client method: ``"send_sms"``, ``"send_verification_sms"``,
                ``"verify_code"``, ``"send_bulk_sms"`` or ``"get_balance"``.
            status: HTTP status of the answer (default 500 when a status or body is
                wanted). The default body is the API's error envelope with that
                status (``{"ok": false}`` for get_balance; empty below 400).
            body: The exact body: a mapping (sent as JSON), or str/bytes sent as is
                (e.g. to test a malformed answer).
            headers: Extra answer headers, e.g. ``{"Retry-After": "2"}``.
            disconnect: Read the whole request, then close the connection without answering.
            delay: Seconds to wait before answering (or disconnecting).

        Raises:
            ValueError: Unknown operation, or arguments that contradict each other.

        Examples:
            >>> fake = FakeTextFlow()
            >>> fake.fail_next("send_sms", status=503)
            >>> fake.fail_next("get_balance", disconnect=True)
            >>> fake.fail_next("verify_code", delay=0.2)
        """
        if operation not in OPERATIONS:
            known = tuple(OPERATIONS)
            raise ValueError(f"Unknown operation {operation!r}; expected one of {known}.")
        fault = scripted_fault(status, body, headers, disconnect, delay)
        with self._state.lock:
            self._state.push_fault(operation, fault)

    def reset(self) -> None:
        """Forget messages, codes and scripted faults; restore the starting credits.

        Examples:
            >>> fake = FakeTextFlow()
            >>> fake.fail_next("send_sms")
            >>> fake.reset()
            >>> fake.messages
            []
        """
        with self._state.lock:
            self._state.reset()
        self._inbox.clear()

    def _clear_inbox(self) -> None:
        """Forget the delivered messages and replies (the inbox's Clear button); keep the rest."""
        with self._state.lock:
            self._state.messages.clear()
        self._inbox.clear()

    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport answering through the fake, for your own ``httpx.Client``.

        Examples:
            >>> fake = FakeTextFlow()
            >>> http = httpx.Client(transport=fake.transport())
            >>> http.get("https://textflow.invalid/api/balance").json()
            {'ok': False}
        """
        return sync_transport(self._handle)

    def async_transport(self) -> httpx.MockTransport:
        """The same for ``httpx.AsyncClient``: its waits use anyio (asyncio or trio).

        Examples:
            >>> fake = FakeTextFlow()
            >>> http = httpx.AsyncClient(transport=fake.async_transport())
        """
        return async_transport(self._handle)

    def client(self, **options: Any) -> TextFlowClient:
        """A ``TextFlowClient`` wired to the fake in process: no sockets, no network.

        Args:
            **options: ``TextFlowClient`` options (``api_key`` defaults to the
                fake's; ``timeout``, ``max_retries``, ``default_headers``).
                ``base_url`` and ``http_client`` are the fake's own.

        Examples:
            >>> fake = FakeTextFlow()
            >>> with fake.client(max_retries=0) as client:
            ...     client.get_balance().credits
            Decimal('100')
        """
        from textflow import TextFlowClient

        # It owns its in-process httpx client: closing it closes that, as in production.
        http = httpx.Client(transport=self.transport(), follow_redirects=False)
        return TextFlowClient._owning(http, **self._client_options(options))

    def async_client(self, **options: Any) -> AsyncTextFlowClient:
        """An ``AsyncTextFlowClient`` wired to the fake in process (asyncio or trio).

        Args:
            **options: As for ``client``.

        Examples:
            >>> fake = FakeTextFlow()
            >>> async def main():
            ...     async with fake.async_client() as client:
            ...         return (await client.get_balance()).credits
        """
        from textflow import AsyncTextFlowClient

        # It owns its in-process httpx client: closing it closes that, as in production.
        http = httpx.AsyncClient(transport=self.async_transport(), follow_redirects=False)
        return AsyncTextFlowClient._owning(http, **self._client_options(options))

    def _client_options(self, options: dict[str, Any]) -> dict[str, Any]:
        _check_options(options)
        return {"api_key": self.api_key, **options, "base_url": IN_PROCESS_BASE_URL}

    @contextlib.contextmanager
    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, log_requests: bool = False
    ) -> Iterator[str]:
        """Serve the fake over HTTP/1.1 in a background thread; yields its base URL.

        The base URL is ``http://HOST:PORT/api`` (what ``TEXTFLOW_BASE_URL``
        takes); the web inbox is at ``http://HOST:PORT/``. Port 0 picks a free
        port. The server stops, and closes every connection, when the ``with``
        block ends.

        Args:
            host: The address to bind; loopback unless you say otherwise.
            port: The port; 0 for any free one.
            log_requests: Print one line per request to stderr.

        Examples:
            >>> fake = FakeTextFlow()
            >>> with fake.serve() as base_url:
            ...     with TextFlowClient(fake.api_key, base_url=base_url) as client:
            ...         client.send_sms("+11234567890", "Hi").ok
            True
        """
        inbox = InboxApp(self, self._inbox, now_ms=self._state.now_ms, clear=self._clear_inbox)
        server = FakeHTTPServer(host, port, self._handle, log_requests=log_requests, inbox=inbox)
        server.start()
        try:
            yield server.base_url
        finally:
            server.stop()


def _credits(value: Credits) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise TypeError(f"credits must be a Decimal, int or decimal string, not {value!r}.")
    try:
        credits = Decimal(value)
    except ArithmeticError:
        raise ValueError(f"credits must be a decimal number, not {value!r}.") from None
    if not credits.is_finite() or credits < 0:
        raise ValueError(f"credits must be a finite number >= 0, not {value!r}.")
    return credits


def _check_options(options: Mapping[str, Any]) -> None:
    fixed = _FIXED_OPTIONS & set(options)
    if fixed:
        raise TypeError(
            f"{sorted(fixed)} cannot be set on the fake's in-process clients; "
            "to use the fake over HTTP, use fake.serve()."
        )
