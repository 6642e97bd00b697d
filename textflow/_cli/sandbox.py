"""``textflow sandbox``: the fake TextFlow over HTTP, printing every SMS it receives.

It listens on 127.0.0.1 unless ``--host`` says otherwise (then a warning
says who can reach it), prints how to point the SDK at it, then one line per
SMS or code as they arrive (with its segments and price), each reply sent to
the webhook and each send ``--fail-rate`` failed, until Ctrl-C or SIGTERM
(exit status 0).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Optional

from textflow._cli.command_arguments import DEFAULT_SANDBOX_HOST
from textflow._cli.exit_status import EXIT_OK
from textflow._cli.output import printable, stdout_to_devnull
from textflow._cli.parser import UsageError

if TYPE_CHECKING:
    from textflow.testing import FakeEvent, FakeMessage, FakeTextFlow

_KINDS = {"sms": "SMS ", "code": "code", "bulk": "bulk"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``).

    Args:
        host: A host name or IP address.

    Returns:
        True for a loopback name or address.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Inbox:
    """Prints one line per delivered message; called from the server's threads.

    Args:
        as_json: Print each message as one JSON object instead of a readable line.
    """

    def __init__(self, *, as_json: bool) -> None:
        self._as_json = as_json
        self._lock = threading.Lock()
        self.received = 0

    def __call__(self, message: FakeMessage) -> None:
        """Print ``message`` at once (flushed), one line.

        Args:
            message: What the fake just delivered.
        """
        if self._as_json:
            line = json_line({"event": "message", **_fields(message)})
        else:
            when = _clock_time(message.timestamp)
            text = printable(message.text)
            kind = _KINDS.get(message.kind, message.kind)
            cost = f"[{message.segments} seg {message.encoding} {message.price:f}]"
            line = f"{when}  {kind}  {message.phone_number:<16}  {cost}  {text}"
        with self._lock:
            self.received += 1
            self._print(line)

    def event(self, event: FakeEvent) -> None:
        """Print a reply (and what the app answered) or an injected failure, one line.

        Args:
            event: What happened.
        """
        if self._as_json:
            line = json_line(
                {
                    "event": event.kind,
                    "phone_number": event.phone_number,
                    "text": event.text,
                    "detail": event.detail,
                    "timestamp": event.timestamp,
                }
            )
        elif event.kind == "reply":
            when = _clock_time(event.timestamp)
            said = printable(event.detail)
            line = f"{when}  reply {event.phone_number:<16}  {printable(event.text)}  -> {said}"
        else:
            when = _clock_time(event.timestamp)
            line = f"{when}  FAIL  {printable(event.phone_number):<16}  injected: {event.detail}"
        with self._lock:
            self._print(line)

    def _print(self, line: str) -> None:
        try:
            print(line, flush=True)
        except BrokenPipeError:  # `textflow sandbox | head`: the reader left; serve on
            stdout_to_devnull()


def _clock_time(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000).strftime("%H:%M:%S")


def json_line(payload: dict[str, object]) -> str:
    """``payload`` as one line of JSON that can always be printed.

    A lone surrogate (``"\\ud800"`` in a JSON request is valid) cannot be encoded
    as UTF-8: it is written as its JSON escape, which reads back as the same string.

    Args:
        payload: The JSON object.

    Returns:
        One line of JSON.
    """
    line = json.dumps(payload, ensure_ascii=False)
    return line.encode("utf-8", "backslashreplace").decode("utf-8")


def _fields(message: FakeMessage) -> dict[str, object]:
    return {
        "phone_number": message.phone_number,
        "kind": message.kind,
        "text": message.text,
        "timestamp": message.timestamp,
        "encoding": message.encoding,
        "segments": message.segments,
        "price": float(message.price),
    }


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt here (even if SIGINT was ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _banner(base_url: str, fake: FakeTextFlow, *, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "event": "listening",
                "base_url": base_url,
                "api_key": fake.api_key,
                "credits": format(fake.balance, "f"),
                "fail_rate": fake.fail_rate,
                "seed": fake.seed,
                "latency": fake.latency,
                "inbox_url": _inbox_url(base_url),
                "webhook_url": fake.webhook_url,
            }
        )
    settings = [f"Credits: {fake.balance:f}."]
    if fake.fail_rate:
        settings.append(
            f"Failing {fake.fail_rate:.1%} of sends (500 or dropped; --seed {fake.seed} "
            "repeats them)."
        )
    if fake.latency:
        settings.append(f"Every answer waits {fake.latency * 1000:g} ms.")
    if fake.webhook_url:
        settings.append(f"Replies typed in the inbox go to {fake.webhook_url}.")
    return (
        f"TextFlow sandbox listening on {base_url}\n"
        "A fake TextFlow API: nothing is really sent. Point the SDK or the textflow "
        "command at it:\n\n"
        f"  export TEXTFLOW_BASE_URL={base_url}\n"
        f"  export TEXTFLOW_API_KEY={fake.api_key}\n\n"
        f"Web inbox: {_inbox_url(base_url)}\n"
        f"{' '.join(settings)}\n"
        "Every SMS and verification code it receives is printed below. Ctrl-C stops it.\n"
    )


def _inbox_url(base_url: str) -> str:
    return base_url[: -len("api")] if base_url.endswith("/api") else base_url


def wait_forever() -> None:
    """Sleep until a signal interrupts (Ctrl-C or SIGTERM raise KeyboardInterrupt here)."""
    while True:
        time.sleep(3600)


def run(args: argparse.Namespace) -> int:
    """``textflow sandbox [--host HOST] [--port PORT] [--api-key KEY] [settings]``: serve.

    Args:
        args: The parsed command line (``host`` only if given, ``port``, ``api_key``,
            ``credits``, ``fail_rate``, ``seed``, ``latency``, ``webhook_url``, ``webhook_secret``).

    Returns:
        0 when stopped by Ctrl-C or SIGTERM.

    Raises:
        UsageError: A blank ``--api-key``, or the address cannot be bound.
    """
    host: str = getattr(args, "host", DEFAULT_SANDBOX_HOST)
    if not is_loopback(host):
        print(
            f"textflow: warning: listening on {host}, not loopback: other machines can reach "
            "the sandbox and read the SMS and codes sent to it.",
            file=sys.stderr,
            flush=True,
        )
    from textflow.testing import FakeTextFlow  # here: the API commands start faster
    from textflow.testing._fake import MAX_LATENCY

    if args.latency > MAX_LATENCY:
        raise UsageError(f"--latency: at most {MAX_LATENCY:g}s")
    inbox = Inbox(as_json=args.json)
    try:  # the other settings were checked by the parser: only the key can be wrong here
        fake = FakeTextFlow(
            args.api_key,
            credits=args.credits,
            on_message=inbox,
            on_event=inbox.event,
            fail_rate=args.fail_rate,
            seed=args.seed,
            latency=args.latency,
        )
    except ValueError as exc:
        raise UsageError(f"--api-key: {exc}") from None
    try:
        fake.webhook_url = args.webhook_url
    except ValueError:
        raise UsageError(f"--webhook-url: not an http(s) URL: {args.webhook_url!r}") from None
    if args.webhook_secret is not None:
        if not args.webhook_secret:
            raise UsageError("--webhook-secret: must not be empty")
        fake.webhook_secret = args.webhook_secret
    with _stop_on_signals(), contextlib.ExitStack() as stack:
        try:
            base_url = stack.enter_context(
                fake.serve(host, args.port, log_requests=args.verbose > 0)
            )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise UsageError(
                f"cannot listen on {host} port {args.port}: {reason} (--port 0 picks a free port)"
            ) from None
        try:
            print(_banner(base_url, fake, as_json=args.json), flush=True)
            wait_forever()
        except KeyboardInterrupt:
            pass  # the server stops as the stack unwinds
    if not args.json:
        count = inbox.received
        print(f"Sandbox stopped ({count} message{'' if count == 1 else 's'} received).", flush=True)
    return EXIT_OK
