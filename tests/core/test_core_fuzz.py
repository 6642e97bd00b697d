"""Bounded property tests: whatever the server answers, a client gets a model or a TextFlowError.

Hypothesis runs a fixed number of examples (no deadline: this machine is shared),
with no network: responses are built in memory and parsed by the shared parser.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import textflow
from textflow import _operations, _redact, _validation, _wire

BOUNDED = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
# Bodies that look like the API's, with every field possibly missing or of the wrong type.
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "ok": st.booleans() | json_values,
        "status": st.sampled_from([200, 400, 401, 404, 429, 500]) | json_values,
        "message": st.text(max_size=30) | json_values,
        "data": json_values,
        "valid": st.booleans() | json_values,
        "credits": st.decimals(allow_nan=False, allow_infinity=False).map(str) | json_values,
        "packages": st.dictionaries(st.text(max_size=5), st.integers()) | json_values,
    },
)
statuses = st.sampled_from([200, 201, 204, 301, 302, 400, 401, 403, 404, 408, 409, 429, 500, 503])


def _response(status: int, content: bytes) -> httpx.Response:
    request = httpx.Request(
        "POST", "https://textflow.me/api/x", headers={"Authorization": "Bearer k"}
    )
    return httpx.Response(status, content=content, request=request)


def _outcome(op: Any, response: httpx.Response) -> object:
    """The parsed model, or the TextFlowError raised; anything else propagates and fails."""
    try:
        return _wire.parse_response(op, response)
    except textflow.TextFlowError as exc:
        return exc


@pytest.mark.parametrize("op", list(_operations.OPERATIONS.values()), ids=lambda op: op.name)
@BOUNDED
@given(status=statuses, body=envelopes | json_values)
def test_any_json_answer_gives_a_model_or_a_textflow_error(op: Any, status: int, body: Any) -> None:
    outcome = _outcome(op, _response(status, json.dumps(body).encode()))
    if isinstance(outcome, textflow.APIStatusError):
        assert outcome.status_code == status
        assert isinstance(outcome.status, int)
        assert outcome.status >= 300
    elif isinstance(outcome, textflow.MalformedResponseError):
        assert outcome.status_code == status
    else:
        assert isinstance(outcome, op.model)
        assert outcome.ok is True
        json.loads(str(outcome))  # str() is JSON for anything the parser accepted


@pytest.mark.parametrize("op", list(_operations.OPERATIONS.values()), ids=lambda op: op.name)
@BOUNDED
@given(status=statuses, content=st.binary(max_size=64))
def test_any_bytes_give_a_model_or_a_textflow_error(op: Any, status: int, content: Any) -> None:
    outcome = _outcome(op, _response(status, content))
    assert isinstance(outcome, (op.model, textflow.TextFlowError))


@BOUNDED
@given(st.text(alphabet="+0123456789 -.()x", max_size=25))
def test_phone_check_accepts_exactly_e164_after_separators(value: Any) -> None:
    stripped = "".join(c for c in value if c not in " -.()")
    valid = (
        stripped.startswith("+")
        and stripped[1:].isdigit()
        and 7 <= len(stripped) - 1 <= 15
        and stripped[1] != "0"
    )
    if valid:
        assert _validation.phone_number(value) == stripped
    else:
        with pytest.raises(textflow.InputValidationError):
            _validation.phone_number(value)


@BOUNDED
@given(st.text(alphabet="+0123456789", min_size=8, max_size=16))
def test_masked_phone_keeps_only_the_ends(phone: str) -> None:
    masked = _redact.mask_phone(phone)
    assert len(masked) == len(phone)
    shown = [i for i, c in enumerate(masked) if c != "*"]
    assert all(masked[i] == phone[i] for i in shown)
    assert len(phone) - len(shown) >= 5  # at least five characters hidden
    assert all(i < 5 or i >= len(phone) - 2 for i in shown)  # only the ends shown


settings_values = st.none() | st.text(max_size=30) | json_values | st.binary(max_size=10)


@pytest.mark.parametrize("cls", [textflow.TextFlowClient, textflow.AsyncTextFlowClient])
@BOUNDED
@given(base_url=settings_values, headers=settings_values)
def test_any_base_url_or_headers_give_a_client_or_a_configuration_error(
    cls: Any, base_url: Any, headers: Any
) -> None:
    client = cls("tf_key", base_url="http://127.0.0.1:1/api")
    with contextlib.suppress(textflow.ConfigurationError):
        cls("tf_key", base_url=base_url, default_headers=headers)
    with contextlib.suppress(textflow.ConfigurationError):
        client.with_options(base_url=base_url, default_headers=headers)
