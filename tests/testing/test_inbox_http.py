"""The web inbox over HTTP: its files, the JSON list, Server-Sent Events, Clear and Reply."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from textflow.testing import PRICE_PER_SEGMENT, PRICE_PER_SMS, FakeTextFlow
from textflow.webhooks import parse_webhook

from tests.testing.fake_helpers import Clock, WebhookReceiver, auth

US = "+11234567890"
RS = "+381611231234"
JSON_POST = {"Content-Type": "application/json"}


@pytest.fixture
def served(fake: FakeTextFlow) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """(the inbox at /, the API at /api) over one server."""
    with fake.serve() as base_url:
        root = base_url[: -len("api")]
        with (
            httpx.Client(base_url=root, timeout=10) as page,
            httpx.Client(base_url=base_url, headers=auth(), timeout=10) as api,
        ):
            yield page, api


def test_the_page_and_its_files_are_served_with_a_strict_policy(
    served: tuple[httpx.Client, httpx.Client],
) -> None:
    page, _ = served
    html = page.get("/")
    assert html.status_code == 200
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in html.headers["content-security-policy"]
    assert html.headers["x-content-type-options"] == "nosniff"
    assert '<script src="/inbox.js"' in html.text
    assert "http" not in html.text.replace("http-equiv", "")  # nothing from elsewhere
    assert page.get("/inbox.js").headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in page.get("/inbox.js").text  # text only ever as textContent
    assert page.get("/inbox.css").headers["content-type"].startswith("text/css")
    assert page.get("/nope").status_code == 404
    assert page.post("/", headers=JSON_POST).status_code == 405
    assert page.get("/_inbox/clear").status_code == 405


def test_the_list_groups_by_phone_newest_first(
    served: tuple[httpx.Client, httpx.Client], fake: FakeTextFlow, clock: Clock
) -> None:
    page, api = served
    api.post("/send-sms", json={"phone_number": US, "text": "first"})
    clock.advance(1)
    api.post("/send-code", json={"phone_number": RS, "service_name": "Acme"})
    clock.advance(1)
    api.post("/bulk-sms", json={"phone_numbers": [US], "text": "sale €"})
    listing = page.get("/_inbox/messages").json()
    assert listing["credits"] == "99.55"
    assert (listing["fail_rate"], listing["latency"], listing["webhook"]) == (0.0, 0.0, None)
    assert [c["phone_number"] for c in listing["conversations"]] == [US, RS]
    us, rs = listing["conversations"]
    assert [(e["kind"], e["text"], e["characters"]) for e in us["entries"]] == [
        ("sms", "first", 5),
        ("bulk", "sale €", 6),
    ]
    (code,) = rs["entries"]
    assert code["kind"] == "code"
    assert code["code"] == fake.last_code(RS)
    assert code["code_state"] == "live"
    assert code["expires"] == code["timestamp"] + 600_000


def test_a_code_is_shown_used_replaced_or_expired(
    served: tuple[httpx.Client, httpx.Client], fake: FakeTextFlow, clock: Clock
) -> None:
    page, api = served

    def states() -> list[str]:
        (conversation,) = page.get("/_inbox/messages").json()["conversations"]
        return [e["code_state"] for e in conversation["entries"]]

    api.post("/send-code", json={"phone_number": US, "seconds": 60})
    first = fake.last_code(US)
    api.post("/send-code", json={"phone_number": US, "seconds": 60})
    assert states() == ["replaced", "live"]
    api.post("/verify-code", json={"phone_number": US, "code": first})  # the old one: refused
    assert states() == ["replaced", "live"]
    api.post("/verify-code", json={"phone_number": US, "code": fake.last_code(US)})
    assert states() == ["replaced", "used"]
    api.post("/send-code", json={"phone_number": US, "seconds": 60})
    clock.advance(61)
    assert states() == ["replaced", "used", "expired"]


def read_events(port: int, lines: queue.Queue[str], stop: threading.Event) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /_inbox/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        stream = sock.makefile("rb")
        while not stop.is_set():
            line = stream.readline()
            if not line:
                return
            lines.put(line.decode().rstrip("\r\n"))


def next_event(lines: queue.Queue[str], timeout: float = 30.0) -> dict[str, object]:
    """The next ``data:`` event; the timeout is a hang guard (an event comes in milliseconds)."""
    deadline = time.monotonic() + timeout
    while True:
        line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        if line.startswith("data: "):
            return dict(json.loads(line[len("data: ") :]))


def test_the_event_stream_pushes_each_new_message(fake: FakeTextFlow) -> None:
    with fake.serve() as base_url:
        port = httpx.URL(base_url).port
        assert port is not None
        lines: queue.Queue[str] = queue.Queue()
        stop = threading.Event()
        reader = threading.Thread(target=read_events, args=(port, lines, stop), daemon=True)
        reader.start()
        assert lines.get(timeout=5) == "HTTP/1.1 200 OK"
        while lines.get(timeout=5) != ": connected":
            pass
        with fake.client() as client:
            client.send_sms(US, "pushed")
            event = next_event(lines)
            assert (event["type"], event["text"], event["phone_number"]) == (
                "message",
                "pushed",
                US,
            )
            fake.reset()
            assert next_event(lines)["type"] == "clear"
        stop.set()
    reader.join(5)  # the server closed the stream when it stopped
    assert not reader.is_alive()


def test_clear_empties_the_inbox_but_keeps_credits_and_codes(
    served: tuple[httpx.Client, httpx.Client], fake: FakeTextFlow
) -> None:
    page, api = served
    api.post("/send-code", json={"phone_number": US})
    code = fake.last_code(US)
    assert page.post("/_inbox/clear", json={}).json() == {"ok": True}
    assert page.get("/_inbox/messages").json()["conversations"] == []
    assert fake.messages == []
    assert fake.balance == 100 - PRICE_PER_SMS
    assert api.post("/verify-code", json={"phone_number": US, "code": code}).json()["valid"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "text/plain"}, 415),  # a form or a no-cors fetch from any page
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({**JSON_POST, "Origin": "http://attacker.example"}, 403),
        ({**JSON_POST, "Origin": "null"}, 403),
    ],
)
def test_clear_and_reply_refuse_what_another_site_could_send(
    served: tuple[httpx.Client, httpx.Client],
    fake: FakeTextFlow,
    headers: dict[str, str],
    status: int,
) -> None:
    page, api = served
    api.post("/send-sms", json={"phone_number": US, "text": "keep me"})
    for path in ("/_inbox/clear", "/_inbox/reply"):
        assert page.post(path, content=b"{}", headers=headers).status_code == status
    assert len(fake.messages) == 1


def test_clear_from_the_page_s_own_origin_is_accepted(
    served: tuple[httpx.Client, httpx.Client], fake: FakeTextFlow
) -> None:
    page, api = served
    api.post("/send-sms", json={"phone_number": US, "text": "x"})
    origin = str(page.base_url).rstrip("/")
    assert page.post("/_inbox/clear", json={}, headers={"Origin": origin}).status_code == 200
    assert fake.messages == []


def test_a_malformed_clear_or_reply_body_is_a_400(
    served: tuple[httpx.Client, httpx.Client],
) -> None:
    page, _ = served
    assert page.post("/_inbox/clear", content=b"{", headers=JSON_POST).status_code == 400
    assert page.post("/_inbox/reply", content=b"[1]", headers=JSON_POST).status_code == 400


def test_reply_from_the_page_reaches_the_webhook_and_reports_the_status(
    served: tuple[httpx.Client, httpx.Client], fake: FakeTextFlow
) -> None:
    page, _ = served
    with WebhookReceiver(status=200) as app:
        fake.webhook_url = app.url
        fake.webhook_secret = "page-secret"
        answer = page.post("/_inbox/reply", json={"phone_number": US, "text": "YES"}).json()
        app.status = 500
        failed = page.post("/_inbox/reply", json={"phone_number": US, "text": "again"}).json()
    assert answer == {"ok": True, "status": 200, "error": None}
    assert failed["status"] == 500
    assert parse_webhook(app.bodies[0], secret="page-secret").text == "YES"
    listing = page.get("/_inbox/messages").json()
    assert listing["webhook"] == app.url
    statuses = [e["status"] for e in listing["conversations"][0]["entries"]]
    assert statuses == [200, 500]


def test_reply_from_the_page_without_a_webhook_or_a_listener_says_why(
    served: tuple[httpx.Client, httpx.Client], fake: FakeTextFlow
) -> None:
    page, _ = served
    answer = page.post("/_inbox/reply", json={"phone_number": US, "text": "YES"}).json()
    assert (answer["ok"], answer["status"]) == (False, None)
    assert "webhook_url" in answer["error"]
    with WebhookReceiver() as app:
        url = app.url
    fake.webhook_url = url  # nothing listens there now
    answer = page.post("/_inbox/reply", json={"phone_number": US, "text": "YES"}).json()
    assert answer["error"].startswith("ConnectError")


def test_the_api_is_still_under_api_only(served: tuple[httpx.Client, httpx.Client]) -> None:
    page, _ = served
    assert page.get("/balance", headers=auth()).status_code == 404
    assert page.get("/api/balance", headers=auth()).status_code == 200


def test_a_stream_that_falls_behind_is_told_to_reload() -> None:
    from textflow.testing._inbox_log import MAX_EVENTS, InboxLog

    log = InboxLog()
    for _ in range(MAX_EVENTS + 5):
        log.touch()
    assert log.wait(0, 0) == [(MAX_EVENTS + 5, {"type": "resync"})]
    assert [seq for seq, _ in log.wait(MAX_EVENTS, 0)] == [
        MAX_EVENTS + 1,
        *range(MAX_EVENTS + 2, MAX_EVENTS + 6),
    ]


def test_an_idle_stream_gets_keep_alive_comments(
    fake: FakeTextFlow, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textflow.testing import _inbox

    monkeypatch.setattr(_inbox, "HEARTBEAT", 0.3)
    with fake.serve() as base_url:
        port = httpx.URL(base_url).port
        assert port is not None
        lines: queue.Queue[str] = queue.Queue()
        stop = threading.Event()
        threading.Thread(target=read_events, args=(port, lines, stop), daemon=True).start()
        deadline = time.monotonic() + 10
        while lines.get(timeout=max(0.01, deadline - time.monotonic())) != ": keep-alive":
            pass
        stop.set()


def test_a_url_that_cannot_be_parsed_is_refused() -> None:
    with pytest.raises(ValueError, match="webhook_url"):
        FakeTextFlow(webhook_url="http://[::1")


def test_each_message_shows_its_encoding_segments_and_price(
    served: tuple[httpx.Client, httpx.Client],
) -> None:
    page, api = served
    api.post("/send-sms", json={"phone_number": US, "text": "x" * 260})
    api.post("/send-sms", json={"phone_number": RS, "text": "Ćao 😀"})
    listing = page.get("/_inbox/messages").json()
    entries = {c["phone_number"]: c["entries"][0] for c in listing["conversations"]}
    assert {k: entries[US][k] for k in ("encoding", "segments", "characters")} == {
        "encoding": "GSM-7",
        "segments": 2,
        "characters": 260,
    }
    assert isinstance(entries[US]["price"], float)  # a JSON number, not a string
    assert Decimal(str(entries[US]["price"])) == 2 * PRICE_PER_SEGMENT
    assert (entries[RS]["encoding"], entries[RS]["segments"]) == ("UCS-2", 1)
    assert Decimal(str(entries[RS]["price"])) == PRICE_PER_SEGMENT
