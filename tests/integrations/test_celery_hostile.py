"""The Celery helpers on hostile input: a CSV that is not what it says, chunks repeated.

No worker processes here: the chunk function runs in the test against the fake,
as a worker would run it (tests/many/test_celery_campaigns.py runs real workers).
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from textflow import InputValidationError
from textflow.integrations.celery import Recipient, send_chunk, split_campaign
from textflow.testing import FakeTextFlow

from tests.many.many_support import CREDITS, numbers
from tests.many.stores_support import RedisServer, campaign


def test_a_csv_with_a_row_that_is_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    # a bare UnicodeDecodeError escaped, after the chunks before it were queued
    path = tmp_path / "contacts.csv"
    rows = [f"{number},Ann\n".encode() for number in numbers(5)]
    rows[3] = b"+12025550003,Ren\xe9e\n"  # Latin-1, not UTF-8
    path.write_bytes(b"phone_number,name\n" + b"".join(rows))
    with pytest.raises(InputValidationError, match="UTF-8") as caught:
        list(split_campaign(path, chunk_size=2))
    assert "contacts.csv" in str(caught.value)


def test_the_same_chunk_twice_and_a_chunk_with_a_number_twice_send_each_once(
    journal_redis: RedisServer,
) -> None:
    fake = FakeTextFlow(credits=CREDITS)
    url = f"{journal_redis.url}?campaign={campaign()}"
    chunk: list[Recipient] = [*numbers(4), numbers(1)[0], {"phone_number": numbers(2)[1]}]
    with fake.client() as client:
        first = send_chunk(chunk, "Hi", journal=url, client=client, concurrency=4)
        again = send_chunk(chunk, "Hi", journal=url, client=client, concurrency=4)
    delivered = collections.Counter(m.phone_number for m in fake.messages)
    assert delivered == collections.Counter(numbers(4))
    assert (first["sent"], first["skipped"]) == (4, 2)
    assert (again["sent"], again["skipped"]) == (0, 6)
