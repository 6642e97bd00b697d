"""The sandbox's web inbox in a real (headless) browser.

The sandbox runs as ``textflow sandbox`` in a subprocess, the SDK client sends
to it, and the page must show each SMS and code without a reload; the code is
copyable, message text is text (never markup), the search box filters, Clear
empties, and a reply typed in the page reaches a webhook receiver with the
right secret. A screenshot of the inbox is saved in the test's tmp dir (and in
``$TEXTFLOW_SCREENSHOT_DIR`` when set: ``nox -s docs-screenshots`` uses it).
Every wait is bounded (``WAIT`` seconds).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from textflow import TextFlowClient
from textflow.testing import DEFAULT_API_KEY
from textflow.webhooks import parse_webhook

from tests.browser.browser_support import WAIT
from tests.testing.fake_helpers import WebhookReceiver

US = "+11234567890"
RS = "+381611231234"
SECRET = "browser-test-secret"  # a test value for the test's own receiver
TABLE = "Your table for 4 is ready by the window. Show this SMS at the door. Thank you for booking!"
TABLE = f"{TABLE} {TABLE}"  # 181 GSM-7 characters: 2 segments
#: Read at import: the root conftest hides every TEXTFLOW_* variable from the tests themselves.
SCREENSHOT_DIR = os.environ.get("TEXTFLOW_SCREENSHOT_DIR")
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as app:
        yield app


@pytest.fixture
def sandbox(receiver: WebhookReceiver) -> Iterator[str]:
    """``textflow sandbox`` in a subprocess with replies going to ``receiver``; its base URL."""
    command = [sys.executable, "-m", "textflow", "sandbox", "--port", "0", "--json"]
    command += ["--webhook-url", receiver.url, "--webhook-secret", SECRET]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTFLOW_")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], WAIT)
        assert ready, f"the sandbox printed no banner within {WAIT} s"
        banner = json.loads(process.stdout.readline())
        yield str(banner["base_url"])
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def wait_for(browser: Any, condition: Callable[[Any], Any], what: str) -> Any:
    """``condition(browser)`` once true; elements that a re-render replaced are looked up again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(condition, message=f"the page never {what}")


def click(browser: Any, selector: str) -> None:
    def found_and_clicked(b: Any) -> bool:
        b.find_element("css selector", selector).click()
        return True

    wait_for(browser, found_and_clicked, f"let us click {selector}")


def texts(browser: Any, selector: str) -> list[str]:
    """The visible text of every element matching ``selector``, read in one step."""
    script = "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText)"
    return [str(text) for text in browser.execute_script(script, selector)]


def visible_phones(browser: Any) -> list[str]:
    return texts(browser, ".conversation .phone")


def test_the_inbox_shows_messages_live_and_replies_reach_the_app(
    browser: Any, sandbox: str, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    inbox_url = sandbox[: -len("api")]
    browser.get(inbox_url)
    wait_for(
        browser, lambda b: "on" in b.find_element("id", "live").get_attribute("class"), "went live"
    )
    browser.execute_script("window.sameDocument = true")  # gone if the page reloads

    with TextFlowClient(DEFAULT_API_KEY, base_url=sandbox) as client:
        client.send_sms(US, HOSTILE)
        sent = client.send_verification_sms(US, "Acme")
        assert sent.data is not None
        code = sent.data.verification_code
        client.send_sms(RS, TABLE)

        # Both arrive without a reload, the newest conversation first.
        wait_for(browser, lambda b: visible_phones(b) == [RS, US], "showed both conversations")
        wait_for(browser, lambda b: texts(b, ".code-value") == [code], "showed the code")
        assert browser.execute_script("return window.sameDocument") is True

        # Each message shows its encoding, segments and the price charged.
        table = f'.conversation[data-phone="{RS}"] '
        assert texts(browser, table + ".length") == [
            f"GSM-7 · 2 segments · {len(TABLE)} characters"
        ]
        assert texts(browser, table + ".price") == ["charged 0.3 credits"]
        assert texts(browser, f'.conversation[data-phone="{US}"] .price') == [
            "charged 0.15 credits",
            "charged 0.15 credits",
        ]

        # The hostile text is shown as text and ran nothing.
        assert HOSTILE in texts(browser, ".text")
        assert browser.execute_script("return window.pwned") is None
        assert browser.find_elements("css selector", "main script, main img") == []

        # The code, its state and expiry; Copy puts it on the clipboard.
        assert texts(browser, ".state") == ["not used yet"]
        assert texts(browser, ".expires")[0].startswith("expires ")
        browser.execute_cdp_cmd(
            "Browser.grantPermissions",
            {"origin": inbox_url.rstrip("/"), "permissions": ["clipboardReadWrite"]},
        )
        click(browser, ".copy")
        wait_for(browser, lambda b: texts(b, ".copy") == ["Copied"], "confirmed the copy")
        copied = browser.execute_async_script(
            "navigator.clipboard.readText().then(arguments[0], e => arguments[0]('error: ' + e))"
        )
        assert copied == code

        client.verify_code(US, code)
        wait_for(browser, lambda b: texts(b, ".state") == ["used"], "marked the code used")

    # The search box filters by number and by text.
    search = browser.find_element("id", "search")
    search.send_keys("+381")  # not "381": a random six-digit code in a text can hold it
    wait_for(browser, lambda b: visible_phones(b) == [RS], "filtered by number")
    search.clear()
    search.send_keys("TABLE")
    wait_for(browser, lambda b: texts(b, ".text") == [TABLE], "filtered by text")
    search.clear()
    search.send_keys("no such thing")
    wait_for(browser, lambda b: texts(b, ".empty") == ["No message matches the search."], "said so")
    search.clear()
    search.send_keys(" ")  # an input event; blank searches match everything
    wait_for(browser, lambda b: visible_phones(b) == [RS, US], "showed everything again")

    # A reply typed in the page reaches the app with the right secret.
    reply_box = f'.conversation[data-phone="{US}"] .reply-text'
    browser.find_element("css selector", reply_box).send_keys("YES")
    click(browser, f'.conversation[data-phone="{US}"] .reply-form button')
    wait_for(browser, lambda b: receiver.arrived.is_set(), "delivered the reply")
    incoming = parse_webhook(receiver.bodies[0], secret=SECRET)
    assert (incoming.phone_number, incoming.text) == (US, "YES")
    wait_for(
        browser,
        lambda b: "Delivered: the app answered HTTP 200" in texts(b, ".reply-status"),
        "showed the app's status",
    )
    assert "app answered HTTP 200" in texts(browser, ".kind-reply .answer")

    # Readable on a phone: nothing wider than the window.
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0

    screenshot = tmp_path / "sandbox-inbox.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    if SCREENSHOT_DIR:
        shutil.copy(screenshot, Path(SCREENSHOT_DIR) / screenshot.name)

    # Clear empties the inbox.
    click(browser, "#clear")
    wait_for(browser, lambda b: visible_phones(b) == [], "emptied on Clear")
    assert "No messages yet" in browser.find_element("tag name", "main").text


def test_dark_mode_is_dark_and_readable(browser: Any, sandbox: str) -> None:
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    try:
        browser.get(sandbox[: -len("api")])
        background, color = browser.execute_script(
            "const s = getComputedStyle(document.body); return [s.backgroundColor, s.color]"
        )
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert luminance(background) < 0.2 < 0.7 < luminance(color)


def luminance(css_color: str) -> float:
    """Rough relative luminance (0 black .. 1 white) of ``rgb(r, g, b)``."""
    red, green, blue = (
        int(part) for part in css_color[css_color.index("(") + 1 : -1].split(",")[:3]
    )
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255
