"""Every public name has a Google-style docstring with an example (the API reference is built
from them)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

import textflow
import textflow.webhooks


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
