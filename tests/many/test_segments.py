# ruff: noqa: RUF001  (the look-alike characters are the point of this module)
"""Segment and encoding counts, against the 3GPP TS 23.038 tables and published examples."""

from __future__ import annotations

import pytest

import textflow
from textflow import _segments
from textflow._segments import GSM7, UCS2, segments

# Positions in the default alphabet that TS 23.038 table 6.2.1 fixes (code -> character).
SPEC_CODES = {
    0x00: "@",
    0x01: "£",
    0x09: "Ç",
    0x0A: "\n",
    0x0D: "\r",
    0x10: "Δ",
    0x11: "_",
    0x1F: "É",
    0x24: "¤",
    0x40: "¡",
    0x5B: "Ä",
    0x5F: "§",
    0x60: "¿",
    0x7B: "ä",
    0x7F: "à",
}


def test_the_default_alphabet_is_the_spec_table() -> None:
    assert len(_segments._BASIC) == 128
    for code, char in SPEC_CODES.items():
        assert _segments._BASIC[code] == char
    assert _segments._BASIC[0x1B] == "\x1b"  # the escape, not a character
    assert len(_segments.GSM7_BASIC) == 127
    assert set("^{}\\[~]|€\f") == _segments.GSM7_EXTENSION
    assert not _segments.GSM7_BASIC & _segments.GSM7_EXTENSION


def test_every_character_of_the_basic_table_is_one_septet() -> None:
    text = "".join(sorted(_segments.GSM7_BASIC))
    count = segments(text)
    assert (count.encoding, count.units, count.segments) == (GSM7, 127, 1)


def test_every_extension_character_is_two_septets() -> None:
    for char in _segments.GSM7_EXTENSION:
        count = segments(char)
        assert (count.encoding, count.units, count.segments) == (GSM7, 2, 1), repr(char)


@pytest.mark.parametrize(
    ("text", "encoding", "characters", "units", "parts", "per_segment"),
    [
        ("", GSM7, 0, 0, 0, 160),
        ("Hello", GSM7, 5, 5, 1, 160),
        ("a" * 160, GSM7, 160, 160, 1, 160),
        ("a" * 161, GSM7, 161, 161, 2, 153),
        ("a" * 306, GSM7, 306, 306, 2, 153),
        ("a" * 307, GSM7, 307, 307, 3, 153),
        ("a" * 459, GSM7, 459, 459, 3, 153),
        ("a" * 460, GSM7, 460, 460, 4, 153),
        ("€" * 80, GSM7, 80, 160, 1, 160),
        ("€" * 81, GSM7, 81, 162, 2, 153),
        ("a" * 159 + "[", GSM7, 160, 161, 2, 153),
        # an escape and its character never straddle two parts: 152 + (2) + 152 = 306 septets,
        # yet 3 parts, where a naive ceil(306 / 153) says 2
        ("a" * 152 + "€" + "a" * 152, GSM7, 305, 306, 3, 153),
        ("Привет", UCS2, 6, 6, 1, 70),
        ("ж" * 70, UCS2, 70, 70, 1, 70),
        ("ж" * 71, UCS2, 71, 71, 2, 67),
        ("ж" * 134, UCS2, 134, 134, 2, 67),
        ("ж" * 135, UCS2, 135, 135, 3, 67),
        ("a" * 159 + "ж", UCS2, 160, 160, 3, 67),  # one character turns 1 GSM part into 3
        ("😀", UCS2, 1, 2, 1, 70),
        ("😀" * 35, UCS2, 35, 70, 1, 70),
        ("😀" * 36, UCS2, 36, 72, 2, 67),
        # a surrogate pair is never split: 66 + (2) + 66 = 134 units, yet 3 parts
        ("ж" * 66 + "😀" + "ж" * 66, UCS2, 133, 134, 3, 67),
        ("Hi 😀", UCS2, 4, 5, 1, 70),
        ("你好，世界", UCS2, 5, 5, 1, 70),
    ],
)
def test_segment_table(
    text: str, encoding: str, characters: int, units: int, parts: int, per_segment: int
) -> None:
    count = segments(text)
    assert (count.encoding, count.characters, count.units) == (encoding, characters, units)
    assert (count.segments, count.per_segment) == (parts, per_segment)
    assert count.is_gsm7 == (encoding == GSM7)


def test_characters_that_force_ucs2_are_named_with_their_replacements() -> None:
    text = "Don’t miss it – “20%” off\u00a0today…"
    count = segments(text)
    assert count.encoding == UCS2
    assert count.unicode_characters == ("’", "–", "“", "”", "\u00a0", "…")
    assert count.replacements == {
        "’": "'",
        "–": "-",
        "“": '"',
        "”": '"',
        "\u00a0": " ",
        "…": "...",
    }
    assert count.gsm7_text == 'Don\'t miss it - "20%" off today...'
    assert segments(count.gsm7_text).encoding == GSM7


def test_no_gsm7_text_when_a_character_has_no_replacement() -> None:
    count = segments("Thanks’ 😀")
    assert count.unicode_characters == ("’", "😀")
    assert count.replacements == {"’": "'"}
    assert count.gsm7_text is None


def test_gsm7_text_needs_no_replacements() -> None:
    count = segments("Plain {text} [ok]")
    assert (count.unicode_characters, dict(count.replacements), count.gsm7_text) == ((), {}, None)


def test_not_a_str_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        segments(b"bytes")  # type: ignore[arg-type]


def test_public_names() -> None:
    assert textflow.segments is segments
    assert textflow.SegmentCount is _segments.SegmentCount
