# Generated from textflow/_async_client.py by scripts/unasync.py: do not edit by hand.
"""``TextFlowClient``: the API's calls, sent and retried over a pooled ``httpx.Client``.

Generated from the async twin by scripts/unasync.py: edit that one, not this.

Over 300 lines, yet one module: it is the one public client class, and most of
its lines are the docstrings of its public methods (what a user reads in the
reference); the code itself is the retry loop and one send.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import httpx

from textflow import _config
from textflow import _operations as ops
from textflow._base_client import Attempts, BaseClient, ResultT, foreign_failure
from textflow._hooks import Call, ErrorHook, RequestHook, ResponseHook, RetryHook, observe
from textflow._http.body import BodyReader, read_already
from textflow._sync_io import (
    check_deadline,
    close_chunks,
    deadline_scope,
    emit,
    raw_chunks,
    sleep,
)
from textflow.errors import ClientStateError, TextFlowError

if TYPE_CHECKING:  # send_many's modules load on its first call, the models on the first answer
    from textflow import models
    from textflow._many._outcomes import Progress, SendReport, StopOn
    from textflow._many._recipients import Recipients
    from textflow._many._run import JournalArg
else:
    models = ops.LAZY_MODELS


class TextFlowClient(BaseClient[httpx.Client]):
    """The TextFlow API, synchronously.

    One client per application; it pools connections. Close it with
    ``client.close()``, or use it as a context manager (``with``).

    Args:
        api_key: Your key from the API console; defaults to ``TEXTFLOW_API_KEY``.
        base_url: Defaults to ``TEXTFLOW_BASE_URL``, else ``https://textflow.me/api``.
            Plain ``http`` is accepted only to a loopback host.
        timeout: Seconds, or an ``httpx.Timeout``; default 30 s, 5 s to connect.
        max_retries: Re-sends allowed where re-sending is safe (see the retries guide).
        http_client: Your own ``httpx.Client`` (proxies, HTTP/2, mounts); never closed by us.
        default_headers: Extra headers for every request.
        proxy: A proxy for every request (``http://``, ``https://``, ``socks5://`` URL, or an
            ``httpx.Proxy`` with its own TLS settings); the environment's are then ignored.
        trust_env: Read ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``
            (as httpx does) when no ``proxy`` is given; ``False`` goes direct.
        on_request: Called with a `RequestEvent` before each attempt; ``on_response``
            with a `ResponseEvent` after each answer, ``on_retry`` with a `RetryEvent`
            before each retry's wait, ``on_error`` with an `ErrorEvent` before the call
            raises. Plain or async functions; one that raises is logged, and the call
            goes on. The events hold no key, text, code or whole number.

    Raises:
        ConfigurationError: No API key, or an unusable ``base_url`` or ``proxy``.

    Examples:
        >>> with TextFlowClient(api_key="YOUR_KEY") as client:
        ...     result = client.send_sms("+11234567890", "Hello from textflow")
        ...     print(result.data.price)
    """

    _http_client_class = httpx.Client
    #: What the retry loop waits with; tests put a recorder here instead of waiting.
    _sleep = staticmethod(sleep)

    # The public signature, written out with its real defaults (the base class's is generic
    # in the http_client type); test_core_docstrings checks them against textflow._config.
    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        base_url: Union[str, httpx.URL, None] = None,
        timeout: Union[float, httpx.Timeout, None] = httpx.Timeout(30.0, connect=5.0),  # noqa: B008
        max_retries: int = 2,
        http_client: Optional[httpx.Client] = None,
        default_headers: Optional[Mapping[str, str]] = None,
        proxy: Union[str, httpx.URL, httpx.Proxy, None] = None,
        trust_env: bool = True,
        on_request: Optional[RequestHook] = None,
        on_response: Optional[ResponseHook] = None,
        on_retry: Optional[RetryHook] = None,
        on_error: Optional[ErrorHook] = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
            default_headers=default_headers,
            proxy=proxy,
            trust_env=trust_env,
            on_request=on_request,
            on_response=on_response,
            on_retry=on_retry,
            on_error=on_error,
        )

    @staticmethod
    def _new_transport() -> httpx.BaseTransport:
        from textflow._http.transport import (
            TextFlowTransport,
        )  # imports httpcore: on first client

        return TextFlowTransport(_config.DEFAULT_LIMITS)

    def send_sms(self, phone_number: str, text: str) -> models.SendMessageOk:
        """Send one SMS.

        Args:
            phone_number: The recipient in E.164 form, e.g. ``"+11234567890"``;
                spaces, dashes, dots and brackets are removed first.
            text: The message.

        Returns:
            The API's answer; ``result.data`` describes the SMS and its price.

        Raises:
            InputValidationError: A bad argument (nothing was sent).
            APIStatusError: The API refused (e.g. ``BadRequestError``, ``AuthenticationError``).
            APIConnectionError: No answer. The SMS was not re-sent: it may or may not be out.

        Examples:
            >>> result = client.send_sms("+11234567890", "Your order has shipped")
            >>> result.data.to
            '+11234567890'
        """
        return self._request(ops.SEND_SMS, ops.send_sms_payload(phone_number, text))

    def send_verification_sms(
        self, phone_number: str, service_name: str = "", seconds: int = 600
    ) -> models.VerifyPhoneOk:
        """Send a verification code by SMS: `Your verification code for <service_name> is: ...`.

        Args:
            phone_number: The number to verify, in E.164 form.
            service_name: Your product's name, shown in the SMS.
            seconds: How long the code stays valid, 1 to 86400 (one day); default 600.

        Returns:
            The API's answer; ``result.data.expires_at`` is when the code expires.

        Raises:
            InputValidationError: A bad argument (nothing was sent).
            APIStatusError: The API refused.
            APIConnectionError: No answer; not re-sent.

        Examples:
            >>> result = client.send_verification_sms("+11234567890", "Acme", seconds=300)
            >>> result.ok
            True
        """
        return self._request(
            ops.SEND_CODE, ops.send_code_payload(phone_number, service_name, seconds)
        )

    def verify_code(self, phone_number: str, code: Union[str, int]) -> models.VerifyCodeResult:
        """Check the code the user typed. A wrong or expired code is ``valid=False``, not an error.

        Args:
            phone_number: The number the code was sent to.
            code: What the user typed (str or int; surrounding whitespace is removed).
                An int loses leading zeros (``0451`` is ``451``): pass a str for those.
                A bool or a negative int is refused.

        Returns:
            ``result.valid`` is the verdict.

        Raises:
            InputValidationError: A bad argument (nothing was sent).
            APIStatusError: The API refused (e.g. a bad key), not a wrong code.
            APIConnectionError: No answer; not re-sent.

        Examples:
            >>> result = client.verify_code("+11234567890", "123456")
            >>> result.valid
            False
        """
        return self._request(ops.VERIFY_CODE, ops.verify_code_payload(phone_number, code))

    def send_bulk_sms(self, phone_numbers: Iterable[str], text: str) -> models.BulkSMSResult:
        """Start a bulk SMS job: the same text to many numbers (each sent once).

        Args:
            phone_numbers: A non-empty list (or other collection) of E.164 numbers;
                duplicates after normalising are dropped.
            text: The message.

        Returns:
            The API's answer; delivery takes minutes to hours.

        Raises:
            InputValidationError: A bad argument (nothing was sent).
            APIStatusError: The API refused.
            APIConnectionError: No answer; not re-sent.

        Examples:
            >>> result = client.send_bulk_sms(["+11234567890", "+381611231234"], "Open now")
            >>> result.ok
            True
        """
        return self._request(ops.BULK_SMS, ops.bulk_sms_payload(phone_numbers, text))

    def get_balance(self) -> models.BalanceResult:
        """The account's credits and prepaid packages. Retried on 5xx and timeouts (read only).

        Examples:
            >>> balance = client.get_balance()
            >>> balance.credits
            Decimal('0.11437')
        """
        return self._request(ops.BALANCE, None)

    def _request(self, op: ops.Operation[ResultT], payload: Optional[dict[str, Any]]) -> ResultT:
        self._check_open()
        request = self._build_request(op, payload)
        attempts = self._attempts(op, payload)
        call = observe(op, payload, self._hooks, self.base_url)
        if call is None:  # no hook, no instrumentation: nothing more to do
            return self._attempt(request, attempts, None)
        with call:  # an instrumentation's span is current in here
            try:
                result = self._attempt(request, attempts, call)
            except TextFlowError as exc:
                emit(call.error(exc))
                raise
            call.answered(result)
            return result

    def _attempt(
        self, request: httpx.Request, attempts: Attempts[ResultT], call: Optional[Call]
    ) -> ResultT:
        """Send until an answer or a failure ends the call (the retry loop)."""
        own = self._transport if call is None else None  # nothing else awaits in the call
        with deadline_scope(attempts, request, own):  # every connect, read, write, wait keeps to it
            while True:
                try:
                    attempts.arm(request)
                    if call is not None:
                        emit(call.request())
                    response, content = self._send(request, attempts)
                except httpx.RequestError as exc:
                    delay = attempts.after_error(exc)
                    status = None
                else:
                    if call is not None:
                        emit(call.response(response.status_code))
                    wait = attempts.after_response(response)
                    if wait is None:
                        return attempts.result(response, content)
                    delay, status = wait, response.status_code
                if call is not None:
                    emit(call.retry(delay, attempts.reason, status))
                self._sleep(delay)

    def _send(
        self, request: httpx.Request, attempts: Attempts[Any]
    ) -> tuple[httpx.Response, bytes]:
        """One attempt: the answer, and its body read whole under the size cap and the deadline.

        The body is handed over beside the response, which is closed: an answer that
        becomes a result is never wrapped in a second ``httpx.Response`` (a third of the
        calls of a send); `Attempts.result` builds one for an answer that becomes an error.
        """
        transport: Optional[httpx.BaseTransport] = self._transport
        if transport is not None:  # the SDK's own: straight to it (see BaseClient._direct)
            self._check_open()  # closed during a retry's wait
            try:
                response = transport.handle_request(request)
            except httpx.RequestError as exc:
                exc.request = request  # as httpx.Client.send says which request failed
                raise
        else:
            try:
                response = self._http.send(request, auth=None, follow_redirects=False, stream=True)
            except (TextFlowError, httpx.HTTPError):
                raise  # an SDK transport (aiohttp's) already said what is wrong; or httpx's
            except RuntimeError as exc:  # a caller's http_client: closed, or from an ended loop
                raise ClientStateError(
                    f"The http_client of this {type(self).__name__} cannot send ({exc}): it "
                    "was closed by its owner, or (an async one) it belongs to an event loop "
                    "that ended."
                ) from exc
            except Exception as exc:  # a caller's transport raised what httpx would not
                raise foreign_failure(exc, request) from exc
        try:
            if transport is not None:
                self._direct(response, request)
            if read_already(response):  # in memory (httpx.MockTransport): already decoded
                return response, response.content
            body = BodyReader(response.headers)
            chunks = raw_chunks(response)
            try:
                for chunk in chunks:
                    body.feed(chunk)
                    check_deadline(attempts, request)
            finally:  # a body given up early (too large, malformed) closes its reader now
                close_chunks(chunks, response)
            return response, body.finish()
        except httpx.RequestError as exc:
            exc.request = request  # which request failed, as httpx's iter_raw says it
            raise
        except (TextFlowError, httpx.HTTPError):
            raise
        except Exception as exc:  # a caller's transport's stream raised what httpx would not
            if transport is not None:
                raise  # the SDK's own: a bug to see as it is, not a connection failure
            raise foreign_failure(exc, request) from exc
        finally:
            response.close()

    def close(self) -> None:
        """Close the connection pool (unless it is a caller's ``http_client``).

        Examples:
            >>> client = TextFlowClient()
            >>> try:
            ...     client.get_balance()
            ... finally:
            ...     client.close()
        """
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> TextFlowClient:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def send_many(
        self,
        recipients: Recipients,
        text: Optional[str] = None,
        *,
        phone_field: str = "phone_number",
        concurrency: int = 20,
        max_per_second: Optional[float] = None,
        on_progress: Optional[Callable[[Progress], None]] = None,
        stop_on: Optional[StopOn] = None,
        journal: JournalArg = None,
        resend_maybe_sent: bool = False,
        keep_outcomes: Optional[bool] = None,
        max_per_minute: Optional[float] = None,
        rate_limit: Optional[str] = None,
    ) -> SendReport:
        """Send an SMS to each recipient, safely: paced, counted, resumable.

        Args:
            recipients: Any iterable (a generator is read as it goes) of
                phone numbers, ``(phone_number, text)`` tuples, `Message` values, or
                mappings (with ``text`` as a ``{field}`` template filled from them).
            text: The text for bare numbers and mappings.
            phone_field: The mappings' key that holds the number.
            concurrency: Sends in flight at once (default 20).
            max_per_second: Never more sends than this start in any one second (for all
                workers together when the journal is on Redis or ``rate_limit`` is given).
            on_progress: Called with a `Progress` after each recipient (one call at a time).
            stop_on: Errors that stop the run: a predicate or a tuple of classes.
                Default: a refused key or permission, and running out of credits.
            journal: A file name (SQLite), a shared journal's URL
                (``redis://host:port/db?campaign=NAME``, ``postgresql://...?campaign=NAME``)
                or a `Journal`: a rerun, or another worker, with the same journal does
                not send again to whom it sent or may have sent.
            resend_maybe_sent: Send again to recipients the journal has as maybe sent.
            keep_outcomes: Keep one `Outcome` per recipient in the report. Default: only
                for a list of up to 10,000 (memory stays flat for a generator or a big
                list; the totals are kept all the same).
            max_per_minute: Never more sends than this start in any one minute.
            rate_limit: A Redis URL (``redis://host:port/db``, optional ``?name=``) that
                shares ``max_per_second`` and ``max_per_minute`` among all workers.

        Returns:
            The `SendReport`: an outcome per recipient, and totals.

        Raises:
            SendManyStopped: An error matched ``stop_on``; ``.report`` is the work so far.
            SendManyInterrupted: Ctrl-C (a ``KeyboardInterrupt``), after sends in flight ended.
            InputValidationError: A bad option (before anything is sent).

        Examples:
            >>> report = client.send_many(["+11234567890", "+381611231234"], "Open now")
            >>> report.sent
            2
        """
        from textflow._many._sync import send_many

        return send_many(
            self,
            recipients,
            text,
            phone_field=phone_field,
            concurrency=concurrency,
            max_per_second=max_per_second,
            on_progress=on_progress,
            stop_on=stop_on,
            journal=journal,
            resend_maybe_sent=resend_maybe_sent,
            keep_outcomes=keep_outcomes,
            max_per_minute=max_per_minute,
            rate_limit=rate_limit,
        )
