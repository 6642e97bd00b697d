"""What the sync and async clients share: settings, headers, request building, logging.

Everything a client does that is not I/O lives here or below, so the two
client classes differ only in ``await``.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Generic, Optional, TypeVar, Union

import httpx

from textflow import _config
from textflow._hooks import ErrorHook, Hooks, RequestHook, ResponseHook, RetryHook
from textflow._http import proxies
from textflow._http.body import ACCEPT_ENCODING
from textflow._http.cookies import Jar, sets_cookie
from textflow._http.deadline import CALL_DEADLINE, DEADLINE_PASSED, QUEUE_TIMEOUT
from textflow._http.framing import never_reuse, take_connection
from textflow._http.sent import POINT, cut_point, may_have_been_sent
from textflow._logging import logger, recipients
from textflow._operations import Operation
from textflow._retry import FIRST_RETRIED_STATUS, next_delay
from textflow._wire import (
    Prepared,
    build_request,
    connection_error,
    parse_response,
    prepare,
    undecodable,
)
from textflow.errors import ClientStateError, ConfigurationError, MalformedResponseError

if TYPE_CHECKING:
    from typing_extensions import Self

    from textflow.models import Result  # pydantic's models load with the first answer

HttpClientT = TypeVar("HttpClientT", httpx.Client, httpx.AsyncClient)
ResultT = TypeVar("ResultT", bound="Result")


class NotGiven(enum.Enum):
    """The default of `BaseClient.with_options`' arguments: "keep this setting".

    Needed because ``None`` means something of its own there (``timeout=None``:
    no bound; ``api_key=None``: the environment's key).
    """

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven.NOT_GIVEN


def foreign_failure(exc: Exception, request: httpx.Request) -> httpx.TransportError:
    """A caller's ``http_client`` transport raised what no httpx transport raises.

    It becomes a transport failure like any other (an `APIConnectionError`, the
    original as its ``__cause__``): the SDK cannot tell how far that transport got,
    so `textflow._http.sent` counts it as "may have been sent" for a send, and it is
    never re-sent.
    """
    return httpx.TransportError(
        f"the http_client's transport raised {type(exc).__name__}: {exc}", request=request
    )


_PROXY_ON_OWN_CLIENT = (
    "proxy= and trust_env= configure the connection pool the client makes itself: with "
    "your own http_client, set them on it (httpx's proxy= and trust_env=)."
)


class BaseClient(Generic[HttpClientT]):
    _http_client_class: type[HttpClientT]
    _http: HttpClientT
    #: The backoff's jitter source, as ``random.random``; tests inject a fixed one. (What the
    #: retry loop sleeps with is each client's ``_sleep``: one blocks, the other awaits.)
    _random = staticmethod(random.random)

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        base_url: Union[str, httpx.URL, None] = None,
        timeout: _config.TimeoutTypes = _config.DEFAULT_TIMEOUT,
        max_retries: int = _config.DEFAULT_MAX_RETRIES,
        http_client: Optional[HttpClientT] = None,
        default_headers: Optional[Mapping[str, str]] = None,
        proxy: proxies.ProxyTypes = None,
        trust_env: bool = True,
        on_request: Optional[RequestHook] = None,
        on_response: Optional[ResponseHook] = None,
        on_retry: Optional[RetryHook] = None,
        on_error: Optional[ErrorHook] = None,
    ) -> None:
        self._hooks = Hooks(
            on_request=on_request,
            on_response=on_response,
            on_retry=on_retry,
            on_error=on_error,
            allow_async=self._http_client_class is httpx.AsyncClient,
        )
        self._api_key = _config.resolve_api_key(api_key)
        self._base_url = _config.resolve_base_url(base_url)
        self._timeout = _config.resolve_timeout(timeout)
        self._max_retries = _config.resolve_max_retries(max_retries)
        self._default_headers = _config.check_headers(default_headers or {})
        self._deadline = _config.resolve_deadline(timeout)
        self._timeout_given = timeout  # for with_options: a number also bounds a call whole
        self._proxy_given = proxy
        self._trust_env = trust_env
        self._proxy: Optional[httpx.Proxy] = None  # the route of every request
        self._sdk_pool = http_client is None  # the SDK's transport, which follows the route
        #: The SDK's own transport, which the client sends through directly (see `_direct`).
        self._transport: Any = None
        if http_client is None:
            self._proxy = proxies.route(self._base_url, proxy, trust_env)
            self._transport = self._new_transport()
            self._http = self._http_client_class(
                timeout=self.timeout,
                follow_redirects=False,
                transport=self._transport,
                cookies=Jar(),  # skips answers that set no cookie
            )
            self._owns_http = True
        elif isinstance(http_client, self._http_client_class):
            if proxy is not None or trust_env is not True:
                raise ConfigurationError(_PROXY_ON_OWN_CLIENT)
            self._http = http_client
            self._owns_http = False
        else:
            raise ConfigurationError(
                f"http_client must be an {self._http_client_class.__module__}."
                f"{self._http_client_class.__name__} for {type(self).__name__}, "
                f"not {type(http_client).__name__}."
            )
        self._headers = _config.build_headers(
            self._api_key,
            self._http.headers,
            self._default_headers,
            accept_encoding=ACCEPT_ENCODING,  # only what the SDK decodes itself, capped
        )
        self._prepared: dict[str, Prepared] = {}  # per operation, on its first call

    @staticmethod
    def _new_transport() -> Any:
        """The transport of the pool the client makes itself (textflow._http.transport)."""
        raise NotImplementedError

    @classmethod
    def _owning(cls, http_client: HttpClientT, **options: Any) -> Self:
        """A client that closes ``http_client`` as if it had made it (for textflow.testing)."""
        client = cls(http_client=http_client, **options)
        client._owns_http = True
        return client

    # Read-only: every request is prepared from them once; change them with with_options().
    @property
    def base_url(self) -> httpx.URL:
        """The URL the operations' paths are joined onto, e.g. ``https://textflow.me/api``."""
        return self._base_url

    @property
    def timeout(self) -> httpx.Timeout:
        """The timeout of every request."""
        return self._timeout

    @property
    def max_retries(self) -> int:
        """How many times a request may be re-sent where re-sending is safe."""
        return self._max_retries

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={str(self.base_url)!r})"

    def with_options(
        self,
        *,
        api_key: Union[str, NotGiven, None] = NOT_GIVEN,
        base_url: Union[str, httpx.URL, NotGiven, None] = NOT_GIVEN,
        timeout: Union[float, httpx.Timeout, NotGiven, None] = NOT_GIVEN,
        max_retries: Union[int, NotGiven] = NOT_GIVEN,
        default_headers: Union[Mapping[str, str], NotGiven, None] = NOT_GIVEN,
        proxy: Union[proxies.ProxyTypes, NotGiven] = NOT_GIVEN,
        trust_env: Union[bool, NotGiven] = NOT_GIVEN,
        on_request: Union[RequestHook, NotGiven, None] = NOT_GIVEN,
        on_response: Union[ResponseHook, NotGiven, None] = NOT_GIVEN,
        on_retry: Union[RetryHook, NotGiven, None] = NOT_GIVEN,
        on_error: Union[ErrorHook, NotGiven, None] = NOT_GIVEN,
    ) -> Self:
        """A copy with some settings changed, sharing this client's connection pool.

        Each argument means what it means to the constructor; one not given keeps
        this client's setting. ``default_headers`` are merged into the current
        ones. Close the original client, not the copy.

        Args:
            api_key: Another key (``None``: ``TEXTFLOW_API_KEY``).
            base_url: Another URL (``None``: ``TEXTFLOW_BASE_URL``, else the hosted API).
            timeout: Seconds, an ``httpx.Timeout``, or ``None`` for no bound.
            max_retries: Re-sends allowed where re-sending is safe.
            default_headers: Extra headers, added to (or replacing) the current ones.
            proxy: Another proxy for the copy's requests (``None``: the environment's,
                if ``trust_env``), through the same connection pool.
            trust_env: Whether the copy reads proxies from the environment.
            on_request: Another ``on_request`` hook (``None``: none); likewise
                ``on_response``, ``on_retry`` and ``on_error``. A hook given here
                replaces the client's for the copy only.

        Raises:
            ConfigurationError: A setting the constructor would refuse.

        Examples:
            >>> impatient = client.with_options(timeout=5.0, max_retries=0)
        """
        headers = dict(self._default_headers)
        if not isinstance(default_headers, NotGiven):
            headers = _config.merge_headers(headers, default_headers)
        hooks = self._hooks.given()
        for name, hook in (
            ("on_request", on_request),
            ("on_response", on_response),
            ("on_retry", on_retry),
            ("on_error", on_error),
        ):
            if not isinstance(hook, NotGiven):
                hooks[name] = hook
        copy = type(self)(
            self._api_key if isinstance(api_key, NotGiven) else api_key,
            base_url=self.base_url if isinstance(base_url, NotGiven) else base_url,
            timeout=self._timeout_given if isinstance(timeout, NotGiven) else timeout,
            max_retries=self.max_retries if isinstance(max_retries, NotGiven) else max_retries,
            default_headers=headers,
            http_client=self._http,
            on_request=hooks.get("on_request"),
            on_response=hooks.get("on_response"),
            on_retry=hooks.get("on_retry"),
            on_error=hooks.get("on_error"),
        )
        if not self._sdk_pool:
            if not (isinstance(proxy, NotGiven) and isinstance(trust_env, NotGiven)):
                raise ConfigurationError(_PROXY_ON_OWN_CLIENT)
            return copy
        copy._sdk_pool = True
        copy._transport = self._transport
        copy._proxy_given = self._proxy_given if isinstance(proxy, NotGiven) else proxy
        copy._trust_env = self._trust_env if isinstance(trust_env, NotGiven) else trust_env
        copy._proxy = proxies.route(copy.base_url, copy._proxy_given, copy._trust_env)
        return copy

    def _build_request(
        self, op: Operation[Any], payload: Optional[dict[str, Any]]
    ) -> httpx.Request:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s %s for %s", op.name, op.method, op.path, recipients(payload))
        prepared = self._prepared.get(op.name)
        if prepared is None:
            prepared = self._prepared[op.name] = prepare(
                op, base_url=self.base_url, headers=self._headers, timeout=self.timeout
            )
            if self._proxy is not None:
                prepared.extensions[proxies.ROUTE] = self._proxy
        request = build_request(op, prepared, payload)
        cookies = self._http.cookies
        if cookies:  # what the server set comes back, as httpx.Client.build_request sends it
            cookies.set_cookie_header(request)
        return request

    def _attempts(
        self, op: Operation[ResultT], payload: Optional[dict[str, Any]] = None
    ) -> Attempts[ResultT]:
        return Attempts(op, self.max_retries, self._deadline, self.timeout, self._random, payload)

    def _direct(self, response: httpx.Response, request: httpx.Request) -> None:
        """An answer of the SDK's own transport, as ``httpx.Client.send`` would hand it over.

        The client sends through its own transport without ``httpx.Client.send``: it asks
        for no redirects, no auth and no event hooks, so what that adds per call (a third
        of the CPU of a send in a fan-out) is only the request on the response and the
        cookie jar, done here; the jar is read only when the answer sets a cookie.
        """
        response.request = request
        if sets_cookie(response.headers):
            self._http.cookies.extract_cookies(response)

    def _check_open(self) -> None:
        if self._http.is_closed:
            raise ClientStateError(
                f"This client is closed: {type(self).__name__} cannot send after close(); "
                "make a new one (one client per application, closed when it ends)."
            )


class Attempts(Generic[ResultT]):
    """The retry loop's bookkeeping for one call; the clients only send and sleep.

    After each attempt the client asks what next: a delay to sleep before
    sending the same request again, or the end (a result, or an exception).
    ``rand`` is the backoff's jitter source, as `textflow._retry.backoff` takes it.
    """

    __slots__ = (
        "_max_retries",
        "_op",
        "_payload",
        "_rand",
        "_retries",
        "_started",
        "_timeouts",
        "deadline",
        "reason",
    )

    def __init__(
        self,
        op: Operation[ResultT],
        max_retries: int,
        deadline: Optional[float] = None,
        timeout: httpx.Timeout = _config.DEFAULT_TIMEOUT,
        rand: Callable[[], float] = random.random,
        payload: Optional[dict[str, Any]] = None,
    ) -> None:
        self._op = op
        self._payload = payload  # what is sent, for the answer-match check (`parse_response`)
        self._rand = rand
        self._max_retries = max_retries
        self._retries = 0
        #: Why the last retry was decided (``"HTTP 429"``, ``"ConnectError"``), for the hooks.
        self.reason = ""
        self._started = time.monotonic()
        self._timeouts = timeout.as_dict()
        #: The ``time.monotonic()`` by which the call must end, or ``None``.
        self.deadline = None if deadline is None else self._started + deadline

    def remaining(self) -> Optional[float]:
        """Seconds left before the deadline (``None``: no deadline)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def arm(self, request: httpx.Request) -> None:
        """Cut each phase's timeout of the next attempt to the time left."""
        POINT.set(None)  # unknown, until a transport of the SDK's reports (textflow._http.sent)
        left = self.remaining()
        if left is None:
            return
        if left <= 0:
            raise httpx.PoolTimeout(DEADLINE_PASSED, request=request)
        timeouts = {}
        for phase, value in self._timeouts.items():  # (a loop without min(): 5 calls fewer)
            timeouts[phase] = left if value is None or value > left else value
        pool = self._timeouts["pool"]
        request.extensions = {
            **request.extensions,
            CALL_DEADLINE: self.deadline,
            QUEUE_TIMEOUT: pool if pool is not None and pool < left else None,
            "timeout": timeouts,
        }

    def check_deadline(self, request: httpx.Request) -> None:
        """While an answer trickles in: raises a read timeout once the deadline passes."""
        left = self.remaining()
        if left is not None and left <= 0:
            raise httpx.ReadTimeout(DEADLINE_PASSED, request=request)

    def deadline_error(self, request: httpx.Request) -> Exception:
        """The exception for a call that the deadline cut (async: the cancel scope).

        Not sent only when the SDK's own transport reported where it was, before writing.
        """
        point = cut_point()
        cut: httpx.TimeoutException = (
            httpx.ReadTimeout(DEADLINE_PASSED, request=request)
            if may_have_been_sent(point, read_only=False)
            else httpx.PoolTimeout(DEADLINE_PASSED, request=request)
        )
        return connection_error(self._op, cut, point)

    def after_error(self, exc: httpx.RequestError) -> float:
        """The delay before re-sending, or raises the SDK's exception for ``exc``."""
        if isinstance(exc, httpx.DecodingError):  # an answer came, but unreadable
            raise undecodable(self._op, exc) from exc
        delay = self._next_delay(exc=exc)
        if delay is None:
            raise connection_error(self._op, exc, POINT.get()) from exc
        return self._retrying(delay, type(exc).__name__)

    def after_response(self, response: httpx.Response) -> Optional[float]:
        """The delay before re-sending, or ``None``: ``result(response)`` is the answer."""
        if response.status_code < FIRST_RETRIED_STATUS:  # most answers: no look further
            return None
        delay = self._next_delay(response=response)
        if delay is None:
            return None
        return self._retrying(delay, f"HTTP {response.status_code}")

    def _next_delay(
        self,
        *,
        exc: Optional[httpx.RequestError] = None,
        response: Optional[httpx.Response] = None,
    ) -> Optional[float]:
        delay = next_delay(
            read_only=self._op.read_only,
            retries_done=self._retries,
            max_retries=self._max_retries,
            exc=exc,
            response=response,
            rand=self._rand,
            point=None if exc is None else POINT.get(),
        )
        left = self.remaining()
        if delay is not None and left is not None and delay >= left:
            return None  # no retry starts after the deadline
        return delay

    def result(self, response: httpx.Response, content: bytes) -> ResultT:
        """The answer (``content``: its body, read) as the operation's model, or raises
        the API's error."""
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s -> HTTP %d in %.0f ms",
                self._op.name,
                response.status_code,
                (time.monotonic() - self._started) * 1000,
            )
        connection = take_connection(response.extensions)
        try:
            return parse_response(self._op, response, content, self._payload)
        except MalformedResponseError:
            never_reuse(connection)  # out of step, maybe: its next answer is suspect
            raise

    def _retrying(self, delay: float, why: str) -> float:
        self._retries += 1
        self.reason = why
        logger.info(
            "%s: retry %d of %d in %.2f s after %s",
            self._op.name,
            self._retries,
            self._max_retries,
            delay,
            why,
        )
        return delay
