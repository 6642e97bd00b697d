"""Every public name has a Google-style docstring with an example (the API reference is built
from them)."""

from __future__ import annotations

import ast
import inspect
import typing
from collections.abc import Iterator
from pathlib import Path
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


# The async client's docstrings are written out in its source (tools read them statically);
# these tests keep them in step with the sync client's. The only differences allowed are the
# async wording below, applied to the async text before comparing.
_ASYNC_WORDING = [
    ("await ", ""),
    ("Any iterable or async iterable", "Any iterable"),
    ("httpx.AsyncClient", "httpx.Client"),
    ("AsyncTextFlowClient", "TextFlowClient"),
    ("aclose", "close"),
]
_TWINS = {"aclose": "close"}  # async name -> sync name, where they differ


def _in_sync_wording(doc: str) -> str:
    for async_words, sync_words in _ASYNC_WORDING:
        doc = doc.replace(async_words, sync_words)
    return " ".join(doc.split())  # line breaks may differ where a line grew


def _public_methods(cls: type) -> list[str]:
    return sorted(
        name
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and inspect.isfunction(member)
    )


def test_every_public_async_method_has_the_sync_docstring() -> None:
    names = _public_methods(textflow.AsyncTextFlowClient)
    assert len(names) >= 8  # the five API calls, with_options, send_many, aclose
    for name in names:
        sync_name = _TWINS.get(name, name)
        async_doc = inspect.getdoc(getattr(textflow.AsyncTextFlowClient, name))
        sync_doc = inspect.getdoc(getattr(textflow.TextFlowClient, sync_name))
        assert async_doc, f"AsyncTextFlowClient.{name} has no docstring"
        assert sync_doc, f"TextFlowClient.{sync_name} has no docstring"
        assert _in_sync_wording(async_doc) == " ".join(sync_doc.split()), name
    assert sorted(_TWINS.get(n, n) for n in names) == _public_methods(textflow.TextFlowClient)


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


def _docstrings_in_source(path: Path) -> dict[str, str]:
    """Every function's docstring as written in the file (what griffe and IDEs read)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name: inspect.cleandoc(ast.get_docstring(node) or "")
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def test_async_docstrings_are_in_the_source_not_copied_in_at_import() -> None:
    written = _docstrings_in_source(Path(inspect.getfile(textflow.AsyncTextFlowClient)))
    for name in _public_methods(textflow.AsyncTextFlowClient):
        method = getattr(textflow.AsyncTextFlowClient, name)
        if method.__qualname__.startswith("AsyncTextFlowClient."):
            assert written.get(name) == inspect.getdoc(method), name
        # else inherited from the shared base class: one docstring for both clients


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


def test_both_constructors_have_one_signature_and_one_args_section() -> None:
    sync = inspect.signature(textflow.TextFlowClient)
    async_ = inspect.signature(textflow.AsyncTextFlowClient)
    assert str(async_).replace("AsyncClient", "Client") == str(sync)

    def args_and_raises(cls: type) -> str:
        doc = inspect.getdoc(cls) or ""
        return doc[doc.index("Args:") : doc.index("Examples:")]

    assert _in_sync_wording(args_and_raises(textflow.AsyncTextFlowClient)) == " ".join(
        args_and_raises(textflow.TextFlowClient).split()
    )


def test_other_reference_signatures_show_their_real_defaults() -> None:
    from textflow.guard import _redis
    from textflow.testing import FakeTextFlow, _fake

    for store in (_redis.RedisStore, _redis.AsyncRedisStore):
        assert inspect.signature(store).parameters["prefix"].default == _redis.DEFAULT_PREFIX
    assert inspect.signature(FakeTextFlow).parameters["credits"].default == _fake.DEFAULT_CREDITS
