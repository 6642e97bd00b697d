"""The client tests cover every operation of the table, at the path the wire reference gives.

``CALLS`` and ``OK_BODIES`` (tests/core/core_support.py) are the tests' own
statement of the wire: valid arguments, the path and an answer per operation.
An operation added to the table without them fails here, so that the
parametrised client tests (results, errors, retries) run it too.
"""

from __future__ import annotations

from textflow import TextFlowClient
from textflow._operations import OPERATIONS

from tests.core.core_support import CALLS, OK_BODIES, SENDS


def test_the_call_tables_cover_every_operation_and_nothing_else() -> None:
    assert sorted(CALLS) == sorted(OPERATIONS)
    assert sorted(OK_BODIES) == sorted(OPERATIONS)
    assert sorted(SENDS) == sorted(name for name, op in OPERATIONS.items() if not op.read_only)


def test_each_operation_is_at_the_path_the_tests_expect_and_is_a_client_method() -> None:
    for name, op in OPERATIONS.items():
        assert op.path == CALLS[name][0]
        assert callable(getattr(TextFlowClient, name))
