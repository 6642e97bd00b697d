"""Each rule of the guard, sync and async, on every store, with a clock the test moves."""

from __future__ import annotations

import logging
import pickle

import pytest

import textflow
from textflow.guard import GuardPolicy, Velocity, VerificationRefused

from tests.guard.guard_support import NUMBER, OTHER, Guarded

pytestmark = pytest.mark.anyio

CALLER = "203.0.113.7"


async def refused(guarded: Guarded, call: str, *args: object, **kw: object) -> VerificationRefused:
    """The refusal of ``guarded.<call>(...)``; fails if the call passed."""
    with pytest.raises(VerificationRefused) as caught:
        await getattr(guarded, call)(*args, **kw)
    return caught.value


async def test_cooldown_between_codes_to_one_number(guarded: Guarded) -> None:
    await guarded.send()
    exc = await refused(guarded, "send")
    assert (exc.reason, exc.retry_after) == ("cooldown", 30.0)
    guarded.clock.advance(29)
    assert (await refused(guarded, "send")).retry_after == pytest.approx(1.0)
    assert guarded.requests.counts["send-code"] == 1  # refusals never reach TextFlow
    await guarded.send(OTHER)  # another number is not held back
    guarded.clock.advance(1)
    await guarded.send()
    assert guarded.codes_sent() == 3


async def test_codes_per_number_per_day(guarded: Guarded) -> None:
    guarded.guard = guarded.make(GuardPolicy(cooldown_growth=1, prefix_conversion=None))
    for _ in range(5):
        await guarded.send()
        guarded.clock.advance(60)
    exc = await refused(guarded, "send")
    assert exc.reason == "number_limit"
    assert exc.retry_after == pytest.approx(86_400 - 5 * 60)  # when the first code ages out
    guarded.clock.advance(exc.retry_after or 0)
    await guarded.send()
    assert guarded.codes_sent() == 6


async def test_codes_per_caller_per_hour(guarded: Guarded) -> None:
    numbers = [f"+1123456{n:04d}" for n in range(11)]
    for number in numbers[:10]:
        await guarded.send(number, client_key=CALLER)
        guarded.clock.advance(1)
    exc = await refused(guarded, "send", numbers[10], client_key=CALLER)
    assert exc.reason == "caller_limit"
    assert exc.retry_after == pytest.approx(3600 - 10)
    await guarded.send(numbers[10], client_key="198.51.100.1")  # another caller
    guarded.clock.advance(3600)
    await guarded.send(numbers[0], client_key=CALLER)
    assert guarded.codes_sent() == 12


async def test_refusal_reports_the_longest_wait(guarded: Guarded) -> None:
    guarded.guard = guarded.make(GuardPolicy(codes_per_number_per_day=1))
    await guarded.send()
    exc = await refused(guarded, "send")  # both the cooldown and the daily cap are full
    assert (exc.reason, exc.retry_after) == ("number_limit", 86_400)


async def test_allowed_and_blocked_calling_codes(guarded: Guarded) -> None:
    policy = GuardPolicy(allowed_calling_codes={"+1", "44"}, blocked_calling_codes={"1876"})
    guarded.guard = guarded.make(policy)
    for number in ("+381611231234", "+18761234567"):  # Serbia not allowed; Jamaica blocked
        exc = await refused(guarded, "send", number)
        assert (exc.reason, exc.retry_after) == ("country", None)
    await guarded.send(NUMBER)
    await guarded.send(OTHER)
    assert [m.phone_number for m in guarded.fake.messages] == [NUMBER, OTHER]


async def test_wrong_attempts_burn_the_code(guarded: Guarded) -> None:
    await guarded.send()
    right = guarded.code()
    for _ in range(5):
        assert not (await guarded.check("000000")).valid
    exc = await refused(guarded, "check", right)  # even the right code: it is burned
    assert (exc.reason, exc.retry_after) == ("attempts", None)
    assert guarded.requests.counts["verify-code"] == 0  # wrong codes are refused locally
    assert guarded.fake.last_code(NUMBER) == right  # TextFlow was not asked
    guarded.clock.advance(30)
    await guarded.send()  # a new code may be checked again
    assert (await guarded.check(guarded.code())).valid


async def test_success_resets_the_attempts(guarded: Guarded) -> None:
    await guarded.send()
    for _ in range(4):
        await guarded.check("000000")
    assert (await guarded.check(guarded.code())).valid
    for _ in range(5):  # five more checks, answered here (the code was used: all invalid)
        assert not (await guarded.check("000000")).valid
    assert (await refused(guarded, "check", "000000")).reason == "attempts"
    assert guarded.requests.counts["verify-code"] == 1


async def test_checks_per_caller_per_hour(guarded: Guarded) -> None:
    guarded.guard = guarded.make(GuardPolicy(checks_per_caller_per_hour=3))
    for number in (NUMBER, OTHER, "+11234567891"):
        await guarded.check("000000", number, client_key=CALLER)
    exc = await refused(guarded, "check", "000000", "+11234567892", client_key=CALLER)
    assert exc.reason == "caller_limit"
    await guarded.check("000000", "+11234567892", client_key="198.51.100.1")


async def test_global_budget(guarded: Guarded) -> None:
    guarded.guard = guarded.make(GuardPolicy(codes_per_hour=3))
    numbers = [f"+1123456{n:04d}" for n in range(4)]
    for number in numbers[:3]:
        await guarded.send(number, client_key=f"caller-{number}")
    exc = await refused(guarded, "send", numbers[3], client_key="someone-else")
    assert (exc.reason, exc.retry_after) == ("budget", 3600)
    guarded.clock.advance(3600)
    await guarded.send(numbers[3])
    assert guarded.codes_sent() == 4


async def test_rules_turned_off(guarded: Guarded) -> None:
    policy = GuardPolicy(
        cooldown=0,
        velocity=Velocity(prefix_per_hour=None, prefix_per_day=None),
        prefix_conversion=None,
        codes_per_number_per_day=None,
        codes_per_caller_per_hour=None,
        checks_per_caller_per_hour=None,
        attempts_per_code=None,
    )
    guarded.guard = guarded.make(policy)
    for _ in range(7):
        await guarded.send(client_key=CALLER)
        await guarded.check("000000", client_key=CALLER)
    assert guarded.codes_sent() == 7
    assert guarded.requests.counts["verify-code"] == 0  # wrong codes never reach TextFlow


async def test_guards_on_one_store_share_limits(guarded: Guarded) -> None:
    """Two guards (two machines, or processes) on one backend count together."""
    other = guarded.make()
    await guarded.send()
    assert (await refused(guarded, "send", guard=other)).reason == "cooldown"
    for _ in range(3):
        await guarded.check("000000", guard=other)
    for _ in range(2):
        await guarded.check("000000")
    assert (await refused(guarded, "check", guarded.code(), guard=other)).reason == "attempts"


async def test_a_failed_send_still_counts(guarded: Guarded) -> None:
    """The SMS may have gone out, so the cooldown holds; a burned code stays burned."""
    await guarded.send()
    for _ in range(5):
        await guarded.check("000000")
    guarded.clock.advance(30)
    guarded.fake.fail_next("send_verification_sms", status=503)
    with pytest.raises(textflow.InternalServerError):
        await guarded.send()
    assert (await refused(guarded, "send")).reason == "cooldown"
    assert (await refused(guarded, "check", "000000")).reason == "attempts"


async def test_bad_arguments_are_refused_before_counting(guarded: Guarded) -> None:
    for args in [("12345",), (NUMBER,)]:
        with pytest.raises(textflow.InputValidationError):
            await guarded.send(*args, seconds=0)
    with pytest.raises(textflow.InputValidationError) as caught:
        await guarded.send(client_key="")
    assert caught.value.argument == "client_key"
    with pytest.raises(textflow.InputValidationError):
        await guarded.check("  ")
    await guarded.send()  # nothing above was counted
    assert guarded.requests.counts == {"send-code": 1}


async def test_refusals_are_logged_masked(
    guarded: Guarded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="textflow")
    await guarded.send(client_key=CALLER)
    code = guarded.code()
    with pytest.raises(VerificationRefused):
        await guarded.send(client_key=CALLER)
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [r.levelno for r in refusals] == [logging.INFO]
    assert "+1123*****90" in refusals[0].getMessage()
    assert "cooldown" in refusals[0].getMessage()
    for record in caplog.records:
        assert NUMBER not in record.getMessage()
        assert code not in record.getMessage()
        assert CALLER not in record.getMessage()


def test_refusal_is_a_textflow_error_that_pickles() -> None:
    exc = VerificationRefused("Too many.", reason="budget", retry_after=12.5)
    assert isinstance(exc, textflow.TextFlowError)
    assert textflow.VerificationRefused is VerificationRefused
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is VerificationRefused
    assert (str(copy), copy.reason, copy.retry_after) == ("Too many.", "budget", 12.5)


@pytest.mark.parametrize(
    "options",
    [
        {"cooldown": -1},
        {"cooldown": True},
        {"cooldown": float("nan")},
        {"attempts_per_code": 0},
        {"codes_per_hour": 2.5},
        {"allowed_calling_codes": set()},
        {"allowed_calling_codes": "44"},
        {"blocked_calling_codes": {"44a"}},
        {"blocked_calling_codes": {""}},
    ],
)
def test_policy_refuses_nonsense(options: dict[str, object]) -> None:
    with pytest.raises(textflow.ConfigurationError):
        GuardPolicy(**options)  # type: ignore[arg-type]


async def test_a_trunk_zero_in_brackets_is_the_same_number(guarded: Guarded) -> None:
    """``+44 (0)7700 900123`` and ``+44 7700 900123`` share one cooldown and one code."""
    await guarded.send("+44 (0)7700 900123")
    exc = await refused(guarded, "send", "+44 7700 900123")
    assert exc.reason == "cooldown"
    code = guarded.code(OTHER)
    assert (await guarded.check(code, "+44(0)7700-900123")).valid
