"""The fake is derived from the operation table: every operation is routed and handled.

``textflow._operations.OPERATIONS`` is the one list of the API's operations; the
fake serves each at its method and path and has one handler per operation name.
An operation added to the table without a handler (or a handler left without an
operation) fails here.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from textflow._operations import OPERATIONS, Operation
from textflow.testing import FakeTextFlow
from textflow.testing._answers import ANSWERS
from textflow.testing._fake import IN_PROCESS_BASE_URL

OPS = list(OPERATIONS.values())


def test_every_operation_has_one_handler_and_every_handler_an_operation() -> None:
    assert sorted(ANSWERS) == sorted(OPERATIONS)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_the_fake_answers_each_operation_at_its_method_and_path(op: Operation[Any]) -> None:
    fake = FakeTextFlow()
    with httpx.Client(transport=fake.transport()) as http:
        answer = http.request(op.method, IN_PROCESS_BASE_URL + op.path, json=None)
        other = "GET" if op.method != "GET" else "POST"
        refused = http.request(other, IN_PROCESS_BASE_URL + op.path)
    # No key: the operation's own refusal, not the router's 404 or 405.
    assert answer.status_code in (400, 401)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == op.method


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_each_operation_can_be_failed_by_name(op: Operation[Any]) -> None:
    fake = FakeTextFlow()
    fake.fail_next(op.name, status=418)
    with httpx.Client(transport=fake.transport()) as http:
        answer = http.request(op.method, IN_PROCESS_BASE_URL + op.path)
    assert answer.status_code == 418


def test_an_operation_not_in_the_table_cannot_be_failed() -> None:
    with pytest.raises(ValueError, match="Unknown operation 'send_fax'"):
        FakeTextFlow().fail_next("send_fax")
