"""An operation on the wire: its ``httpx.Request``, and its answer as a model or an exception.

``build_request`` turns an operation (from `textflow._operations`) and its
checked payload into an ``httpx.Request``; ``parse_response`` turns the
``httpx.Response`` into the operation's result model or raises the matching
exception; ``connection_error`` and ``undecodable`` turn transport failures
into the SDK's exceptions. No I/O. Both clients and the legacy functions go
through here, so they cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, TypeVar, Union

import httpx

from textflow import errors
from textflow._http.body import readable
from textflow._http.sent import Point, may_have_been_sent, point_of
from textflow._operations import SEND_SMS, VERIFY_CODE, Operation
from textflow._redact import key_of, mask_phone, printable, scrubbed, secrets_of
from textflow._retry import parse_retry_after
from textflow._validation import without_separators

if TYPE_CHECKING:  # pydantic and the models load with the first answer (`Operation.model`)
    import pydantic

    from textflow.models import Result

ResultT = TypeVar("ResultT", bound="Result")

_JSON_HEADERS = {"Content-Type": "application/json"}
_STATUS_ERRORS: dict[int, type[errors.APIStatusError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    429: errors.RateLimitError,
}


@dataclass(frozen=True)
class Prepared:
    """What every request of one operation on one client shares, computed once per client."""

    url: httpx.URL
    headers: httpx.Headers
    extensions: dict[str, Any]


def prepare(
    op: Operation[Any], *, base_url: httpx.URL, headers: httpx.Headers, timeout: httpx.Timeout
) -> Prepared:
    """The URL, headers and timeout of ``op``'s requests on a client with these settings.

    The headers start with ``Host``, as httpx orders them, so that `build_request` only
    adds the body's length.
    """
    url = base_url.copy_with(path=base_url.path.rstrip("/") + op.path)
    if "Host" not in headers:
        headers = httpx.Headers([(b"Host", url.netloc), *headers.raw])
    if op.method != "GET":
        headers = httpx.Headers(headers)
        headers.update(_JSON_HEADERS)
    return Prepared(
        # rstrip: a base URL without a path has the path "/" ("https://textflow.me").
        url=url,
        headers=headers,
        extensions={"timeout": timeout.as_dict()},
    )


def build_request(
    op: Operation[Any], prepared: Prepared, payload: Optional[dict[str, Any]]
) -> httpx.Request:
    """The request for ``op``, its payload as compact JSON.

    Built as ``httpx.Request(content=...)`` would build it, from the headers prepared
    once (`prepare`): only the body and its ``Content-Length`` are new per call. (httpx
    would work out the same headers again for every request.)
    """
    content = b""
    if payload is not None:
        content = _ENCODER.encode(payload).encode()
    request = httpx.Request(
        op.method,
        prepared.url,
        headers=prepared.headers,  # copied by httpx.Request
        stream=httpx.ByteStream(content),
        extensions=prepared.extensions,
    )
    if op.method != "GET":
        request.headers["Content-Length"] = str(len(content))
    request.read()  # its content is readable, as with content=
    return request


#: ``json.dumps(payload, separators=(",", ":"), ensure_ascii=False)``, made once.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _decode(content: bytes) -> Any:
    try:
        if content[:1] == b"{" and content[1:2] != b"\x00":  # UTF-8, as json.loads would tell
            return json.loads(content.decode("utf-8", "surrogatepass"))
        return json.loads(content)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested absurdly deep
        return None


def parse_response(
    op: Operation[ResultT],
    response: httpx.Response,
    content: Optional[bytes] = None,
    payload: Optional[dict[str, Any]] = None,
) -> ResultT:
    """The answer as ``op.model``; or the exception for an error or a malformed answer.

    ``content`` is the answer's body, read and decoded (default: ``response.content``);
    ``response`` may be the streamed answer, whose own body is gone: an exception gets a
    readable one (`body.readable`). ``payload`` is what was sent, for the answer-match
    check of ``send_sms`` (default: read from the response's request).

    The body's ``ok`` decides first: ``verify_code`` answered ``{"ok": true,
    "valid": false, "status": 400}`` is a wrong code, not an error.
    """
    if content is None:
        content = response.content
    body = _decode(content)
    if isinstance(body, dict) and body.get("ok") is True:
        model = op.model  # imports the models, hence pydantic, on the first answer
        try:
            result = model.model_validate(body)
        except Exception as exc:
            from pydantic import ValidationError  # here: an import costs every answer 3 calls

            if not isinstance(exc, ValidationError):
                raise
            raise errors.MalformedResponseError(
                f"TextFlow's answer to {op.name} (HTTP {response.status_code}) does not have "
                f"the fields the API promises: {_field_problems(exc)}.",
                response=readable(response, content),
                may_have_been_sent=op.may_have_been_sent(written=True),
            ) from None
        if op is SEND_SMS:
            _check_recipient(response, content, body, payload)
        return result
    response = readable(response, content)
    if response.is_success and not (isinstance(body, dict) and body.get("ok") is False):
        raise errors.MalformedResponseError(
            f"TextFlow's answer to {op.name} (HTTP {response.status_code}) is not the JSON "
            "object the API promises.",
            response=response,
            may_have_been_sent=op.may_have_been_sent(written=True),
        )
    raise status_error(op, response, body if isinstance(body, dict) else None)


def _check_recipient(
    response: httpx.Response,
    content: bytes,
    body: dict[str, Any],
    payload: Optional[dict[str, Any]],
) -> None:
    """A ``send_sms`` answer must be about the number we sent to (``data.to``, normalised):
    another one is an answer to another request (a connection out of step, a proxy
    mixing answers up), and this send's fate is unknown.

    ``data.content`` is not compared: TextFlow's documented answer shows a placeholder
    ("Dummy message text...") rather than the text sent, so comparing it would call
    real sends malformed.
    """
    data = body.get("data")
    sent = _sent_to(response) if payload is None else payload.get("phone_number")
    if not isinstance(sent, str) or not isinstance(data, dict):
        return  # nothing to compare with
    to = data.get("to")
    if to == sent or (isinstance(to, str) and _digits(to) == _digits(sent)):
        return
    shown = mask_phone(to) if isinstance(to, str) and to else "no number"
    raise errors.MalformedResponseError(
        f"TextFlow's answer to send_sms is about {shown}, not the number this call sent "
        f"to ({mask_phone(sent)}): it answers another request. The SMS may have been "
        "sent; it was not re-sent, so that nothing is sent twice.",
        response=readable(response, content),
        may_have_been_sent=True,
    )


def _sent_to(response: httpx.Response) -> Any:
    """The number in the request of ``response``, if it is one the SDK built, else ``None``."""
    request = _request_or_none(response)
    if request is None:
        return None
    try:
        return json.loads(request.content)["phone_number"]
    except (ValueError, KeyError, TypeError, httpx.RequestNotRead):
        return None


def _digits(number: str) -> str:
    """A number without separators (those the SDK takes from a number it is given) and
    its international prefix (``+`` or ``00``)."""
    digits = without_separators(number)
    return digits[1:] if digits[:1] == "+" else digits[2:] if digits[:2] == "00" else digits


def _field_problems(exc: pydantic.ValidationError) -> str:
    return printable(  # the places are the server's keys (a ``packages`` name, say)
        "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
    )


def status_error(
    op: Operation[Any], response: httpx.Response, body: Optional[dict[str, Any]]
) -> errors.APIStatusError:
    """The exception for an answer that says no."""
    request = _request_or_none(response)
    if body is not None:
        body = scrubbed(body, key_of(request))  # an echoed key must not reach exc.result
    status = response.status_code
    claimed = body.get("status") if body is not None else None
    if isinstance(claimed, int) and not isinstance(claimed, bool) and 400 <= claimed < 600:
        status = claimed
    elif response.is_success:  # "ok": false on a 2xx answer without an error status
        status = 400
    message = body.get("message") if body is not None else None
    if not isinstance(message, str) or not message:
        message = f"{op.name} failed with HTTP {response.status_code}"
    cls = _STATUS_ERRORS.get(status)
    if cls is None:
        cls = errors.InternalServerError if status >= 500 else errors.APIStatusError
    if status == 401 or (status < 500 and status != 429 and is_about_the_key(message)):
        cls = errors.AuthenticationError
    if response.status_code == 404:
        message += _api_path_hint(op, request)
    if response.is_redirect:
        message += (
            f" (a redirect to {response.headers.get('Location', 'nowhere')!r}, not followed "
            "so that the key goes nowhere else: check base_url)"
        )
    # printable: it reaches str(exc), which callers print and log
    message = printable(scrubbed(message, secrets_of(request)))
    result = error_result(op, status, message, body)
    # A 5xx may come after the work was done (or from a proxy in front of it); a 4xx,
    # 3xx or 2xx with "ok": false says it was not.
    processed = status >= 500 or response.status_code >= 500
    fields: dict[str, Any] = {
        "response": response,
        "status": status,
        "body": body,
        "result": result,
        "may_have_been_sent": op.may_have_been_sent(written=True, processed=processed),
    }
    if cls is errors.RateLimitError:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return errors.RateLimitError(message, retry_after=retry_after, **fields)
    return cls(message, **fields)


def _api_path_hint(op: Operation[Any], request: Optional[httpx.Request]) -> str:
    """For a 404 from a base URL without ``/api`` (``https://textflow.me``): where the API is."""
    if request is None or not request.url.path.endswith(op.path):
        return ""
    base_path = request.url.path[: -len(op.path)].rstrip("/")
    if base_path.endswith("/api"):
        return ""
    base = request.url.copy_with(path=base_path or "/", query=None, fragment=None)
    suggested = str(base).rstrip("/") + "/api"
    return f" (did you mean base_url={suggested!r}? TextFlow's API is under /api)"


#: What TextFlow answers (400 or 404) for a key it does not know; see the wire reference.
KEY_MESSAGES = ("Invalid API key", "Invalid API key or user id.", "API key not found")


def is_about_the_key(message: str) -> bool:
    """Whether an error message is about the API key: one of `KEY_MESSAGES`, or one
    that names the API key (the wire reference says the wording differs between pages)."""
    return message.strip() in KEY_MESSAGES or "api key" in message.lower()


def error_result(
    op: Operation[Any], status: int, message: str, body: Optional[dict[str, Any]] = None
) -> Optional[Result]:
    """``op.failed_model`` (``ok=False``), keeping what the body says; ``None`` if it cannot fit."""
    fields: dict[str, Any] = dict(body or {})
    fields.update(ok=False, status=status, message=message)
    if op is VERIFY_CODE:
        fields["valid"] = False
    model = op.failed_model  # imports the models, hence pydantic
    from pydantic import ValidationError

    try:
        return model.model_validate(fields)
    except ValidationError:
        return None


def _request_or_none(source: Union[httpx.Response, httpx.RequestError]) -> Optional[httpx.Request]:
    try:
        return source.request
    except RuntimeError:  # built by hand, without its request
        return None


def connection_error(
    op: Operation[Any], exc: httpx.RequestError, point: Optional[Point] = None
) -> errors.APIConnectionError:
    """The SDK's exception for a transport failure, saying whether a send may have gone out.

    ``point``: how far the attempt got, as the SDK's transport reported it (else read
    from the exception's type); `textflow._http.sent` decides from it.
    """
    written = may_have_been_sent(point_of(exc, point), read_only=False)
    if not written:
        fate = "The request was not sent."
    elif op.read_only:
        fate = "Nothing was changed."
    else:
        fate = (
            "The request may have reached TextFlow and been processed; it was not re-sent, "
            "so that nothing is sent twice."
        )
    cls = (
        errors.APITimeoutError
        if isinstance(exc, httpx.TimeoutException)
        else errors.APIConnectionError
    )
    what = "timed out" if cls is errors.APITimeoutError else "failed"
    request = _request_or_none(exc)
    reason = scrubbed(str(exc), secrets_of(request)) or _IN_WORDS.get(
        type(exc), "no reason was given"
    )
    return cls(
        f"{op.name} {what} ({type(exc).__name__}: {reason}). {fate}",
        request=request,
        may_have_been_sent=op.may_have_been_sent(written=written),
    )


# What happened, for the transport failures httpx may raise without any text.
_IN_WORDS: dict[type[httpx.RequestError], str] = {
    httpx.ReadError: "the connection broke while waiting for the answer",
    httpx.WriteError: "the connection broke while the request was being written",
    httpx.RemoteProtocolError: "the connection was closed before a whole answer came",
    httpx.ConnectError: "no connection could be made",
    httpx.ReadTimeout: "no answer came in time",
    httpx.WriteTimeout: "the request could not be written in time",
    httpx.ConnectTimeout: "no connection could be made in time",
    httpx.PoolTimeout: "no connection became free in time",
}


def undecodable(op: Operation[Any], exc: httpx.DecodingError) -> errors.MalformedResponseError:
    """The SDK's exception for an answer whose body could not be decoded (a bad gzip, say)."""
    reason = scrubbed(str(exc), secrets_of(_request_or_none(exc)))
    return errors.MalformedResponseError(
        f"TextFlow's answer to {op.name} could not be decoded ({reason}); for a send, the "
        "request may have been processed and was not re-sent.",
        response=None,
        request=_request_or_none(exc),
        may_have_been_sent=op.may_have_been_sent(written=True),
    )
