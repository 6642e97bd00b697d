"""The replies webhook: 200 and the signal once; 403 on a bad secret; 400 on a bad body;
never a 500 for what a sender does. Sync under Django's test client, async under its
ASGI test client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import AsyncClient, Client, override_settings

from textflow.contrib.django import async_webhook_view, sms_received, webhook_view
from textflow.testing import DEFAULT_WEBHOOK_SECRET, FakeTextFlow
from textflow.webhooks import IncomingSMS

from tests.django.django_support import PHONE

SYNC = "/textflow/replies/"
ASYNC = "/textflow/replies-async/"
SECRET = "hook_secret_for_tests"
WITH_SECRET = override_settings(TEXTFLOW={"FAKE": True, "WEBHOOK_SECRET": SECRET})


def body(secret: str = SECRET, **fields: Any) -> bytes:
    return json.dumps({"secret": secret, "phone_number": PHONE, "text": "YES", **fields}).encode()


@pytest.fixture
def received() -> Iterator[list[tuple[Any, IncomingSMS]]]:
    """What ``sms_received`` delivered: (sender, sms) pairs."""
    calls: list[tuple[Any, IncomingSMS]] = []

    def receiver(sender: Any, sms: IncomingSMS, **_: Any) -> None:
        calls.append((sender, sms))

    sms_received.connect(receiver, dispatch_uid="tests.received")
    yield calls
    sms_received.disconnect(dispatch_uid="tests.received")


def post(path: str, data: bytes) -> HttpResponse:
    answer: HttpResponse = Client(enforce_csrf_checks=True).post(
        path, data, content_type="application/json"
    )
    return answer


@WITH_SECRET
def test_a_reply_is_200_and_one_signal(received: list[tuple[Any, IncomingSMS]]) -> None:
    answer = post(SYNC, body())
    assert answer.status_code == 200
    [(sender, sms)] = received
    assert sender is webhook_view
    assert (sms.phone_number, sms.text) == (PHONE, "YES")


@WITH_SECRET
@pytest.mark.parametrize(
    "data",
    [body(secret="wrong"), body(secret=SECRET + "x"), json.dumps({"text": "x"}).encode()],
    ids=["wrong", "longer", "missing"],
)
def test_a_bad_secret_is_403_and_no_signal(
    data: bytes, received: list[tuple[Any, IncomingSMS]]
) -> None:
    assert post(SYNC, data).status_code == 403
    assert received == []


@WITH_SECRET
@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        json.dumps({"secret": SECRET, "phone_number": PHONE}).encode(),
        b'{"secret": "%s", "secret": "%s", "phone_number": "+1", "text": "x"}'
        % (SECRET.encode(), SECRET.encode()),
        b"[" * 100_000,
    ],
    ids=["not-json", "not-utf8", "not-object", "no-text", "duplicate-key", "deep"],
)
def test_a_bad_body_is_400_and_no_signal(
    data: bytes, received: list[tuple[Any, IncomingSMS]]
) -> None:
    assert post(SYNC, data).status_code == 400
    assert received == []


@WITH_SECRET
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_django_s_limit_is_400() -> None:
    assert post(SYNC, body(text="x" * 2000)).status_code == 400


@WITH_SECRET
def test_only_post() -> None:
    answer = Client().get(SYNC)
    assert answer.status_code == 405
    assert answer["Allow"] == "POST"


@override_settings(TEXTFLOW={"API_KEY": "tf_live_not_a_real_key"})
def test_no_secret_set_refuses_every_call(
    received: list[tuple[Any, IncomingSMS]], caplog: pytest.LogCaptureFixture
) -> None:
    assert post(SYNC, body(secret="")).status_code == 403
    assert post(SYNC, body()).status_code == 403
    assert received == []
    assert "WEBHOOK_SECRET" in caplog.text


@WITH_SECRET
def test_the_secret_never_reaches_the_log_or_the_answer(caplog: pytest.LogCaptureFixture) -> None:
    answer = post(SYNC, body(secret="wrong-guess-secret"))
    assert b"wrong-guess-secret" not in answer.content
    assert SECRET not in caplog.text
    assert "wrong-guess-secret" not in caplog.text


def test_the_fake_s_replies_reach_the_view(
    project_fake: FakeTextFlow, received: list[tuple[Any, IncomingSMS]]
) -> None:
    # Under "FAKE": True the view expects the fake's own secret.
    assert project_fake.webhook_secret == DEFAULT_WEBHOOK_SECRET
    client = Client()
    project_fake.webhook_url = lambda raw: client.post(SYNC, raw, content_type="application/json")
    answer = project_fake.reply(PHONE, "STOP")
    assert answer.status_code == 200
    assert [sms.text for _, sms in received] == ["STOP"]


@WITH_SECRET
def test_a_receiver_that_raises_fails_the_delivery() -> None:
    # The app's own bug is not swallowed: TextFlow must not think the reply was handled.
    def broken(**_: Any) -> None:
        raise RuntimeError("receiver bug")

    sms_received.connect(broken, dispatch_uid="tests.broken")
    try:
        with pytest.raises(RuntimeError, match="receiver bug"):
            post(SYNC, body())
    finally:
        sms_received.disconnect(dispatch_uid="tests.broken")


# Django's ASGI handler runs on asyncio only.
pytestmark_async = pytest.mark.parametrize("anyio_backend", ["asyncio"])


@pytestmark_async
@pytest.mark.anyio
@WITH_SECRET
async def test_async_view_under_asgi(received: list[tuple[Any, IncomingSMS]]) -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    answer = await client.post(ASYNC, body(), content_type="application/json")
    assert answer.status_code == 200
    [(sender, sms)] = received
    assert sender is async_webhook_view
    assert sms.text == "YES"
    assert (
        await client.post(ASYNC, body(secret="no"), content_type="application/json")
    ).status_code == 403
    assert (await client.post(ASYNC, b"{", content_type="application/json")).status_code == 400
    assert (await client.get(ASYNC)).status_code == 405
    assert len(received) == 1


@pytestmark_async
@pytest.mark.anyio
@WITH_SECRET
async def test_async_receivers_are_awaited_once() -> None:
    got: list[str] = []

    async def receiver(sms: IncomingSMS, **_: Any) -> None:
        got.append(sms.text)

    sms_received.connect(receiver, dispatch_uid="tests.async")
    try:
        answer = await AsyncClient().post(ASYNC, body(), content_type="application/json")
    finally:
        sms_received.disconnect(dispatch_uid="tests.async")
    assert answer.status_code == 200
    assert got == ["YES"]
