"""The sandbox's web inbox: a page listing every SMS by phone, live, with replies.

Served by the fake's HTTP server for every path outside ``/api``:

* ``GET /`` the page; ``/inbox.css`` and ``/inbox.js`` its files (package data
  in ``textflow/testing/inbox/``; nothing is loaded from elsewhere);
* ``GET /_inbox/messages`` the conversations and the settings, as JSON;
* ``GET /_inbox/events`` Server-Sent Events, one per change (the server streams it);
* ``POST /_inbox/clear`` forget the messages; ``POST /_inbox/reply``
  ``{"phone_number", "text"}`` deliver a reply to the webhook URL.

The POSTs take JSON only and refuse another ``Origin``: a web page elsewhere
cannot make them (a JSON POST from another origin needs a CORS preflight this
server never grants). The page's Content-Security-Policy allows its own files
only, and it writes message text with ``textContent``, never as HTML.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from typing import Any, Callable, Optional, Protocol

from textflow.testing._inbox_log import InboxLog
from textflow.testing._reply import Reply, error_reply, json_reply
from textflow.testing._webhook import WebhookTarget, status_of

#: Seconds between keep-alive comments on an idle event stream.
HEARTBEAT = 15.0
_STOP_CHECK = 0.25  # seconds: how soon an event stream notices the server stopping

_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/inbox.css": ("inbox.css", "text/css; charset=utf-8"),
    "/inbox.js": ("inbox.js", "text/javascript; charset=utf-8"),
}
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = (
    ("Content-Security-Policy", _POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


def page_file(name: str) -> bytes:
    """One of the page's files, read from the package."""
    return resources.files("textflow.testing").joinpath("inbox").joinpath(name).read_bytes()


class Account(Protocol):
    """What the inbox shows of the fake account, and the reply it sends (``FakeTextFlow``)."""

    @property
    def balance(self) -> Decimal: ...
    @property
    def fail_rate(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def latency(self) -> float: ...
    @property
    def webhook_url(self) -> Optional[WebhookTarget]: ...
    def reply(self, phone_number: str, text: str, *, attempts: int = 1) -> Any: ...


class InboxApp:
    """The inbox's requests, answered from an account and its inbox log.

    Args:
        account: The fake account (its settings, and ``reply``).
        log: The messages and replies to show.
        now_ms: The account's clock, in milliseconds (to show which codes expired).
        clear: Forgets the delivered messages and the replies (the Clear button).
    """

    def __init__(
        self,
        account: Account,
        log: InboxLog,
        *,
        now_ms: Callable[[], int],
        clear: Callable[[], None],
    ) -> None:
        self._account = account
        self._log = log
        self._now_ms = now_ms
        self._clear_all = clear

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer a request for a path outside ``/api``."""
        if path in _FILES:
            if method != "GET":
                return error_reply(405, "Method not allowed.", (("Allow", "GET"),))
            name, content_type = _FILES[path]
            return Reply(200, page_file(name), (("Content-Type", content_type), *_HEADERS))
        if path == "/_inbox/messages" and method == "GET":
            return json_reply(200, self.listing(), _HEADERS)
        actions: dict[str, Callable[[Any], dict[str, Any]]] = {
            "/_inbox/clear": self._clear,
            "/_inbox/reply": self._reply,
        }
        action = actions.get(path)
        if action is None:
            return error_reply(404, "Not found.")
        if method != "POST":
            return error_reply(405, "Method not allowed.", (("Allow", "POST"),))
        refused = _refuse_cross_site(headers)
        if refused is not None:
            return refused
        try:
            fields = json.loads(body or b"{}")
        except ValueError:
            return error_reply(400, "The request body is not valid JSON.")
        if not isinstance(fields, dict):
            return error_reply(400, "The request body is not a JSON object.")
        return json_reply(200, action(fields), _HEADERS)

    def listing(self) -> dict[str, Any]:
        """Everything the page shows: settings and conversations."""
        account = self._account
        target = account.webhook_url
        return {
            "credits": format(account.balance, "f"),
            "fail_rate": account.fail_rate,
            "seed": account.seed,
            "latency": account.latency,
            "webhook": target if isinstance(target, str) or target is None else "(a callable)",
            "conversations": self._log.snapshot(self._now_ms()),
        }

    def stream(
        self,
        write: Callable[[bytes], None],
        stopping: threading.Event,
        gone: Callable[[], bool] = lambda: False,
    ) -> None:
        """Server-Sent Events: one ``change`` event per change, until stopped or closed.

        ``gone`` is asked every ``_STOP_CHECK`` seconds: a client that closed the
        stream ends it then, not at the next heartbeat's failed write.
        """
        log = self._log
        with log.changed:
            seen = log.seq
        write(b"retry: 1000\n: connected\n\n")
        quiet = 0.0
        while not stopping.is_set() and not gone():
            events = log.wait(seen, _STOP_CHECK)
            if not events:
                quiet += _STOP_CHECK
                if quiet >= HEARTBEAT:
                    write(b": keep-alive\n\n")
                    quiet = 0.0
                continue
            quiet = 0.0
            for seq, event in events:
                data = json.dumps(event, ensure_ascii=True)
                write(f"id: {seq}\nevent: change\ndata: {data}\n\n".encode())
                seen = max(seen, seq)

    def _clear(self, fields: Any) -> dict[str, Any]:
        self._clear_all()
        return {"ok": True}

    def _reply(self, fields: Any) -> dict[str, Any]:
        try:
            answer = self._account.reply(fields.get("phone_number"), fields.get("text"))
        except ValueError as exc:
            return {"ok": False, "status": None, "error": str(exc)}
        except Exception as exc:  # the app did not answer: shown beside the reply
            return {"ok": False, "status": None, "error": f"{type(exc).__name__}: {exc}"[:300]}
        return {"ok": True, "status": status_of(answer), "error": None}


def _refuse_cross_site(headers: Mapping[str, str]) -> Optional[Reply]:
    """A 403 for a POST that a page from another origin could have made."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return error_reply(415, "Send JSON (Content-Type: application/json).")
    origin = headers.get("origin")
    if origin is not None and origin != f"http://{headers.get('host', '')}":
        return error_reply(403, "Refused: a request from another origin.")
    return None
