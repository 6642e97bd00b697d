"""The SDK's clients against the fake: in process (sync and async) and over loopback HTTP.

Every test runs against four clients: ``fake.client()``, ``fake.async_client()``,
and a sync and an async client pointed at ``fake.serve()``'s base URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack
from decimal import Decimal
from typing import Any, Union

import pytest

import textflow
from textflow.testing import (
    INSUFFICIENT_CREDIT_NUMBER,
    INVALID_NUMBER,
    PRICE_PER_SEGMENT,
    PRICE_PER_SMS,
    RATE_LIMITED_NUMBER,
    UNAVAILABLE_NUMBER,
    FakeTextFlow,
)

pytestmark = pytest.mark.anyio

US = "+11234567890"
RS = "+381611231234"
Client = Union[textflow.TextFlowClient, textflow.AsyncTextFlowClient]


class Api:
    """Makes clients of one kind and calls them the same way from a coroutine."""

    def __init__(self, kind: str, fake: FakeTextFlow, base_url: str) -> None:
        self.kind = kind
        self.fake = fake
        self.base_url = base_url
        self.clients: list[Client] = []

    def make(self, **options: Any) -> Client:
        client: Client
        if self.kind == "in-process-sync":
            client = self.fake.client(**options)
        elif self.kind == "in-process-async":
            client = self.fake.async_client(**options)
        else:
            options.setdefault("api_key", self.fake.api_key)
            cls = (
                textflow.TextFlowClient
                if self.kind == "http-sync"
                else textflow.AsyncTextFlowClient
            )
            client = cls(base_url=self.base_url, **options)
        self.clients.append(client)
        return client

    async def call(self, name: str, *args: Any, client: Client | None = None, **kwargs: Any) -> Any:
        result = getattr(client or self.clients[0], name)(*args, **kwargs)
        if isinstance(client or self.clients[0], textflow.AsyncTextFlowClient):
            result = await result
        return result

    async def close(self) -> None:
        for client in self.clients:
            if isinstance(client, textflow.AsyncTextFlowClient):
                await client.aclose()
            else:
                client.close()


@pytest.fixture(params=["in-process-sync", "in-process-async", "http-sync", "http-async"])
async def api(request: pytest.FixtureRequest, fake: FakeTextFlow) -> AsyncIterator[Api]:
    with ExitStack() as stack:
        base_url = stack.enter_context(fake.serve()) if request.param.startswith("http") else ""
        harness = Api(request.param, fake, base_url)
        harness.make(max_retries=0)
        try:
            yield harness
        finally:
            await harness.close()


async def test_the_whole_product(api: Api, fake: FakeTextFlow) -> None:
    sent = await api.call("send_sms", "+1 (123) 456-7890", "Hello")
    assert isinstance(sent, textflow.SendMessageResult)
    assert (sent.ok, sent.status, sent.message) == (True, 200, "Message sent successfully")
    assert sent.data is not None
    assert (sent.data.to, sent.data.country_code) == (US, "United States")
    assert sent.data.price == Decimal("0.15")

    code_sent = await api.call("send_verification_sms", RS, "Acme", 120)
    assert isinstance(code_sent, textflow.VerifyPhoneResult)
    code = fake.last_code(RS)
    assert code is not None
    assert code_sent.data is not None
    assert code_sent.data.expires == fake.messages[-1].timestamp + 120_000

    wrong = await api.call("verify_code", RS, "000000" if code != "000000" else "111111")
    assert (wrong.ok, wrong.valid, wrong.status) == (True, False, 400)
    right = await api.call("verify_code", RS, code)
    assert (right.ok, right.valid, right.status) == (True, True, 200)
    again = await api.call("verify_code", RS, code)
    assert again.valid is False

    bulk = await api.call("send_bulk_sms", [US, RS], "Sale")
    assert isinstance(bulk, textflow.BulkSMSResult)
    assert bulk.data == {
        "recipients": 2,
        "price": Decimal("0.3"),
        "timestamp": fake.messages[-1].timestamp,
    }

    balance = await api.call("get_balance")
    assert balance.credits == Decimal(100) - 4 * PRICE_PER_SMS == fake.balance
    assert balance.packages == {}
    assert [m.kind for m in fake.messages] == ["sms", "code", "bulk", "bulk"]


async def test_a_wrong_key_raises_authentication_error(api: Api) -> None:
    client = api.make(api_key="not-the-key", max_retries=0)
    with pytest.raises(textflow.AuthenticationError) as raised:
        await api.call("send_sms", US, "x", client=client)
    assert raised.value.status == 400
    with pytest.raises(textflow.AuthenticationError):
        await api.call("get_balance", client=client)


@pytest.mark.parametrize(
    ("number", "error", "status"),
    [
        (INVALID_NUMBER, textflow.BadRequestError, 400),
        (INSUFFICIENT_CREDIT_NUMBER, textflow.APIStatusError, 402),
        (RATE_LIMITED_NUMBER, textflow.RateLimitError, 429),
        (UNAVAILABLE_NUMBER, textflow.InternalServerError, 503),
    ],
)
async def test_magic_numbers_raise_the_sdk_s_errors(
    api: Api, fake: FakeTextFlow, number: str, error: type[Exception], status: int
) -> None:
    with pytest.raises(error) as raised:
        await api.call("send_sms", number, "x")
    assert isinstance(raised.value, textflow.APIStatusError)
    assert raised.value.status == status
    if isinstance(raised.value, textflow.RateLimitError):
        assert raised.value.retry_after == 1
    assert fake.messages == []


async def test_a_send_is_never_sent_twice_after_a_disconnect(api: Api, fake: FakeTextFlow) -> None:
    client = api.make(max_retries=2)
    fake.fail_next("send_sms", disconnect=True)
    fake.fail_next("send_sms", disconnect=True)
    with pytest.raises(textflow.APIConnectionError):
        await api.call("send_sms", US, "x", client=client)
    with pytest.raises(textflow.APIConnectionError):  # the second fault was still queued
        await api.call("send_sms", US, "x", client=client)
    assert (await api.call("send_sms", US, "x", client=client)).ok
    assert len(fake.messages) == 1


async def test_a_read_timeout_on_a_send_is_not_retried(api: Api, fake: FakeTextFlow) -> None:
    client = api.make(max_retries=2, timeout=0.2)
    fake.fail_next("send_sms", delay=3)
    with pytest.raises(textflow.APITimeoutError):  # a retry would have had a quick answer
        await api.call("send_sms", US, "x", client=client)
    assert len(fake.messages) == 1  # processed; only the answer was late


async def test_the_balance_is_retried_after_a_server_error(api: Api, fake: FakeTextFlow) -> None:
    client = api.make(max_retries=2)
    fake.fail_next("get_balance", status=503)
    assert (await api.call("get_balance", client=client)).credits == 100


async def test_the_in_process_clients_refuse_a_base_url(fake: FakeTextFlow) -> None:
    with pytest.raises(TypeError, match="base_url"):
        fake.client(base_url="https://textflow.me/api")
    with pytest.raises(TypeError, match="http_client"):
        fake.async_client(http_client=None)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_the_async_client_under_trio(fake: FakeTextFlow) -> None:
    async with fake.async_client(max_retries=0) as client:
        await client.send_verification_sms(US, "Acme")
        code = fake.last_code(US)
        assert code is not None
        assert (await client.verify_code(US, code)).valid
        fake.fail_next("get_balance", status=503, delay=0.05)
        with pytest.raises(textflow.InternalServerError):
            await client.get_balance()
    with fake.serve() as base_url:
        async with textflow.AsyncTextFlowClient(fake.api_key, base_url=base_url) as client:
            assert (await client.get_balance()).credits == Decimal(100) - PRICE_PER_SMS


def test_the_sync_client_from_a_thread_pool(fake: FakeTextFlow) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with fake.client() as client, ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: client.send_sms(US, f"m{i}").ok, range(40)))
    assert all(results)
    assert sorted(m.text for m in fake.messages) == sorted(f"m{i}" for i in range(40))


async def test_a_closed_in_process_client_stops_working(fake: FakeTextFlow) -> None:
    """Using a client after closing it fails under the fake as it does in production."""
    with fake.client() as client:
        assert client.send_sms(US, "before").ok
    with pytest.raises(RuntimeError, match="closed"):
        client.send_sms(US, "after")
    async with fake.async_client() as aclient:
        assert (await aclient.send_sms(US, "before")).ok
    with pytest.raises(RuntimeError, match="closed"):
        await aclient.send_sms(US, "after")
    assert [m.text for m in fake.messages] == ["before", "before"]


async def test_a_message_is_charged_per_segment_like_an_account(
    api: Api, fake: FakeTextFlow
) -> None:
    long_text = "x" * 260  # GSM-7: 153 per part once split, so 2 segments
    sent = await api.call("send_sms", US, long_text)
    assert Decimal(str(sent.data.price)) == 2 * PRICE_PER_SEGMENT
    assert fake.balance == Decimal(100) - 2 * PRICE_PER_SEGMENT
    message = fake.messages[-1]
    assert (message.encoding, message.segments) == ("GSM-7", 2)
    assert message.price == 2 * PRICE_PER_SEGMENT

    unicode_text = "Привет " * 11  # 77 characters outside GSM-7: UCS-2, 67 a part, 2 segments
    sent = await api.call("send_sms", US, unicode_text)
    assert Decimal(str(sent.data.price)) == 2 * PRICE_PER_SEGMENT
    assert fake.messages[-1].encoding == "UCS-2"

    bulk = await api.call("send_bulk_sms", [US, RS], long_text)
    assert Decimal(str(bulk.data["price"])) == 4 * PRICE_PER_SEGMENT
    assert (await api.call("get_balance")).credits == Decimal(100) - 8 * PRICE_PER_SEGMENT


async def test_a_message_the_credits_cannot_pay_for_whole_is_refused_and_not_charged(
    api: Api,
) -> None:
    api.fake.balance = PRICE_PER_SEGMENT  # one segment's worth: a 2-segment text cannot go
    with pytest.raises(textflow.APIStatusError) as refused:
        await api.call("send_sms", US, "x" * 260)
    assert refused.value.status_code == 402
    assert api.fake.balance == PRICE_PER_SEGMENT
    assert api.fake.messages == []
    assert (await api.call("send_sms", US, "short")).ok
    assert api.fake.balance == 0
