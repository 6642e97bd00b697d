"""Every public name has a Google-style docstring with an example (the API reference is built
from them), and the signatures the reference shows spell out the real defaults.

The sync twins are generated from the async sources (tests/core/test_core_generated.py), so
their docstrings and signatures need no comparing here.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from typing import Optional, Union

import httpx
import pytest

import textflow
import textflow.webhooks
from textflow import _config
from textflow._base_client import BaseClient
from textflow._config import DEFAULT_CONCURRENCY


def _public() -> Iterator[tuple[str, object]]:
    for module in (textflow, textflow.webhooks):
        for name in module.__all__:
            if name.startswith("__"):
                continue
            obj = getattr(module, name)
            yield f"{module.__name__}.{name}", obj
            if inspect.isclass(obj) and obj.__module__.startswith("textflow."):
                for attr, member in vars(obj).items():
                    if (
                        not attr.startswith("_")
                        and inspect.isfunction(member)
                        and member.__module__.startswith("textflow")  # not pydantic's
                    ):
                        yield f"{module.__name__}.{name}.{attr}", member


@pytest.mark.parametrize(
    ("name", "obj"), list(_public()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_public_names_have_an_examples_section(name: str, obj: object) -> None:
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{name} has no docstring"
    if (
        inspect.isclass(obj)
        and issubclass(obj, textflow.APIStatusError)
        and obj is not (textflow.APIStatusError)
    ):
        return  # the status subclasses share their parent's example
    assert "Examples:" in doc, f"{name} has no Examples: section"
    for role in (":class:", ":meth:", ":func:"):
        assert role not in doc, f"{name} uses the reST role {role}"


def _public_methods(cls: type) -> list[str]:
    return sorted(
        name
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and inspect.isfunction(member)
    )


# The sync client is generated from the async one (scripts/unasync.py drops ``await``), so its
# examples read right when the async examples await what is a coroutine, and only that.
def test_async_examples_await_the_calls_that_are_coroutines() -> None:
    for name in _public_methods(textflow.AsyncTextFlowClient):
        method = getattr(textflow.AsyncTextFlowClient, name)
        example = (inspect.getdoc(method) or "").split("Examples:")[1]
        call = f"client.{name}("
        if inspect.iscoroutinefunction(method):
            assert f"await {call}" in example, name
            assert f" = {call}" not in example, name
        else:
            assert f"await {call}" not in example, name


@pytest.mark.parametrize(
    ("cls", "http_client"),
    [(textflow.TextFlowClient, httpx.Client), (textflow.AsyncTextFlowClient, httpx.AsyncClient)],
)
def test_constructor_shows_the_real_defaults_and_public_types(
    cls: type[textflow.TextFlowClient] | type[textflow.AsyncTextFlowClient], http_client: type
) -> None:
    parameters = inspect.signature(cls).parameters
    # The signature spells out the defaults (what the reference shows): the same as _config.
    assert parameters["timeout"].default == _config.DEFAULT_TIMEOUT
    assert parameters["max_retries"].default == _config.DEFAULT_MAX_RETRIES
    assert inspect.signature(cls.send_many).parameters["concurrency"].default == (
        DEFAULT_CONCURRENCY
    )
    hints = typing.get_type_hints(vars(cls)["__init__"])
    assert hints["http_client"] == Optional[http_client]
    assert hints["timeout"] == Union[float, httpx.Timeout, None]
    # and the same parameters as the base class that does the work
    assert list(parameters) == list(inspect.signature(BaseClient).parameters)


def test_other_reference_signatures_show_their_real_defaults() -> None:
    from textflow.guard import _redis
    from textflow.testing import FakeTextFlow, _fake

    for store in (_redis.RedisStore, _redis.AsyncRedisStore):
        assert inspect.signature(store).parameters["prefix"].default == _redis.DEFAULT_PREFIX
    assert inspect.signature(FakeTextFlow).parameters["credits"].default == _fake.DEFAULT_CREDITS
