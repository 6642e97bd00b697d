"""``textflow send-many --journal URL`` on a shared journal, and ``textflow campaign status``."""

from __future__ import annotations

import re
import shlex
from decimal import Decimal
from pathlib import Path
from typing import Callable

import pytest

from textflow.testing import PRICE_PER_SEGMENT

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


def _journal_words(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> list[str]:
    if store == "file":
        return ["--journal", str(tmp_path / "spring.db")]
    if store == "redis":
        redis: RedisServer = request.getfixturevalue("journal_redis")
        return [f"--journal={redis.url}?campaign={campaign()}"]
    postgres: PostgresServer = request.getfixturevalue("journal_postgres")
    return ["--journal", f"{postgres.url()}?campaign={campaign()}"]


def _stopped_by_402(cli: Run, server: Server, argv: list[str]) -> list[str]:
    """Run until credits run out after three sends; the words of the hinted resume command."""
    server.fake.balance = 3 * PRICE_PER_SEGMENT
    stopped = cli(*argv, *server.options)
    assert stopped.status == 1, stopped.err
    assert "Sent 3, refused 1," in stopped.out
    match = re.search(r"Top up, then resume with: (.+)$", stopped.err, re.MULTILINE)
    assert match is not None, stopped.err
    words = shlex.split(match.group(1))
    assert words[0] == "textflow"
    assert words[-2:] == ["--api-key", "$TEXTFLOW_API_KEY"]
    return [*words[1:-1], server.fake.api_key]  # what the shell does with $TEXTFLOW_API_KEY


@pytest.mark.parametrize("store", ["file", "redis", "postgres"])
def test_the_hinted_resume_command_finishes_the_campaign_on_every_journal(
    store: str, tmp_path: Path, cli: Run, server: Server, request: pytest.FixtureRequest
) -> None:
    argv = ["send-many", "--file", str(_numbers(tmp_path, 8)), "--text", "Hi"]
    argv += ["--concurrency", "1", *_journal_words(store, tmp_path, request)]
    hinted = _stopped_by_402(cli, server, argv)
    if store == "redis":  # the campaign's instance is pinned in the command
        assert re.search(r"[?&]instance=[0-9a-f]{32}", " ".join(hinted))
    server.fake.balance = Decimal(100)
    resumed = cli(*hinted)
    assert resumed.status == 0, resumed.err
    assert "Sent 5, refused 0, maybe sent 0, skipped 3" in resumed.out
    delivered = [m.phone_number for m in server.fake.messages]
    assert sorted(delivered) == [f"+1202555{i:04d}" for i in range(8)]  # each once


def test_the_hinted_resume_command_stops_when_redis_lost_the_campaign(
    tmp_path: Path, cli: Run, server: Server, journal_redis: RedisServer
) -> None:
    # the hint lacked &instance=: on a Redis that lost its data (restarted without
    # persistence), the hinted command started the campaign again and sent twice
    import redis

    argv = ["send-many", "--file", str(_numbers(tmp_path, 8)), "--text", "Hi"]
    argv += ["--concurrency", "1", "--journal", f"{journal_redis.url}?campaign={campaign()}"]
    hinted = _stopped_by_402(cli, server, argv)
    with redis.Redis(port=journal_redis.port) as db:
        db.flushdb()
    server.fake.balance = Decimal(100)
    resumed = cli(*hinted)
    assert resumed.status != 0
    assert "lost the campaign" in resumed.err
    assert len(server.fake.messages) == 3  # nobody twice


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
