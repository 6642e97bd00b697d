"""``textflow send-many --journal URL`` on a shared journal, and ``textflow campaign status``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from tests.cli.cli_support import Result, Server
from tests.many.stores_support import PostgresServer, RedisServer, campaign

Run = Callable[..., Result]


def _numbers(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "numbers.txt"
    path.write_text("".join(f"+1202555{i:04d}\n" for i in range(count)), encoding="utf-8")
    return path


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_send_many_on_a_shared_journal_resumes_and_status_counts_it(
    store: str, tmp_path: Path, cli: Run, server: Server, request: pytest.FixtureRequest
) -> None:
    if store == "redis":
        redis: RedisServer = request.getfixturevalue("journal_redis")
        journal = f"{redis.url}?campaign={campaign()}"
    else:
        postgres: PostgresServer = request.getfixturevalue("journal_postgres")
        journal = f"{postgres.url()}?campaign={campaign()}"
    path = _numbers(tmp_path, 4)
    argv = ["send-many", "--file", str(path), "--text", "Hi", "--journal", journal]
    first = cli(*argv, *server.options)
    assert first.status == 0, first.err
    again = cli(*argv, *server.options, "--json").json()
    assert isinstance(again, dict)
    assert again["skipped"] == 4
    assert len(server.fake.messages) == 4  # the rerun sent nobody again
    status = cli("campaign", "status", journal, "--json", "--total", "4")
    assert status.status == 0, status.err
    shown_json = status.json()
    assert isinstance(shown_json, dict)
    assert (shown_json["counts"], shown_json["done"]) == ({"sent": 4}, 4)
    shown = cli("campaign", "status", journal)
    assert "sent: 4" in shown.out


def test_status_of_a_journal_file_with_maybe_sent(tmp_path: Path, cli: Run, server: Server) -> None:
    path = _numbers(tmp_path, 3)
    server.fake.fail_next("send_sms", status=502)
    argv = ["send-many", "--file", str(path), "--text", "Hi", "--concurrency", "1"]
    assert cli(*argv, *server.options).status == 3
    result = cli("campaign", "status", f"{path}.journal.db")
    assert result.status == 0, result.err
    assert "sent: 2" in result.out
    assert "maybe sent: 1" in result.out
    assert "not sent again unless --resend-maybe-sent" in result.out


def test_status_of_no_journal_or_an_unreachable_one(tmp_path: Path, cli: Run) -> None:
    missing = cli("campaign", "status", str(tmp_path / "none.db"))
    assert missing.status == 2
    assert "no journal at" in missing.err
    down = cli("campaign", "status", "redis://user:hunter2@127.0.0.1:1/0?campaign=x")
    assert down.status != 0
    assert "cannot be used" in down.err
    assert "hunter2" not in down.err + down.out
    bad = cli("campaign", "status", "redis://127.0.0.1:1/0")
    assert bad.status == 2
    assert "campaign=NAME" in bad.err
