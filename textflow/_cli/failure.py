"""What the command says when it fails: the exit status, the line on stderr, the JSON.

Every failure is one `Failure`. On stderr it is one line, ``textflow: error:
...``; with ``--json`` it is also one JSON object on stdout, the same shape for
every kind, so that a script can read ``.error.type`` and
``.error.may_have_been_sent`` whatever went wrong::

    {"ok": false,
     "error": {"type": "refused", "message": "...", "status_code": 400,
               "may_have_been_sent": false, "exception": "BadRequestError",
               "exit_status": 1},
     "answer": {"ok": false, "status": 400, "message": "Phone number is invalid"}}

``answer`` is the API's JSON answer when there was one, else ``null``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from textflow._cli.exit_status import EXIT_BUG, EXIT_NO_ANSWER, EXIT_REFUSED, EXIT_USAGE
from textflow._cli.output import printable_json
from textflow.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    MalformedResponseError,
    RateLimitError,
    TextFlowError,
)

#: ``error.type``: what happened. The exit status follows from it and from
#: ``may_have_been_sent`` (see `of_api_error`).
BAD_INPUT = "bad_input"  # exit 2: bad usage, input or settings; nothing was sent
REFUSED = "refused"  # exit 1: the API answered no (4xx)
SERVER_ERROR = "server_error"  # exit 3 for a send (it may have gone out), else 1
CONNECTION = "connection"  # exit 3: no answer (connection failed or broke)
TIMEOUT = "timeout"  # exit 3: no answer in time
MALFORMED_ANSWER = "malformed_answer"  # exit 3: an answer that is not the API's JSON
OTHER = "error"  # exit 1: a TextFlowError of another kind
INTERNAL = "internal"  # exit 70: a bug in textflow


@dataclass(frozen=True)
class Failure:
    """One failure of a command, ready to be reported."""

    exit_status: int
    type: str
    message: str
    status_code: Optional[int] = None
    may_have_been_sent: bool = False
    exception: Optional[str] = None
    answer: Any = None

    def as_json(self) -> str:
        """The failure as one line of JSON, safe to print (see `printable_json`)."""
        error = {
            "type": self.type,
            "message": self.message,
            "status_code": self.status_code,
            "may_have_been_sent": self.may_have_been_sent,
            "exception": self.exception,
            "exit_status": self.exit_status,
        }
        body = {"ok": False, "error": error, "answer": self.answer}
        return printable_json(json.dumps(body, separators=(",", ":"), ensure_ascii=False))


def bad_input(message: str, exc: Optional[BaseException] = None) -> Failure:
    """A usage or input error (exit status 2): nothing was sent."""
    return Failure(EXIT_USAGE, BAD_INPUT, message, exception=_name(exc))


def internal(exc: BaseException) -> Failure:
    """A bug in textflow (exit status 70)."""
    message = (
        f"internal error ({type(exc).__name__}: {exc}); this is a bug in textflow, "
        "run with -vv for the traceback"
    )
    return Failure(EXIT_BUG, INTERNAL, message, exception=_name(exc))


def of_error(exc: TextFlowError) -> Failure:
    """Any other `TextFlowError` of the API's side: exit status 1, or what `of_api_error` says."""
    if isinstance(exc, APIError):
        return of_api_error(exc)
    return Failure(EXIT_REFUSED, OTHER, str(exc), exception=_name(exc))


def of_api_error(exc: APIError) -> Failure:
    """What went wrong on the wire. ``exc.may_have_been_sent`` alone says whether a send
    may have gone out: then the exit status is 3, whatever the kind (a 5xx included)."""
    maybe = exc.may_have_been_sent
    common: dict[str, Any] = {
        "status_code": exc.status_code,
        "may_have_been_sent": maybe,
        "exception": _name(exc),
    }
    if isinstance(exc, APIStatusError):
        answer = exc.body if isinstance(exc.body, dict) else None
        kind = SERVER_ERROR if exc.status >= 500 else REFUSED
        line = _refusal(exc)
        if maybe:
            line = f"{line.rstrip('.')}. It may have been sent (it was not sent again): check "
            line += "before sending it again."
        status = EXIT_NO_ANSWER if maybe else EXIT_REFUSED
        return Failure(status, kind, line, answer=answer, **common)
    if isinstance(exc, APITimeoutError):
        kind = TIMEOUT
    elif isinstance(exc, APIConnectionError):
        kind = CONNECTION
    elif isinstance(exc, MalformedResponseError):
        kind = MALFORMED_ANSWER
    else:  # an APIError of a kind added later
        kind = OTHER
    return Failure(EXIT_NO_ANSWER, kind, f"no usable answer from TextFlow: {exc}", **common)


def _refusal(exc: APIStatusError) -> str:
    said = isinstance(exc.body, dict) and isinstance(exc.body.get("message"), str)
    auth = isinstance(exc, AuthenticationError)
    detail = exc.message if said or not auth else "the API key was not accepted"
    if exc.status >= 500:
        line = f"TextFlow failed on its side (status {exc.status}): {detail}"
    else:
        line = f"TextFlow refused (status {exc.status}): {detail}"
    if auth:
        line += " (check --api-key or TEXTFLOW_API_KEY)"
    elif isinstance(exc, RateLimitError) and exc.retry_after is not None:
        line += f" (retry after {exc.retry_after:g} s)"
    return line


def _name(exc: Optional[BaseException]) -> Optional[str]:
    return None if exc is None else type(exc).__name__
