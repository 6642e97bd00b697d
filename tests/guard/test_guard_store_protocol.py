"""The store protocol (``decide``/``write``) on each store, and the three stores agreeing.

The Redis store runs the rules as a Lua port of ``textflow/guard/_checks.py``:
the agreement test drives one seeded random history of decisions and writes
through memory, SQLite and Redis on one fake clock and expects the same answers.
Times are multiples of 1/4 s so every sum is exact in binary and in JSON.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import textflow
from textflow.errors import GuardStoreError
from textflow.guard import GuardStore, MemoryStore, RedisStore, SQLiteStore, _memory, _sqlite
from textflow.guard._checks import (
    Backoff,
    Check,
    Conversion,
    Delete,
    Lift,
    Limit,
    Put,
    Settle,
    Spend,
    Verified,
    Write,
    commit,
    write,
)
from textflow.guard._store import Verdict

T0 = 1_700_000_000.0


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh sync store of each kind."""
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        sqlite_store = SQLiteStore(tmp_path / "guard.sqlite3")
        yield sqlite_store
        sqlite_store.close()
    else:
        import redis

        client = redis.Redis(port=request.getfixturevalue("redis_port"))
        yield RedisStore(client, prefix=f"unit:{uuid.uuid4().hex}:")
        client.close()


def _denials(verdict: Verdict) -> list[tuple[int, float]]:
    return [(d.index, d.retry_after) for d in verdict.denials]


def test_decide_is_all_or_nothing(store: Any) -> None:
    one, three = Limit("a", 1, 10.0), Limit("b", 3, 100.0)
    assert _denials(store.decide(T0, [one, three])) == []
    # "a" is full: "b" must not count this one
    assert _denials(store.decide(T0 + 1, [three, one])) == [(1, 9.0)]
    assert _denials(store.decide(T0 + 10, [one, three])) == []  # "a" aged out; "b" holds 2
    assert _denials(store.decide(T0 + 11, [three])) == []
    assert _denials(store.decide(T0 + 12, [three])) == [(0, 88.0)]
    store.write(T0 + 12, [Delete("b"), Delete("never-used")])
    assert _denials(store.decide(T0 + 12, [three])) == []
    assert _denials(store.decide(T0 + 12, [])) == []
    # monitor mode: counted although full, and still reported
    assert _denials(store.decide(T0 + 20, [one], always=True)) == []
    assert _denials(store.decide(T0 + 21, [one], always=True)) == [(0, 9.0)]
    assert _denials(store.decide(T0 + 22, [one])) == [(0, 9.0)]  # the monitored call counted


def test_decide_reads_a_record_in_the_same_step_and_it_expires(store: Any) -> None:
    store.write(T0, [Put("code:x", {"h": "ab", "s": "cd", "x": ""}, 60.0)])
    verdict = store.decide(T0 + 59, [Limit("attempts:x", 5, 600.0)], read="code:x")
    assert dict(verdict.record or {}) == {"h": "ab", "s": "cd", "x": ""}
    assert store.decide(T0 + 60, [], read="code:x").record is None  # on the guard's clock
    assert store.decide(T0, [], read="never-written").record is None


def test_a_refused_conversion_starts_its_suspension_and_lift_ends_it(store: Any) -> None:
    rule = Conversion("conv", min_sends=2, min_ratio=0.5, window=240.0, period=30.0)
    other = Limit("other", 100, 10.0)
    assert _denials(store.decide(T0, [rule, other])) == []
    assert _denials(store.decide(T0 + 1, [rule, other])) == []
    assert _denials(store.decide(T0 + 2, [rule, other])) == [(0, 30.0)]
    assert _denials(store.decide(T0 + 12, [rule])) == [(0, 20.0)]  # suspended until T0 + 32
    store.write(T0 + 12, [Lift("conv")])
    assert _denials(store.decide(T0 + 12, [rule])) == []
    store.write(T0 + 13, [Verified("conv", 240.0)])
    assert _denials(store.decide(T0 + 14, [rule])) == []  # 2 sent, 1 verified: 50 %


def test_spend_reserves_an_estimate_then_settles_the_price(store: Any) -> None:
    def spend(member: str, amount: int = 40) -> Spend:
        return Spend("spend", cap=100, window=60.0, amount=amount, member=member)

    assert _denials(store.decide(T0, [spend("m1")])) == []
    assert _denials(store.decide(T0 + 1, [spend("m2")])) == []
    assert _denials(store.decide(T0 + 2, [spend("m3")])) == [(0, 58.0)]  # 80 + 40 > 100
    store.write(T0 + 2, [Settle("spend", "m1", 10)])  # the real price was lower
    assert _denials(store.decide(T0 + 3, [spend("m3")])) == []  # 10 + 40 + 40
    assert _denials(store.decide(T0 + 4, [spend("big", 101)])) == [(0, 60.0)]


def test_codes_that_cost_nothing_leave_no_spend_entry(redis_port: int) -> None:
    """A spend window holds one entry per code for a day: a code settled at 0 (a free or
    test number) is dropped, in the Python stores' rule and in the Redis script alike."""
    spend = Spend("spend", cap=100, window=86_400.0, amount=40, member="m1")
    entries, expires = commit(T0, spend, None, False)
    assert write(T0 + 1, Settle("spend", "m1", 0), entries, expires) == ([], expires)
    assert write(T0 + 1, Settle("spend", "m2", 0), entries, expires) == (entries, expires)

    import redis

    client = redis.Redis(port=redis_port, decode_responses=True)
    prefix = f"free:{uuid.uuid4().hex}:"
    store = RedisStore(client, prefix=prefix)
    for member in ("m1", "m2"):
        store.decide(T0, [Spend("spend", 100, 86_400.0, 40, member)])
    store.write(T0 + 1, [Settle("spend", "m1", 0), Settle("spend", "m2", 25)])
    raw: Any = client.get(prefix + "spend")
    assert [entry[1:] for entry in json.loads(raw)["v"]] == [[25, "m2"]]
    assert _denials(store.decide(T0 + 2, [Spend("spend", 100, 86_400.0, 75, "m3")])) == []
    client.close()


def test_backoff_grows_and_is_forgotten_after_its_window(store: Any) -> None:
    backoff = Backoff("cool", base=30.0, factor=2.0, cap=100.0, window=1000.0)
    waits = []
    now = T0
    for _ in range(4):
        assert _denials(store.decide(now, [backoff])) == []
        denial = _denials(store.decide(now, [backoff]))
        waits.append(denial[0][1])
        now += denial[0][1]
    assert waits == [30.0, 60.0, 100.0, 100.0]
    assert _denials(store.decide(now + 1000, [backoff])) == []
    assert _denials(store.decide(now + 1000, [backoff])) == [(0, 30.0)]  # started over


def test_sweeps_drop_expired_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_memory, "_SWEEP_EVERY", 2)
    monkeypatch.setattr(_sqlite, "_SWEEP_EVERY", 2)
    memory, lite = MemoryStore(), SQLiteStore(tmp_path / "g.sqlite3")
    for one in (memory, lite):
        one.decide(0.0, [Limit("old", 1, 10.0)])
        one.decide(100.0, [Limit("new", 1, 10.0)])  # the second call sweeps
    assert repr(memory) == "MemoryStore(keys=1)"
    with contextlib.closing(sqlite3.connect(tmp_path / "g.sqlite3")) as db:
        rows = db.execute("SELECT key FROM textflow_guard_state").fetchall()
    assert [key for (key,) in rows] == ["new"]
    lite.close()


def test_sqlite_rolls_back_a_failed_transaction(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "g.sqlite3")
    with contextlib.closing(sqlite3.connect(tmp_path / "g.sqlite3")) as db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON textflow_guard_state WHEN NEW.key = 'broken'"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        db.commit()
    ok, broken = Limit("ok", 1, 10.0), Limit("broken", 1, 10.0)
    with pytest.raises(GuardStoreError) as caught:
        store.decide(0.0, [ok, broken])
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert _denials(store.decide(0.0, [ok])) == []  # "ok" was not counted
    with pytest.raises(GuardStoreError):
        store.write(1.0, [Put("rec", {"h": "x"}, 10.0), Put("broken", {}, 10.0)])
    assert store.decide(1.0, [], read="rec").record is None  # nothing of the write stayed
    store.close()
    store.close()
    assert _denials(store.decide(1.0, [ok])) == [(0, 9.0)]  # reopens after close
    store.close()


def test_redis_keys_have_the_prefix_and_expire(redis_port: int) -> None:
    import redis

    client = redis.Redis(port=redis_port)
    prefix = f"app1:{uuid.uuid4().hex}:"
    store = RedisStore(client, prefix=prefix)
    store.decide(0.0, [Limit("k", 2, 30.0)])
    assert client.keys(prefix + "*") == [(prefix + "k").encode()]
    # Any: redis < 8 (the last for Python 3.9) types a sync reply as "Awaitable | Any"
    pttl: Any = client.pttl(prefix + "k")
    assert 30_000 < pttl <= 90_000  # the window, and a minute for clocks that differ
    raw: Any = client.get(prefix + "k")
    assert json.loads(raw) == {"v": [0], "e": 30}
    client.close()
    decoding = redis.Redis(port=redis_port, decode_responses=True)  # str replies, not bytes
    store = RedisStore(decoding, prefix=f"app2:{uuid.uuid4().hex}:")
    assert _denials(store.decide(0.0, [Limit("k", 1, 30.0)])) == []
    assert _denials(store.decide(10.5, [Limit("k", 1, 30.0)])) == [(0, 19.5)]
    store.write(11.0, [Put("rec", {"h": "x"}, 5.0)])
    assert store.decide(12.0, [], read="rec").record == {"h": "x"}
    decoding.close()
    with pytest.raises(textflow.ConfigurationError):
        RedisStore(client, prefix=None)  # type: ignore[arg-type]


# --- the three stores agree ---------------------------------------------------------------

_CHECKS: dict[str, Check] = {
    "limit-a": Limit("a", 1, 5.0),
    "limit-b": Limit("b", 3, 20.0),
    "limit-c": Limit("c", 2, 7.5),
    "backoff": Backoff("bo", base=2.0, factor=2.0, cap=6.0, window=30.0),
    "conversion": Conversion("cv", min_sends=3, min_ratio=0.5, window=48.0, period=10.0),
}
_MEMBERS = ["m1", "m2", "m3", "m4"]
_WRITES: list[Write] = [
    Put("rec", {"h": "ab", "s": "01", "x": ""}, 12.0),
    Delete("rec"),
    Delete("a"),
    Delete("bo"),
    Verified("cv", 48.0),
    Verified("cv", 48.0),
    Lift("cv"),
    *[Settle("sp", member, amount) for member in _MEMBERS[:2] for amount in (0, 15, 70)],
]
_DECIDE = st.tuples(
    st.just("decide"),
    st.lists(st.sampled_from(sorted(_CHECKS)), max_size=4, unique=True),
    st.sampled_from(_MEMBERS),  # a spend check's reservation, or none
    st.booleans(),  # always (monitor mode)
    st.booleans(),  # read the record
)
_WRITE = st.tuples(st.just("write"), st.lists(st.integers(0, len(_WRITES) - 1), max_size=3))
# mostly forward; sometimes a clock steps back
_STEP = st.tuples(
    st.integers(-8, 40).map(lambda quarters: quarters / 4), st.one_of(_DECIDE, _WRITE)
)


def _spend(member: str) -> Spend:
    return Spend("sp", cap=100, window=15.0, amount=30, member=member)


def _answer(verdict: Verdict) -> tuple[list[tuple[int, float]], object]:
    return _denials(verdict), None if verdict.record is None else dict(verdict.record)


_M1: tuple[Any, ...] = ("decide", [], "m1", False, False)
# Found by this test: a code's reservation settled just as its key expired, then the clock
# stepped back a quarter second. Redis kept the expired key (the others forget it), and the
# old reservations came back to refuse a send the other stores allowed.
_SETTLED_AS_IT_EXPIRED = [
    *[(0.0, _M1)] * 9,
    (4.0, _M1),
    (5.25, _M1),
    (5.75, _M1),
    (0.0, ("write", [])),
    (5.0, ("write", [])),
    (10.0, ("write", [7])),
    (-0.25, _M1),
    *[(0.0, _M1)] * 4,
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_STEP, min_size=20, max_size=50))
@example(steps=_SETTLED_AS_IT_EXPIRED)
def test_memory_sqlite_and_redis_give_the_same_answers(
    redis_port: int, steps: list[tuple[float, Any]]
) -> None:
    """A random history of every kind of check and write: each store answers each step alike."""
    import redis

    client = redis.Redis(port=redis_port)
    prefix = f"agree:{uuid.uuid4().hex}:"
    with tempfile.TemporaryDirectory() as folder:
        lite = SQLiteStore(Path(folder) / "g.sqlite3")
        stores: list[GuardStore] = [MemoryStore(), lite, RedisStore(client, prefix=prefix)]
        now = T0
        for delay, step in steps:
            now += delay
            if step[0] == "write":
                writes = [_WRITES[i] for i in step[1]]
                for one in stores:
                    one.write(now, writes)
                continue
            _, names, member, always, read = step
            checks: Sequence[Check] = [_CHECKS[name] for name in names]
            if member != "m4":
                checks = [*checks, _spend(member)]
            answers = [
                _answer(one.decide(now, checks, always=always, read="rec" if read else None))
                for one in stores
            ]
            assert answers[1] == answers[0], (now - T0, step)
            assert answers[2] == answers[0], (now - T0, step)
        lite.close()
    client.close()


# --- adversarial: a clock that goes backwards, a file locked by another process ------------


def test_a_clock_going_backwards_lets_nothing_more_through(store: Any) -> None:
    """A machine whose clock steps back (NTP, another server behind): never more events,
    and the retry_after it reports is when there really is room."""
    limit = Limit("k", 2, 60.0)
    assert _denials(store.decide(T0 + 100, [limit])) == []
    assert _denials(store.decide(T0 + 50, [limit])) == []  # 50 s in the past
    denial = _denials(store.decide(T0 + 55, [limit]))
    assert denial == [(0, 55.0)]  # the older event (T0 + 50) leaves at T0 + 110
    assert _denials(store.decide(T0 + 109, [limit])) != []
    assert _denials(store.decide(T0 + 110, [limit])) == []


def test_an_sqlite_file_locked_by_another_process_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite3"
    SQLiteStore(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path)],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        store = SQLiteStore(path, timeout=0.1)
        with pytest.raises(GuardStoreError, match="locked"):
            store.decide(T0, [Limit("k", 1, 60.0)])
    finally:
        holder.communicate("release\n", timeout=60)
    assert _denials(store.decide(T0, [Limit("k", 1, 60.0)])) == []  # works once released
    store.close()


_HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""
