"""The public surface of ``textflow.testing``: names, docs, examples, argument checks, secrecy."""

from __future__ import annotations

import ast
import dataclasses
import doctest
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

import textflow
import textflow.testing
from textflow.testing import (
    DEFAULT_API_KEY,
    INSUFFICIENT_CREDIT_NUMBER,
    INVALID_NUMBER,
    PRICE_PER_SMS,
    RATE_LIMITED_NUMBER,
    UNAVAILABLE_NUMBER,
    FakeMessage,
    FakeTextFlow,
    NoCodeError,
    _fake,
    _state,
    pytest_plugin,
)

PACKAGE = Path(textflow.testing.__file__).parent


def test_the_public_names() -> None:
    assert sorted(textflow.testing.__all__) == sorted(
        [
            "DEFAULT_API_KEY",
            "DEFAULT_WEBHOOK_SECRET",
            "INSUFFICIENT_CREDIT_NUMBER",
            "INVALID_NUMBER",
            "PRICE_PER_SEGMENT",
            "PRICE_PER_SMS",
            "RATE_LIMITED_NUMBER",
            "UNAVAILABLE_NUMBER",
            "FakeEvent",
            "FakeMessage",
            "FakeTextFlow",
            "NoCodeError",
        ]
    )
    for name in textflow.testing.__all__:
        assert hasattr(textflow.testing, name)


def test_the_magic_numbers_are_documented_and_fictional() -> None:
    doc = textflow.testing.__doc__ or ""
    for number in (
        INVALID_NUMBER,
        INSUFFICIENT_CREDIT_NUMBER,
        RATE_LIMITED_NUMBER,
        UNAVAILABLE_NUMBER,
    ):
        assert number in doc
        assert number.startswith("+1555555")  # 555-01XX: reserved for fiction
        assert 100 <= int(number[-4:]) <= 199


def test_every_public_callable_has_a_google_style_docstring_with_an_example() -> None:
    objects = [FakeTextFlow, FakeMessage, pytest_plugin.textflow_fake]
    objects += [pytest_plugin.textflow_client, pytest_plugin.async_textflow_client]
    for name in dir(FakeTextFlow):
        if not name.startswith("_"):
            member = getattr(FakeTextFlow, name)
            objects.append(member.fget if isinstance(member, property) else member)
    for obj in objects:
        doc = getattr(obj, "__doc__", None) or ""
        assert "Examples:" in doc, obj


@pytest.mark.parametrize("module", [_fake, _state, pytest_plugin])
def test_the_docstring_examples_run(module: object) -> None:
    globs = {
        "FakeTextFlow": FakeTextFlow,
        "PRICE_PER_SMS": PRICE_PER_SMS,
        "TextFlowClient": textflow.TextFlowClient,
        "httpx": httpx,
        "pytest": pytest,
    }
    result = doctest.testmod(module, extraglobs=globs, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0
    assert result.attempted > 0


@pytest.mark.skipif(sys.version_info < (3, 10), reason="sys.stdlib_module_names is 3.10+")
def test_the_package_imports_only_the_stdlib_httpx_and_the_sdk() -> None:
    stdlib: set[str] = set()
    if sys.version_info >= (3, 10):  # always, after the skipif (which mypy does not read)
        stdlib = set(sys.stdlib_module_names)
    allowed = stdlib | {"httpx", "anyio", "textflow", "__future__"}
    for path in PACKAGE.glob("*.py"):
        if path.name == "pytest_plugin.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert set(roots) <= allowed, (path.name, roots)
    probe = "import sys, textflow.testing; print(sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    for unwanted in ("pytest", "trio", "respx", "textflow.testing.pytest_plugin"):
        assert f"'{unwanted}'" not in loaded


def test_the_default_key_is_obviously_fake() -> None:
    assert FakeTextFlow().api_key == DEFAULT_API_KEY == "tf_test_key"


def test_the_key_never_shows_in_a_repr() -> None:
    fake = FakeTextFlow("s3cret-key-value")
    assert "s3cret" not in repr(fake)
    assert "s3cret" not in repr(fake._state)
    assert repr(fake) == "FakeTextFlow(balance=Decimal('100'), messages=0)"
    client = fake.client()
    assert "s3cret" not in repr(client)


def test_messages_are_frozen_and_a_copy() -> None:
    fake = FakeTextFlow()
    fake.client().send_sms("+11234567890", "Hi")
    messages = fake.messages
    with pytest.raises(dataclasses.FrozenInstanceError):
        messages[0].text = "changed"  # type: ignore[misc]
    messages.clear()
    assert len(fake.messages) == 1


@pytest.mark.parametrize("credits", [Decimal("2.5"), 3, "4.25"])
def test_credits_and_the_balance_setter(credits: Decimal | int | str) -> None:
    fake = FakeTextFlow(credits=credits)
    assert fake.balance == Decimal(credits)
    fake.balance = "0"
    assert fake.balance == 0
    fake.reset()
    assert fake.balance == Decimal(credits)


@pytest.mark.parametrize(
    ("credits", "error"),
    [
        (1.5, TypeError),
        (True, TypeError),
        ("abc", ValueError),
        (-1, ValueError),
        ("NaN", ValueError),
    ],
)
def test_credits_are_checked(credits: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        FakeTextFlow(credits=credits)  # type: ignore[arg-type]
    with pytest.raises(error):
        FakeTextFlow().balance = credits  # type: ignore[assignment]


@pytest.mark.parametrize("key", ["", "  ", " padded "])
def test_the_api_key_is_checked(key: str) -> None:
    with pytest.raises(ValueError, match="api_key"):
        FakeTextFlow(key)


def test_last_code_normalises_and_knows_no_code() -> None:
    fake = FakeTextFlow()
    with pytest.raises(NoCodeError, match=r"\+1123\*+90: none was sent") as info:
        fake.last_code("+11234567890")
    assert isinstance(info.value, LookupError)
    assert "1234567890" not in str(info.value)  # the number masked, as in every message
    assert not fake.has_code("+11234567890")
    fake.client().send_verification_sms("+11234567890")
    code = fake.last_code("+11234567890")
    assert fake.last_code("+1 (123) 456-7890") == code
    assert fake.has_code("+1 (123) 456-7890")


def test_no_code_error_says_why_and_never_shows_a_code() -> None:
    now = [1_700_000_000.0]
    fake = FakeTextFlow(clock=lambda: now[0])
    client = fake.client()
    client.send_verification_sms("+11234567890", seconds=60)
    code = fake.last_code("+11234567890")
    now[0] += 61
    with pytest.raises(NoCodeError, match="expired") as expired:
        fake.last_code("+11234567890")
    client.send_verification_sms("+11234567890", seconds=60)
    second = fake.last_code("+11234567890")
    assert client.verify_code("+11234567890", second).valid
    with pytest.raises(NoCodeError, match="verified already") as verified:
        fake.last_code("+11234567890")
    for message in (str(expired.value), str(verified.value)):
        assert code not in message
        assert second not in message


def test_the_in_process_client_never_reaches_a_real_host() -> None:
    assert httpx.URL(_fake.IN_PROCESS_BASE_URL).host.endswith(".invalid")
