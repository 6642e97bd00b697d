"""A griffe extension for the docs build: read Google ``Example:`` sections as examples.

griffe's Google parser knows ``Examples:`` (doctest code, rendered as Python)
but takes a singular ``Example:`` for an admonition of Markdown text, where
``>>>`` lines turn into nested quotes. The SDK's docstrings say ``Example:``;
this renames the section header before parsing, and does nothing else.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADER = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class GoogleExample(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _HEADER.sub(r"\1Examples:", obj.docstring.value)
