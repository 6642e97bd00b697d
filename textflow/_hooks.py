"""The public hooks: the events each call gives ``on_request``, ``on_response``, ... .

Each event is a frozen dataclass holding only what is safe to log or export:
the operation, the attempt, durations, the HTTP status, whether an SMS may have
gone out, the retry delay, and the recipient as its country calling code. Never
the API key, a message's text, a verification code or a whole phone number.

A call with no hook and no instrumentation builds no event and costs one test
(`observe` returns ``None``). A hook that raises is logged on the ``textflow``
logger and the call goes on (`textflow._async_io.emit` and its sync twin).

Instrumentations (``textflow.integrations.opentelemetry``) register an
`Observer` here: it sees every call of every client, around the whole call
(its ``with`` block is where a span is current), and each event.

Over 300 lines, yet one module: the events, the per-client hooks and the
observers are one mechanism, built for each call in one place (`observe`).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol, Union

from textflow._redact import calling_code
from textflow.errors import APIError, ConfigurationError

if TYPE_CHECKING:
    from textflow._operations import Operation

__all__ = [
    "CallEvent",
    "CallInfo",
    "ErrorEvent",
    "Hooks",
    "Observer",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
]


@dataclass(frozen=True)
class CallEvent:
    """What every hook event holds.

    Attributes:
        operation: The client method: ``"send_sms"``, ``"get_balance"``, ...
        attempt: 1 for the first request of the call, 2 for its first retry, ...
        calling_code: The recipient's country calling code (``"+1"``), ``None``
            when the operation has no recipient or a bulk send spans countries.
        recipients: How many numbers the call addresses (0 for ``get_balance``).

    Examples:
        >>> def on_request(event: CallEvent) -> None:
        ...     print(event.operation, event.attempt, event.calling_code)
    """

    operation: str
    attempt: int
    calling_code: Optional[str]
    recipients: int


@dataclass(frozen=True)
class RequestEvent(CallEvent):
    """``on_request``: an attempt is about to be sent.

    Examples:
        >>> client = TextFlowClient(on_request=lambda event: print(event.attempt))
    """


@dataclass(frozen=True)
class ResponseEvent(CallEvent):
    """``on_response``: an attempt got an HTTP answer (any status, before it is judged).

    Attributes:
        status_code: The HTTP status.
        duration: Seconds from sending this attempt to its whole answer.

    Examples:
        >>> def on_response(event: ResponseEvent) -> None:
        ...     print(f"{event.operation}: HTTP {event.status_code} in {event.duration:.3f} s")
    """

    status_code: int
    duration: float


@dataclass(frozen=True)
class RetryEvent(CallEvent):
    """``on_retry``: the attempt failed in a way that is safe to retry; the call waits first.

    Attributes:
        delay: Seconds the call waits before the next attempt.
        reason: Why: ``"HTTP 429"``, ``"ConnectError"``, ...
        status_code: The failed attempt's HTTP status, ``None`` when no answer came.

    Examples:
        >>> def on_retry(event: RetryEvent) -> None:
        ...     print(f"retry in {event.delay:.1f} s after {event.reason}")
    """

    delay: float
    reason: str
    status_code: Optional[int]


@dataclass(frozen=True)
class ErrorEvent(CallEvent):
    """``on_error``: the call ends with an exception, which is raised after the hook.

    Attributes:
        error_type: The exception's class name (``"RateLimitError"``).
        status_code: The API's HTTP status, ``None`` when no answer came.
        may_have_been_sent: Whether the call may still have done what it asked
            (see ``APIError.may_have_been_sent``); ``False`` for a refused call.
        duration: Seconds since the call began.

    Examples:
        >>> def on_error(event: ErrorEvent) -> None:
        ...     print(event.error_type, event.may_have_been_sent)
    """

    error_type: str
    status_code: Optional[int]
    may_have_been_sent: bool
    duration: float


Hook = Callable[[Any], Any]  # returns None, or an awaitable (async client only)
RequestHook = Callable[[RequestEvent], Union[Awaitable[None], None]]
ResponseHook = Callable[[ResponseEvent], Union[Awaitable[None], None]]
RetryHook = Callable[[RetryEvent], Union[Awaitable[None], None]]
ErrorHook = Callable[[ErrorEvent], Union[Awaitable[None], None]]

HOOK_NAMES = ("on_request", "on_response", "on_retry", "on_error")


class Hooks:
    """A client's hooks, checked once when the client is made."""

    __slots__ = HOOK_NAMES

    def __init__(
        self,
        *,
        on_request: Optional[RequestHook] = None,
        on_response: Optional[ResponseHook] = None,
        on_retry: Optional[RetryHook] = None,
        on_error: Optional[ErrorHook] = None,
        allow_async: bool = True,
    ) -> None:
        given = {
            "on_request": on_request,
            "on_response": on_response,
            "on_retry": on_retry,
            "on_error": on_error,
        }
        for name, hook in given.items():
            if hook is not None and not callable(hook):
                raise ConfigurationError(
                    f"{name} must be a function of one event, not {type(hook).__name__}."
                )
            if hook is not None and not allow_async and _is_async(hook):
                raise ConfigurationError(
                    f"{name} is an async function: the sync TextFlowClient cannot await it. "
                    "Pass a plain function, or use AsyncTextFlowClient."
                )
        self.on_request: Optional[Hook] = on_request
        self.on_response: Optional[Hook] = on_response
        self.on_retry: Optional[Hook] = on_retry
        self.on_error: Optional[Hook] = on_error

    def __bool__(self) -> bool:  # once per call: written out, not a loop over HOOK_NAMES
        return (
            self.on_request is not None
            or self.on_response is not None
            or self.on_retry is not None
            or self.on_error is not None
        )

    def given(self) -> dict[str, Optional[Hook]]:
        """The hooks by argument name (for ``with_options``)."""
        return {name: getattr(self, name) for name in HOOK_NAMES}


def _is_async(hook: object) -> bool:
    call = getattr(hook, "__call__", None)  # noqa: B004 - an object with an async __call__
    return inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(call)


@dataclass(frozen=True)
class CallInfo:
    """What an `Observer` learns of a call when it starts (no secrets, as the events).

    Attributes:
        operation: The client method.
        method: The HTTP method.
        host: The API's host name; ``port`` its port.
        sends_sms: The operation sends SMS and costs credits.
        calling_code: As in `CallEvent`.
        recipients: As in `CallEvent`.
        segments: SMS parts per recipient, for the operations that carry a text.
        encoding: ``"GSM-7"`` or ``"UCS-2"``, for those operations.
    """

    operation: str
    method: str
    host: str
    port: Optional[int]
    sends_sms: bool
    calling_code: Optional[str]
    recipients: int
    segments: Optional[int] = None
    encoding: Optional[str] = None


class Observation(Protocol):
    """One call as an observer follows it: ``with`` around the call, then its events."""

    def __enter__(self) -> object: ...

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...

    def event(self, event: CallEvent) -> None: ...

    def answered(self, result: object) -> None: ...


class Observer(Protocol):
    """An instrumentation: told of every call of every client (see `OBSERVERS`)."""

    def call(self, info: CallInfo) -> Observation: ...


#: The instrumentations in force (``textflow.instrument()`` adds one). Read once per call.
OBSERVERS: list[Observer] = []


def _recipients(payload: Optional[dict[str, Any]]) -> tuple[Optional[str], int]:
    if not payload:
        return None, 0
    number = payload.get("phone_number")
    if isinstance(number, str):
        return calling_code(number), 1
    numbers = payload.get("phone_numbers")
    if isinstance(numbers, list) and numbers:
        codes = {calling_code(n) for n in numbers if isinstance(n, str)}
        return (codes.pop() if len(codes) == 1 else None), len(numbers)
    return None, 0


class Call:
    """One call's events: built by the client when a hook or an observer listens."""

    __slots__ = ("_hooks", "_observations", "_op", "_sent_at", "_started", "attempt", "code", "n")

    def __init__(
        self,
        op: Operation[Any],
        payload: Optional[dict[str, Any]],
        hooks: Hooks,
        observers: Sequence[Observer],
        base_url: Any,
    ) -> None:
        self._op = op
        self._hooks = hooks
        self.code, self.n = _recipients(payload)
        self.attempt = 0
        self._started = self._sent_at = time.monotonic()
        self._observations: list[Observation] = []
        if observers:
            info = self._info(payload, base_url)
            self._observations = [observer.call(info) for observer in observers]

    def _info(self, payload: Optional[dict[str, Any]], base_url: Any) -> CallInfo:
        segments = encoding = None
        text = payload.get("text") if payload else None
        if isinstance(text, str):
            from textflow._segments import segments as count

            counted = count(text)
            segments, encoding = counted.segments, counted.encoding
        return CallInfo(
            operation=self._op.name,
            method=self._op.method,
            host=base_url.host,
            port=base_url.port,
            sends_sms=self._op.sends_sms,
            calling_code=self.code,
            recipients=self.n,
            segments=segments,
            encoding=encoding,
        )

    def __enter__(self) -> Call:
        entered: list[Observation] = []
        try:
            for observation in self._observations:
                observation.__enter__()
                entered.append(observation)
        except Exception:  # an instrumentation must not break the call
            from textflow._logging import logger

            logger.warning("An instrumentation failed to start a call", exc_info=True)
        self._observations = entered
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        for observation in reversed(self._observations):
            try:
                observation.__exit__(exc_type, exc, tb)
            except Exception:
                from textflow._logging import logger

                logger.warning("An instrumentation failed to end a call", exc_info=True)

    def _tell(self, event: CallEvent) -> None:
        for observation in self._observations:
            try:
                observation.event(event)
            except Exception:
                from textflow._logging import logger

                logger.warning(
                    "An instrumentation failed on %s", type(event).__name__, exc_info=True
                )

    def request(self) -> tuple[Optional[Hook], RequestEvent]:
        self.attempt += 1
        self._sent_at = time.monotonic()
        event = RequestEvent(self._op.name, self.attempt, self.code, self.n)
        self._tell(event)
        return self._hooks.on_request, event

    def response(self, status_code: int) -> tuple[Optional[Hook], ResponseEvent]:
        duration = time.monotonic() - self._sent_at
        event = ResponseEvent(self._op.name, self.attempt, self.code, self.n, status_code, duration)
        self._tell(event)
        return self._hooks.on_response, event

    def retry(
        self, delay: float, reason: str, status_code: Optional[int]
    ) -> tuple[Optional[Hook], RetryEvent]:
        event = RetryEvent(
            self._op.name, self.attempt, self.code, self.n, delay, reason, status_code
        )
        self._tell(event)
        return self._hooks.on_retry, event

    def error(self, exc: BaseException) -> tuple[Optional[Hook], ErrorEvent]:
        wire = exc if isinstance(exc, APIError) else None
        event = ErrorEvent(
            self._op.name,
            max(self.attempt, 1),
            self.code,
            self.n,
            type(exc).__name__,
            None if wire is None else wire.status_code,
            False if wire is None else bool(wire.may_have_been_sent),
            time.monotonic() - self._started,
        )
        self._tell(event)
        return self._hooks.on_error, event

    def answered(self, result: object) -> None:
        for observation in self._observations:
            try:
                observation.answered(result)
            except Exception:
                from textflow._logging import logger

                logger.warning("An instrumentation failed on an answer", exc_info=True)


def observe(
    op: Operation[Any], payload: Optional[dict[str, Any]], hooks: Hooks, base_url: Any
) -> Optional[Call]:
    """The call's events, or ``None`` when no hook and no observer listens (the usual case)."""
    if not hooks and not OBSERVERS:
        return None
    return Call(op, payload, hooks, tuple(OBSERVERS), base_url)


def hook_failed(hook: Hook, event: CallEvent) -> None:
    """Log a hook that raised (the call goes on), from inside its ``except``."""
    from textflow._logging import logger

    name = getattr(hook, "__qualname__", None) or type(hook).__name__
    logger.warning(
        "The %s hook %s raised; the call goes on",
        type(event).__name__.replace("Event", "").lower(),
        name,
        exc_info=True,
    )
