"""Bad arguments raise InputValidationError before anything is sent, on both clients."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

import textflow

from tests.core.core_support import KEY, OK_BODIES, Harness, ok_sms, response

pytestmark = pytest.mark.anyio

PHONE = "+11234567890"

BAD_CALLS = [
    ("send_sms", (None, "hi"), "phone_number"),
    ("send_sms", (11234567890, "hi"), "phone_number"),
    ("send_sms", ("11234567890", "hi"), "phone_number"),
    ("send_sms", ("+01234567890", "hi"), "phone_number"),
    ("send_sms", ("+123456", "hi"), "phone_number"),
    ("send_sms", ("+1234567890123456", "hi"), "phone_number"),
    ("send_sms", ("+1 234 abc 7890", "hi"), "phone_number"),
    ("send_sms", ("", "hi"), "phone_number"),
    ("send_sms", ("+1_234_567_890", "hi"), "phone_number"),
    ("send_sms", (PHONE, ""), "text"),
    ("send_sms", (PHONE, "  \n\t"), "text"),
    ("send_sms", (PHONE, None), "text"),
    ("send_sms", (PHONE, b"bytes"), "text"),
    ("send_verification_sms", (PHONE, None), "service_name"),
    ("send_verification_sms", (PHONE, "Acme", 0), "seconds"),
    ("send_verification_sms", (PHONE, "Acme", -5), "seconds"),
    ("send_verification_sms", (PHONE, "Acme", 86401), "seconds"),
    ("send_verification_sms", (PHONE, "Acme", True), "seconds"),
    ("send_verification_sms", (PHONE, "Acme", 60.0), "seconds"),
    ("send_verification_sms", (PHONE, "Acme", "600"), "seconds"),
    ("send_verification_sms", ("+1", "Acme", 600), "phone_number"),
    ("verify_code", (PHONE, ""), "code"),
    ("verify_code", (PHONE, "   "), "code"),
    ("verify_code", (PHONE, None), "code"),
    ("verify_code", (PHONE, True), "code"),
    ("verify_code", (PHONE, 12.5), "code"),
    ("verify_code", (PHONE, 10**5000), "code"),
    ("verify_code", (PHONE, -(10**64)), "code"),
    ("verify_code", (PHONE, -4045), "code"),
    ("verify_code", (PHONE, False), "code"),
    ("verify_code", (None, "4045"), "phone_number"),
    ("send_bulk_sms", (PHONE, "hi"), "phone_numbers"),
    ("send_bulk_sms", ([], "hi"), "phone_numbers"),
    ("send_bulk_sms", ((), "hi"), "phone_numbers"),
    ("send_bulk_sms", (None, "hi"), "phone_numbers"),
    ("send_bulk_sms", ({PHONE: 1}, "hi"), "phone_numbers"),
    ("send_bulk_sms", ([PHONE, "nope"], "hi"), "phone_numbers[1]"),
    ("send_bulk_sms", ([PHONE, None], "hi"), "phone_numbers[1]"),
    ("send_bulk_sms", ([PHONE], ""), "text"),
]


@pytest.mark.parametrize(("name", "args", "argument"), BAD_CALLS)
async def test_bad_arguments_raise_before_any_request(
    api: Harness, mock_api: respx.MockRouter, name: str, args: tuple[Any, ...], argument: str
) -> None:
    route = mock_api.route()
    with pytest.raises(textflow.InputValidationError) as info:
        await api.call(name, *args)
    assert isinstance(info.value, ValueError)
    assert info.value.argument == argument
    assert argument in str(info.value)
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("+11234567890", "+11234567890"),
        ("+1 123 456 7890", "+11234567890"),
        ("+1 (123) 456-7890", "+11234567890"),
        ("+381.61.123.1234", "+381611231234"),
        ("\t+44 20 7946 0958\n", "+442079460958"),
        # a trunk zero in brackets after the calling code is not dialled from abroad
        ("+44 (0)20 7946 0958", "+442079460958"),
        ("+44(0)2079460958", "+442079460958"),
        ("+44 ( 0 ) 20-7946-0958", "+442079460958"),
        ("+49 (0)30 1234 5678", "+493012345678"),
        ("+381 (0)61 123 1234", "+381611231234"),
        ("+1 (0) 123 456 7890", "+11234567890"),
        ("+1234567", "+1234567"),
        ("+123456789012345", "+123456789012345"),
    ],
)
async def test_phone_numbers_are_normalised(
    api: Harness, mock_api: respx.MockRouter, given: str, sent: str
) -> None:
    route = mock_api.post("/send-sms").mock(return_value=response(200, ok_sms(sent)))
    await api.call("send_sms", given, "hi")
    assert json.loads(route.calls.last.request.content)["phone_number"] == sent


async def test_int_code_and_padded_code_are_sent_as_strings(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    route = mock_api.post("/verify-code").mock(return_value=response(200, OK_BODIES["verify_code"]))
    await api.call("verify_code", PHONE, 4045)
    await api.call("verify_code", PHONE, " 4045 \n")
    assert [json.loads(c.request.content)["code"] for c in route.calls] == ["4045", "4045"]


@pytest.mark.parametrize("seconds", [1, 86400])
async def test_seconds_bounds_are_accepted(
    api: Harness, mock_api: respx.MockRouter, seconds: Any
) -> None:
    route = mock_api.post("/send-code").mock(
        return_value=response(200, OK_BODIES["send_verification_sms"])
    )
    await api.call("send_verification_sms", PHONE, "Acme", seconds)
    assert route.call_count == 1


async def test_messages_never_echo_a_code_or_key(api: Harness, mock_api: respx.MockRouter) -> None:
    mock_api.route()
    client = api.make()
    for args in ((PHONE, "  "), ("+0123", "secret-code-9876")):
        with pytest.raises(textflow.InputValidationError) as info:
            await api.call("verify_code", *args, client=client)
        assert "9876" not in str(info.value)
        assert KEY not in str(info.value)


async def test_bad_phone_is_masked_in_the_message(api: Harness, mock_api: respx.MockRouter) -> None:
    mock_api.route()
    with pytest.raises(textflow.InputValidationError) as info:
        await api.call("send_sms", "+0123456789", "hi")
    assert "+0123456789" not in str(info.value)
    assert "+012*****89" in str(info.value)


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("\uff0b\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10", "full-width digits"),
        ("+1\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10", "full-width digits"),
        ("+\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660", "digits of another"),
    ],
)
async def test_non_ascii_digits_are_named_without_the_number(
    api: Harness, mock_api: respx.MockRouter, typed: str, named: str
) -> None:
    route = mock_api.route()
    with pytest.raises(textflow.InputValidationError) as info:
        await api.call("send_sms", typed, "hi")
    message = str(info.value)
    assert named in message
    assert "type ASCII digits" in message
    assert typed not in message  # masked, as every number in a message
    assert route.call_count == 0


async def test_a_plain_bad_number_names_no_digit_problem(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    mock_api.route()
    with pytest.raises(textflow.InputValidationError) as info:
        await api.call("send_sms", "+0123456789", "hi")
    assert "ASCII" not in str(info.value)


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("+39 (0)6 1234 5678", "after +39, whose numbers may keep their 0"),  # Italy: 06 is dialled
        ("+225 (0)7 12 34 56 78", "after +225"),
        ("+4420 (0)7946 0958", "after something other than its calling code"),
        ("+44 20 (0)7946 0958", "after something other than its calling code"),
        ("(0) +44 20 7946 0958", "after something other than its calling code"),
        ("+44 (0)20 (0)7946 0958", "more than once"),
    ],
)
async def test_a_bracketed_zero_that_is_not_a_trunk_zero_is_refused(
    api: Harness, mock_api: respx.MockRouter, typed: str, why: str
) -> None:
    """Where the "(0)" may be a digit of the number, no number is guessed: a clear error."""
    route = mock_api.route()
    with pytest.raises(textflow.InputValidationError) as info:
        await api.call("send_sms", typed, "hi")
    assert why in str(info.value)
    assert info.value.argument == "phone_number"
    assert typed not in str(info.value)
    assert "7946 09" not in str(info.value)  # masked
    assert "1234 56" not in str(info.value)
    assert route.call_count == 0


async def test_without_brackets_a_zero_is_left_to_textflow(
    api: Harness, mock_api: respx.MockRouter
) -> None:
    """Some countries' numbers start with 0 after the calling code (+225 07 ...): an
    unbracketed 0 is sent as written, never dropped on a guess."""
    route = mock_api.post("/send-sms").mock(return_value=response(200, ok_sms("+2250712345678")))
    await api.call("send_sms", "+225 07 12 34 56 78", "hi")
    assert json.loads(route.calls.last.request.content)["phone_number"] == "+2250712345678"
