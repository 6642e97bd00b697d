"""``fake.reply``: the phone answers, and TextFlow's webhook call reaches the app."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from textflow.testing import DEFAULT_WEBHOOK_SECRET, FakeTextFlow
from textflow.webhooks import IncomingSMS, WebhookVerificationError, parse_webhook

from tests.testing.fake_helpers import START, Clock, WebhookReceiver

US = "+11234567890"


def test_a_reply_reaches_a_callable_as_textflows_webhook_body(clock: Clock) -> None:
    received: list[bytes] = []

    def app(body: bytes) -> IncomingSMS:
        received.append(body)
        return parse_webhook(body, secret="app-secret")

    fake = FakeTextFlow(clock=clock, webhook_url=app, webhook_secret="app-secret")
    sms = fake.reply("+1 123 456 7890", "YES, confirm")
    assert (sms.phone_number, sms.text) == (US, "YES, confirm")
    assert sms.timestamp == int(START * 1000)
    assert json.loads(received[0]) == {
        "secret": "app-secret",
        "phone_number": US,
        "text": "YES, confirm",
        "timestamp": int(START * 1000),
    }


def test_the_default_secret_and_an_app_that_checks_another() -> None:
    fake = FakeTextFlow(webhook_url=lambda body: parse_webhook(body, secret="mine"))
    assert fake.webhook_secret == DEFAULT_WEBHOOK_SECRET
    with pytest.raises(WebhookVerificationError):
        fake.reply(US, "hi")
    fake.webhook_secret = "mine"
    assert fake.reply(US, "hi").text == "hi"
    assert "mine" not in repr(fake)


def test_a_reply_reaches_a_url_and_returns_the_apps_answer() -> None:
    with WebhookReceiver(status=202) as app:
        fake = FakeTextFlow(webhook_url=app.url, webhook_secret="s3")
        answer = fake.reply(US, "STOP")
    assert isinstance(answer, httpx.Response)
    assert answer.status_code == 202
    assert parse_webhook(app.bodies[0], secret="s3").text == "STOP"


def test_attempts_redelivers_the_same_body() -> None:
    with WebhookReceiver() as app:
        FakeTextFlow(webhook_url=app.url).reply(US, "YES", attempts=3)
    assert len(app.bodies) == 3
    assert app.bodies[0] == app.bodies[1] == app.bodies[2]


def test_a_lone_surrogate_in_a_reply_arrives_intact() -> None:
    fake = FakeTextFlow(webhook_url=lambda body: parse_webhook(body, secret=DEFAULT_WEBHOOK_SECRET))
    assert fake.reply(US, "half \ud800 emoji").text == "half \ud800 emoji"


def test_an_app_that_does_not_answer_raises_and_the_inbox_says_so() -> None:
    with WebhookReceiver() as app:
        url = app.url
    fake = FakeTextFlow(webhook_url=url)  # nothing listens there any more
    with pytest.raises(httpx.ConnectError):
        fake.reply(US, "anyone?")
    (conversation,) = fake._inbox.snapshot(0)
    reply = conversation["entries"][0]
    assert (reply["kind"], reply["status"]) == ("reply", None)
    assert reply["error"].startswith("ConnectError")


def test_a_reply_shows_in_the_inbox_with_the_apps_status() -> None:
    fake = FakeTextFlow(webhook_url=lambda body: httpx.Response(204))
    fake.client().send_sms(US, "Reply YES to confirm")
    fake.reply(US, "YES")
    (conversation,) = fake._inbox.snapshot(0)
    assert [(e["kind"], e["text"]) for e in conversation["entries"]] == [
        ("sms", "Reply YES to confirm"),
        ("reply", "YES"),
    ]
    assert conversation["entries"][1]["status"] == 204
    assert len(fake.messages) == 1  # a reply is not an SMS the app sent


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"phone_number": "12", "text": "x"}, "not a valid phone number"),
        ({"phone_number": US, "text": " "}, "non-blank"),
        ({"phone_number": US, "text": "x", "attempts": 0}, "attempts"),
        ({"phone_number": US, "text": "x", "attempts": True}, "attempts"),
    ],
)
def test_bad_reply_arguments(kwargs: dict[str, Any], message: str) -> None:
    fake = FakeTextFlow(webhook_url=lambda body: None)
    with pytest.raises(ValueError, match=message):
        fake.reply(**kwargs)


def test_reply_needs_a_webhook_url() -> None:
    with pytest.raises(ValueError, match="webhook_url"):
        FakeTextFlow().reply(US, "hi")


@pytest.mark.parametrize("target", ["ftp://x/y", "not a url", "http://", 42])
def test_a_bad_webhook_url_is_refused(target: object) -> None:
    with pytest.raises(ValueError, match="webhook_url"):
        FakeTextFlow(webhook_url=target)  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", ["", 5])
def test_a_bad_webhook_secret_is_refused(secret: object) -> None:
    with pytest.raises(ValueError, match="webhook_secret"):
        FakeTextFlow(webhook_secret=secret)  # type: ignore[arg-type]
