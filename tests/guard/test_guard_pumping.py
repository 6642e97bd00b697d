"""The rules against SMS pumping, sync and async, on every store, on a clock the test moves."""

from __future__ import annotations

from decimal import Decimal

import pytest

from textflow.guard import ConversionRule, Decision, GuardPolicy, Velocity, VerificationRefused

from tests.guard.guard_support import NUMBER, Guarded

pytestmark = pytest.mark.anyio

PREFIX = "+4479460"
QUIET = GuardPolicy(prefix_conversion=None, country_conversion=None)


async def refused(guarded: Guarded, call: str, *args: object, **kw: object) -> VerificationRefused:
    with pytest.raises(VerificationRefused) as caught:
        await getattr(guarded, call)(*args, **kw)
    return caught.value


async def test_prefix_velocity(guarded: Guarded) -> None:
    guarded.guard = guarded.make(GuardPolicy(prefix_conversion=None))
    for n in range(5):
        await guarded.send(f"{PREFIX}{n:04d}")
        guarded.clock.advance(60)
    exc = await refused(guarded, "send", f"{PREFIX}9999")
    assert exc.reason == "prefix_velocity"
    assert exc.retry_after == pytest.approx(3600 - 300)
    await guarded.send("+4479461" + "0000")  # another prefix
    assert guarded.codes_sent() == 6


async def test_country_velocity_per_calling_code(guarded: Guarded) -> None:
    policy = GuardPolicy(
        prefix_conversion=None,
        country_conversion=None,
        velocity_by_country={"44": Velocity(country_per_hour=2)},
    )
    guarded.guard = guarded.make(policy)
    await guarded.send("+447700900001")
    await guarded.send("+447800900002")
    assert (await refused(guarded, "send", "+447900900003")).reason == "country_velocity"
    await guarded.send(NUMBER)  # +1 keeps the default (no country limit)
    assert guarded.codes_sent() == 3


async def test_low_conversion_suspends_and_lifts(guarded: Guarded) -> None:
    rule = ConversionRule(min_sends=3, min_conversion=0.5, window=3600, suspend_for=600)
    guarded.guard = guarded.make(GuardPolicy(prefix_conversion=rule, country_conversion=None))
    for n in range(3):
        await guarded.send(f"{PREFIX}{n:04d}")
    exc = await refused(guarded, "send", f"{PREFIX}0100")
    assert (exc.reason, exc.retry_after) == ("low_conversion", 600)
    guarded.clock.advance(599)
    assert (await refused(guarded, "send", f"{PREFIX}0101")).retry_after == pytest.approx(1)
    guarded.clock.advance(3600)  # the window has passed: the suspension lifted itself
    await guarded.send(f"{PREFIX}0102")
    for n in range(3, 5):
        await guarded.send(f"{PREFIX}{n:04d}")
    assert (await refused(guarded, "send", f"{PREFIX}0103")).reason == "low_conversion"
    guard = guarded.guard
    lift = guard.lift("prefix:" + PREFIX)
    if lift is not None:
        await lift
    await guarded.send(f"{PREFIX}0104")  # lifted early by the operator
    assert guarded.codes_sent() == 7


async def test_verified_codes_keep_a_prefix_open(guarded: Guarded) -> None:
    rule = ConversionRule(min_sends=3, min_conversion=0.5)
    guarded.guard = guarded.make(GuardPolicy(prefix_conversion=rule, country_conversion=None))
    for n in range(4):
        number = f"{PREFIX}{n:04d}"
        await guarded.send(number)
        assert (await guarded.check(guarded.code(number), number)).valid
    await guarded.send(f"{PREFIX}0100")


async def test_cooldown_grows_and_a_verified_code_resets_it(guarded: Guarded) -> None:
    policy = GuardPolicy(
        codes_per_number_per_day=None,
        prefix_conversion=None,
        velocity=Velocity(prefix_per_hour=None, prefix_per_day=None),
    )
    guarded.guard = guarded.make(policy)
    waits = []
    for _ in range(4):
        await guarded.send()
        exc = await refused(guarded, "send")
        assert exc.reason == "cooldown"
        waits.append(exc.retry_after)
        guarded.clock.advance(exc.retry_after or 0)
    assert waits == [30, 60, 120, 240]
    await guarded.send()
    assert (await guarded.check(guarded.code())).valid
    guarded.clock.advance(30)
    await guarded.send()  # back to 30 s


async def test_spend_cap_counts_the_estimate(guarded: Guarded) -> None:
    policy = GuardPolicy(spend_per_hour=Decimal("0.45"), price_estimate=Decimal("0.15"))
    guarded.guard = guarded.make(policy)
    numbers = ["+12025550100", "+442079460000", "+33612345678", "+4915112345678"]
    for number in numbers[:3]:
        await guarded.send(number)
    guarded.clock.advance(10)
    exc = await refused(guarded, "send", numbers[3])
    assert exc.reason == "spend_cap"
    assert exc.retry_after == pytest.approx(3590)
    assert guarded.codes_sent() == 3


async def test_monitor_mode_refuses_nothing_and_reports(guarded: Guarded) -> None:
    decisions: list[Decision] = []
    policy = GuardPolicy(mode="monitor", blocklist={"+1555"})
    guarded.guard = guarded.make(policy, on_decision=decisions.append)
    await guarded.send()
    await guarded.send()  # the cooldown would refuse
    await guarded.send("+15550100000")  # blocked
    assert guarded.codes_sent() == 3
    assert [(d.allowed, d.reason, d.monitored) for d in decisions] == [
        (True, None, False),
        (True, "cooldown", True),
        (True, "blocked", True),
    ]
    assert decisions[1].key == "number:+1123*****90"
    assert guarded.guard.stats() == {
        "send_code.allowed": 1,
        "send_code.monitored.cooldown": 1,
        "send_code.monitored.blocked": 1,
    }


async def test_safelist_and_blocklist(guarded: Guarded) -> None:
    policy = GuardPolicy(safelist={"+1555"}, blocklist={"+4479460"}, attempts_per_code=2)
    guarded.guard = guarded.make(policy)
    for _ in range(3):
        await guarded.send("+15550100000")  # no cooldown for the safelist
    exc = await refused(guarded, "send", "+447946012345")
    assert (exc.reason, exc.retry_after) == ("blocked", None)
    for _ in range(2):
        await guarded.check("0000", "+15550100000")
    assert (await refused(guarded, "check", "0000", "+15550100000")).reason == "attempts"
    assert guarded.codes_sent() == 3


async def test_only_the_latest_code_of_the_session_is_valid(guarded: Guarded) -> None:
    guarded.guard = guarded.make(QUIET)
    await guarded.send(session="s1")
    old = guarded.code()
    guarded.clock.advance(30)
    await guarded.send(session="s1")
    new = guarded.code()
    if old != new:
        assert not (await guarded.check(old, session="s1")).valid  # answered here
    exc = await refused(guarded, "check", new, session="s2")
    assert (exc.reason, exc.retry_after) == ("session_mismatch", None)
    assert guarded.requests.counts["verify-code"] == 0
    assert (await guarded.check(new, session="s1")).valid
    assert guarded.requests.counts["verify-code"] == 1
