"""send_many on both clients: every recipient once, outcomes, totals, stopping, progress."""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Union

import pytest

import textflow
from textflow import Message, SendManyInterrupted, SendManyStopped
from textflow.testing import FakeTextFlow

from tests.many.many_support import Sender, numbers

pytestmark = pytest.mark.anyio

INVALID = "+15555550100"  # the fake's always-invalid number
NO_CREDIT = "+15555550101"  # the fake's always-402 number
UNAVAILABLE = "+15555550103"  # the fake's always-503 number


async def test_ten_thousand_recipients_each_exactly_once(many: Sender) -> None:
    recipients = numbers(10_000)
    report = await many.send(recipients, "Reminder: your visit is tomorrow", concurrency=50)
    seen = Counter(message.phone_number for message in many.fake.messages)
    assert seen == Counter(recipients)  # every recipient once, nobody twice
    assert (report.sent, report.refused, report.maybe_sent, report.skipped) == (10_000, 0, 0, 0)
    assert report.total == len(report.outcomes) == 10_000
    assert sorted(outcome.index for outcome in report.outcomes) == list(range(10_000))
    for outcome in report.outcomes:
        assert outcome.status == "sent"
        assert outcome.result is not None
        assert outcome.result.data is not None
        assert outcome.result.data.to == outcome.phone_number == recipients[outcome.index]


async def test_every_form_of_recipient(many: Sender) -> None:
    recipients = [
        "+1 (202) 555-0001",
        ("+12025550002", "Own text"),
        Message("+12025550003", "Message text"),
        {"phone_number": "+12025550004", "name": "Ana"},
    ]
    report = await many.send(recipients, "Hi {name}")
    delivered = {m.phone_number: m.text for m in many.fake.messages}
    assert delivered == {
        "+12025550001": "Hi {name}",  # a bare number gets the text as is
        "+12025550002": "Own text",
        "+12025550003": "Message text",
        "+12025550004": "Hi Ana",
    }
    assert report.sent == 4
    assert [o.phone_number for o in sorted(report.outcomes, key=lambda o: o.index)] == [
        "+12025550001",
        "+12025550002",
        "+12025550003",
        "+12025550004",
    ]


async def test_template_fields_come_from_a_chosen_column(many: Sender) -> None:
    rows = [{"phone": "+12025550001", "name": "Ana", "day": "Monday"}]
    await many.send(rows, "Hi {name}, see you {day}", phone_field="phone")
    assert [m.text for m in many.fake.messages] == ["Hi Ana, see you Monday"]


async def test_bad_recipients_are_outcomes_and_the_rest_are_sent(many: Sender) -> None:
    recipients = [
        "12345",  # not E.164: refused before sending
        INVALID,  # the API says the number is invalid
        {"phone_number": "+12025550001"},  # the template's field is missing
        {"name": "no number"},
        ("+12025550002", "   "),  # empty text
        "+12025550003",
    ]
    report = await many.send(recipients, "Hi {name}")
    assert [m.phone_number for m in many.fake.messages] == ["+12025550003"]
    by_index = {o.index: o for o in report.outcomes}
    assert isinstance(by_index[0].error, textflow.InputValidationError)
    assert by_index[0].phone_number == "12345"
    assert by_index[0].text is None
    assert isinstance(by_index[1].error, textflow.BadRequestError)
    for index in (2, 3, 4):
        assert isinstance(by_index[index].error, textflow.InputValidationError)
    assert (report.sent, report.refused, report.total) == (1, 5, 6)


async def test_template_and_text_problems_name_the_field(many: Sender) -> None:
    report = await many.send([{"phone_number": "+12025550001"}, {"x": 1}], "Hi {name}")
    errors = [str(o.error) for o in sorted(report.outcomes, key=lambda o: o.index)]
    assert "'name'" in errors[0]
    assert "'phone_number'" in errors[1]
    assert many.fake.messages == []


@pytest.mark.parametrize(
    ("recipient", "why"),
    [
        (None, "is a NoneType"),
        (12025550009, "is a int"),
        (("+12025550009",), "tuple of 1 items"),
        (("+12025550009", "Hi", "extra"), "tuple of 3 items"),
        ({"name": "Ana"}, "no 'phone_number' field"),
        ({"phone_number": None}, "must be a str"),
        (["+12025550009", "Hi"], "is a list"),
        (b"+12025550009", "is a bytes"),
    ],
)
async def test_an_unusable_recipient_is_refused_and_the_run_goes_on(
    many: Sender, recipient: object, why: str
) -> None:
    report = await many.send(["+12025550001", recipient, "+12025550002"], "Hi", concurrency=1)
    assert [m.phone_number for m in many.fake.messages] == ["+12025550001", "+12025550002"]
    assert (report.sent, report.refused, report.total) == (2, 1, 3)
    (refused,) = report.with_status("refused")
    assert refused.index == 1
    assert isinstance(refused.error, textflow.InputValidationError)
    assert why in str(refused.error)
    assert "12025550009" not in str(refused.error)  # the reason never echoes the item


async def test_a_template_that_a_recipient_cannot_fill_refuses_that_recipient(
    many: Sender,
) -> None:
    recipients = [
        {"phone_number": "+12025550001", "name": "Ana"},
        {"phone_number": "+12025550002", "name": 7},
    ]
    report = await many.send(recipients, "Hi {name:>3s}", concurrency=1)
    assert (report.sent, report.refused) == (1, 1)
    assert report.with_status("refused")[0].index == 1


async def test_a_text_with_braces_goes_as_is_to_numbers_and_refuses_mappings(
    many: Sender,
) -> None:
    recipients = ["+12025550001", {"phone_number": "+12025550002"}]
    report = await many.send(recipients, "Sale {50% off", concurrency=1)
    assert [m.text for m in many.fake.messages] == ["Sale {50% off"]
    (refused,) = report.with_status("refused")
    assert isinstance(refused.error, textflow.InputValidationError)
    assert refused.error.argument == "text"


async def test_a_bare_number_needs_text(many: Sender) -> None:
    with pytest.raises(TypeError, match="text="):
        await many.send(["+12025550001"])
    assert many.fake.messages == []


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"max_per_second": 0}, "max_per_second"),
        ({"max_per_second": float("nan")}, "max_per_second"),
        ({"max_per_second": "5"}, "max_per_second"),
        ({"on_progress": "print"}, "on_progress"),
        ({"stop_on": (ValueError, "x")}, "stop_on"),
        ({"stop_on": 3}, "stop_on"),
        ({"journal": 3}, "journal"),
        ({"phone_field": 3}, "phone_field"),
    ],
)
async def test_bad_options_are_refused_before_anything_is_sent(
    many: Sender, options: dict[str, object], argument: str
) -> None:
    with pytest.raises(textflow.InputValidationError) as caught:
        await many.send(["+12025550001"], "Hi", **options)
    assert caught.value.argument == argument
    assert many.fake.messages == []


async def test_text_must_be_a_str(many: Sender) -> None:
    with pytest.raises(textflow.InputValidationError):
        await many.send(["+12025550001"], b"Hi")


async def test_out_of_credits_mid_run_stops_with_the_report(many: Sender) -> None:
    many.fake.balance = "1.50"  # ten SMS at 0.15
    recipients = numbers(40)
    with pytest.raises(SendManyStopped) as caught:
        await many.send(recipients, "Hi", concurrency=4)
    report = caught.value.report
    assert isinstance(caught.value.__cause__, textflow.APIStatusError)
    assert caught.value.__cause__.status == 402
    assert report.stopped_by is caught.value.__cause__
    assert report.sent == len(many.fake.messages) == 10
    assert report.refused >= 1
    assert report.total < 40  # it stopped: the rest were not tried
    assert report.total == report.sent + report.refused
    assert "stopped after" in str(caught.value)


async def test_an_insufficient_credits_message_stops_whatever_its_status(many: Sender) -> None:
    many.fake.fail_next(
        "send_sms", status=400, body={"ok": False, "status": 400, "message": "Insufficient balance"}
    )
    with pytest.raises(SendManyStopped):
        await many.send(numbers(5), "Hi", concurrency=1)
    assert len(many.fake.messages) == 0


async def test_invalid_numbers_do_not_stop_the_run(many: Sender) -> None:
    report = await many.send([INVALID, *numbers(3), INVALID], "Hi", concurrency=1)
    assert (report.sent, report.refused) == (3, 2)


async def test_a_refused_key_stops_at_once(fake: FakeTextFlow) -> None:
    with fake.client(api_key="tf_wrong_key") as client, pytest.raises(SendManyStopped) as caught:
        client.send_many(numbers(100), "Hi", concurrency=1)
    assert isinstance(caught.value.__cause__, textflow.AuthenticationError)
    assert caught.value.report.total == 1
    assert fake.messages == []


async def test_stop_on_a_tuple_of_classes(many: Sender) -> None:
    with pytest.raises(SendManyStopped) as caught:
        await many.send(
            [*numbers(2), INVALID, *numbers(5, 2)],
            "Hi",
            concurrency=1,
            stop_on=(textflow.BadRequestError,),
        )
    assert caught.value.report.sent == 2
    assert len(many.fake.messages) == 2


async def test_stop_on_a_predicate_can_ignore_credits(many: Sender) -> None:
    report = await many.send(
        [NO_CREDIT, *numbers(2)], "Hi", concurrency=1, stop_on=lambda exc: False
    )
    assert (report.sent, report.refused) == (2, 1)


async def test_no_clear_answer_is_maybe_sent_and_does_not_stop(many: Sender) -> None:
    many.fake.fail_next("send_sms", disconnect=True)
    many.fake.fail_next("send_sms", status=500)
    many.fake.fail_next("send_sms", body="<html>not json</html>", status=200)
    report = await many.send([*numbers(3), UNAVAILABLE, "+12025559999"], "Hi", concurrency=1)
    statuses = [o.status for o in sorted(report.outcomes, key=lambda o: o.index)]
    assert statuses == ["maybe_sent", "maybe_sent", "maybe_sent", "maybe_sent", "sent"]
    assert report.maybe_sent == 4
    assert all(o.error is not None for o in report.with_status("maybe_sent"))


async def test_progress_counts_add_up(many: Sender) -> None:
    seen: list[textflow.Progress] = []
    await many.send([*numbers(5), INVALID], "Hi", concurrency=3, on_progress=seen.append)
    assert [p.done for p in seen] == [1, 2, 3, 4, 5, 6]
    assert [p.remaining for p in seen] == [5, 4, 3, 2, 1, 0]
    last = seen[-1]
    assert (last.sent, last.refused, last.maybe_sent, last.skipped) == (5, 1, 0, 0)
    assert all(p.sent + p.refused + p.maybe_sent + p.skipped == p.done for p in seen)
    assert all(p.elapsed >= 0 for p in seen)
    assert {p.outcome.index for p in seen} == set(range(6))


async def test_remaining_is_unknown_for_a_generator(many: Sender) -> None:
    seen: list[textflow.Progress] = []
    await many.send((n for n in numbers(3)), "Hi", on_progress=seen.append)
    assert [p.remaining for p in seen] == [None, None, None]


def test_progress_callbacks_never_overlap(fake: FakeTextFlow) -> None:
    inside = threading.Lock()
    overlaps = []

    def on_progress(progress: textflow.Progress) -> None:
        if not inside.acquire(blocking=False):
            overlaps.append(progress.done)
            return
        try:
            threading.Event().wait(0.001)
        finally:
            inside.release()

    with fake.client() as client:
        client.send_many(numbers(200), "Hi", concurrency=20, on_progress=on_progress)
    assert overlaps == []


CAMPAIGN: contextvars.ContextVar[str] = contextvars.ContextVar("CAMPAIGN", default="none")


async def test_each_send_runs_in_the_callers_context(many: Sender) -> None:
    # What the caller set (a tracing span, a request id) is what each send sees: the async
    # driver's tasks copy the context, and so must the sync driver's threads.
    seen: list[str] = []

    def on_request(event: textflow.RequestEvent) -> None:
        seen.append(CAMPAIGN.get())

    many.client = many.client.with_options(on_request=on_request)
    token = CAMPAIGN.set("spring")
    try:
        report = await many.send(numbers(30), "Hi", concurrency=5)
    finally:
        CAMPAIGN.reset(token)
    assert report.sent == 30
    assert seen == ["spring"] * 30


async def test_a_failing_callback_ends_the_run_and_is_raised(many: Sender) -> None:
    def on_progress(progress: textflow.Progress) -> None:
        if progress.done == 3:
            raise RuntimeError("my callback broke")

    with pytest.raises(RuntimeError, match="my callback broke"):
        await many.send(numbers(100), "Hi", concurrency=2, on_progress=on_progress)
    assert len(many.fake.messages) < 100


async def test_a_failing_input_ends_the_run_after_sends_in_flight(many: Sender) -> None:
    def broken() -> Iterator[str]:
        yield from numbers(3)
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        await many.send(broken(), "Hi", concurrency=5)
    assert len(many.fake.messages) == 3  # the three read were sent, not abandoned


async def test_the_input_is_read_as_it_goes(many: Sender) -> None:
    """At most ``concurrency`` recipients are read ahead of those finished: flat memory."""
    finished = 0
    ahead = []

    def on_progress(progress: textflow.Progress) -> None:
        nonlocal finished
        finished = progress.done

    def recipients() -> Iterator[str]:
        for read, number in enumerate(numbers(300)):
            ahead.append(read - finished)
            yield number

    await many.send(recipients(), "Hi", concurrency=7, on_progress=on_progress)
    assert max(ahead) <= 7 + 1
    assert len(many.fake.messages) == 300


async def test_keep_outcomes_off_keeps_the_totals(many: Sender) -> None:
    report = await many.send(numbers(20), "Hi", keep_outcomes=False)
    assert (report.sent, report.outcomes) == (20, [])


async def test_a_generator_keeps_totals_only_by_default(many: Sender) -> None:
    """Memory stays flat for input of any length: outcomes only when asked."""
    report = await many.send(iter(numbers(20)), "Hi")
    assert (report.sent, report.outcomes) == (20, [])
    report = await many.send(iter(numbers(3, start=50)), "Hi", keep_outcomes=True)
    assert len(report.outcomes) == 3


async def test_a_small_list_keeps_its_outcomes_and_a_big_one_its_totals(
    many: Sender, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textflow._many import _run

    monkeypatch.setattr(_run, "SMALL_LIST", 5)
    assert len((await many.send(numbers(5), "Hi")).outcomes) == 5
    report = await many.send(numbers(6, start=10), "Hi")
    assert (report.sent, report.outcomes) == (6, [])


async def test_async_iterables(fake: FakeTextFlow) -> None:
    async def recipients() -> AsyncIterator[Union[str, tuple[str, str]]]:
        for number in numbers(3):
            yield number
        yield ("+12025559999", "Last")

    async with fake.async_client() as client:
        report = await client.send_many(recipients(), "Hi", concurrency=2, keep_outcomes=True)
    assert report.sent == 4
    assert sorted(o.index for o in report.outcomes) == [0, 1, 2, 3]


@pytest.mark.anyio
async def test_ctrl_c_stops_cleanly_with_the_report(many: Sender) -> None:
    def recipients() -> Iterator[str]:
        yield from numbers(5)
        raise KeyboardInterrupt

    with pytest.raises(SendManyInterrupted) as caught:
        await many.send(recipients(), "Hi", concurrency=3)
    assert isinstance(caught.value, KeyboardInterrupt)
    report = caught.value.report
    assert report.sent == len(many.fake.messages) == 5  # those in flight finished
    assert isinstance(report.stopped_by, KeyboardInterrupt)


@pytest.mark.anyio
async def test_ctrl_c_in_an_async_iterable_stops_cleanly_too(fake: FakeTextFlow) -> None:
    async def recipients() -> AsyncIterator[str]:
        for number in numbers(4):
            yield number
        raise KeyboardInterrupt

    async with fake.async_client() as client:
        with pytest.raises(SendManyInterrupted) as caught:
            await client.send_many(recipients(), "Hi", concurrency=2)
    assert caught.value.report.sent == len(fake.messages) == 4


def test_report_filters_and_repr(fake: FakeTextFlow) -> None:
    with fake.client() as client:
        report = client.send_many([INVALID, "+12025550001"], "Hi")
    assert [o.phone_number for o in report.with_status("refused")] == [INVALID]
    assert [o.phone_number for o in report.with_status("sent")] == ["+12025550001"]
    with pytest.raises(ValueError, match="status must be one of"):
        report.with_status("lost")
    assert repr(report) == (
        "SendReport(sent=1, refused=1, maybe_sent=0, skipped=0, stopped_by=None)"
    )


class Instant:
    """A client that answers every send at once, without the fake's own bookkeeping."""

    def __init__(self, result: textflow.SendMessageResult) -> None:
        self.result = result

    def send_sms(self, phone_number: str, text: str) -> textflow.SendMessageResult:
        return self.result


def test_memory_stays_flat_for_a_long_generator(fake: FakeTextFlow) -> None:
    import tracemalloc

    from textflow._many import _sync

    with fake.client() as client:
        result = client.send_sms("+12025550001", "Hi")

    def peak(count: int) -> int:
        recipients = (f"+1202{index:07d}" for index in range(count))
        tracemalloc.start()
        try:
            report = _sync.send_many(
                Instant(result),  # type: ignore[arg-type]
                recipients,
                "Hi",
                concurrency=8,
                keep_outcomes=False,
            )
            used = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert report.sent == count
        return used

    small, large = peak(1_000), peak(15_000)
    # 15 times the recipients, not 15 times the memory (keeping them would take megabytes)
    assert large < small + 128 * 1024, (small, large)
