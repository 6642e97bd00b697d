"""``AsyncTextFlowClient``: the asynchronous client (asyncio and trio, through anyio).

Its methods are those of ``TextFlowClient``, awaited: same names, signatures,
checks, retries and results. Only the I/O differs.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Callable, Optional, Union

import anyio
import httpx

from textflow import _config
from textflow import _operations as ops
from textflow._base_client import Attempts, BaseClient, ResultT
from textflow._body import BodyReader, complete, read_already
from textflow._client import TextFlowClient
from textflow._many._async import Recipients
from textflow._many._outcomes import Progress, SendReport, StopOn
from textflow._many._run import DEFAULT_CONCURRENCY, JournalArg
from textflow.errors import ClientStateError
from textflow.models import (
    BalanceResult,
    BulkSMSResult,
    SendMessageOk,
    VerifyCodeResult,
    VerifyPhoneOk,
)


class AsyncTextFlowClient(BaseClient[httpx.AsyncClient]):
    """The TextFlow API for asyncio and trio apps. One client per application.

    Arguments, checks, retries and results are those of `TextFlowClient`;
    ``http_client`` is an ``httpx.AsyncClient``. Close it with ``await
    client.aclose()`` or ``async with``.

    Examples:
        >>> async with AsyncTextFlowClient(api_key="YOUR_KEY") as client:
        ...     result = await client.send_sms("+11234567890", "Hello from textflow")
        ...     print(result.data.price)
    """

    _http_client_class = httpx.AsyncClient

    @staticmethod
    def _new_transport() -> httpx.AsyncBaseTransport:
        from textflow._transport import AsyncTextFlowTransport  # imports httpcore

        return AsyncTextFlowTransport(_config.DEFAULT_LIMITS)

    async def send_sms(self, phone_number: str, text: str) -> SendMessageOk:
        return await self._request(ops.SEND_SMS, ops.send_sms_payload(phone_number, text))

    async def send_verification_sms(
        self, phone_number: str, service_name: str = "", seconds: int = 600
    ) -> VerifyPhoneOk:
        return await self._request(
            ops.SEND_CODE, ops.send_code_payload(phone_number, service_name, seconds)
        )

    async def verify_code(self, phone_number: str, code: Union[str, int]) -> VerifyCodeResult:
        return await self._request(ops.VERIFY_CODE, ops.verify_code_payload(phone_number, code))

    async def send_bulk_sms(self, phone_numbers: Iterable[str], text: str) -> BulkSMSResult:
        return await self._request(ops.BULK_SMS, ops.bulk_sms_payload(phone_numbers, text))

    async def get_balance(self) -> BalanceResult:
        return await self._request(ops.BALANCE, None)

    async def _request(
        self, op: ops.Operation[ResultT], payload: Optional[dict[str, Any]]
    ) -> ResultT:
        self._check_open()
        request = self._build_request(op, payload)
        attempts = self._attempts(op)
        try:
            with anyio.fail_after(attempts.remaining()):  # the deadline cuts any await
                while True:
                    try:
                        attempts.arm(request)
                        response = await self._send(request, attempts)
                    except httpx.RequestError as exc:
                        delay = attempts.after_error(exc)
                    else:
                        wait = attempts.after_response(response)
                        if wait is None:
                            return attempts.result(response)
                        delay = wait
                    await anyio.sleep(delay)
        except TimeoutError:
            raise attempts.deadline_error(request) from None

    async def _send(self, request: httpx.Request, attempts: Attempts[Any]) -> httpx.Response:
        """One attempt: the answer read whole, under the size cap and the deadline."""
        try:
            response = await self._http.send(
                request, auth=None, follow_redirects=False, stream=True
            )
        except ClientStateError:
            raise  # the SDK's own transport already said what is wrong
        except RuntimeError as exc:  # a caller's http_client, from a loop that has ended
            raise ClientStateError(
                f"The http_client of this {type(self).__name__} cannot send from this event "
                f"loop ({exc}): an httpx.AsyncClient belongs to one event loop."
            ) from exc
        try:
            if read_already(response):  # in memory (httpx.MockTransport): already decoded
                return response
            body = BodyReader(response.headers)
            async for chunk in response.aiter_raw():
                body.feed(chunk)
            return complete(response, body.finish())
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless it is a caller's ``http_client``).

        Examples:
            >>> client = AsyncTextFlowClient()
            >>> try:
            ...     await client.get_balance()
            ... finally:
            ...     await client.aclose()
        """
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncTextFlowClient:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()

    async def send_many(
        self,
        recipients: Recipients,
        text: Optional[str] = None,
        *,
        phone_field: str = "phone_number",
        concurrency: int = DEFAULT_CONCURRENCY,
        max_per_second: Optional[float] = None,
        on_progress: Optional[Callable[[Progress], None]] = None,
        stop_on: Optional[StopOn] = None,
        journal: JournalArg = None,
        resend_maybe_sent: bool = False,
        keep_outcomes: bool = True,
    ) -> SendReport:
        """Send an SMS to each recipient, safely: paced, counted, resumable.

        As ``TextFlowClient.send_many``; ``recipients`` may also be an async iterable.

        Examples:
            >>> report = await client.send_many(["+11234567890", "+381611231234"], "Hi")
            >>> report.sent
            2
        """
        from textflow._many._async import send_many

        return await send_many(
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
        )


def _awaited(doc: Optional[str]) -> str:
    """The sync docstring, its examples awaited: one text for both clients.

    The sync examples call the client only as ``>>> name = client.method(...)``,
    so awaiting the call is a plain substitution.
    """
    return (doc or "").replace(" = client.", " = await client.")


for _name in ops.OPERATIONS:
    getattr(AsyncTextFlowClient, _name).__doc__ = _awaited(getattr(TextFlowClient, _name).__doc__)
del _name
