# ruff: noqa: RUF002  (the look-alike characters are the point of this module)
"""How many SMS segments a text takes, and in which encoding (3GPP TS 23.038).

A text whose every character is in the GSM 7-bit default alphabet goes out as
GSM-7: 160 septets in one SMS, 153 per part when it is split (the user data
header takes the rest). Characters of the extension table (``^{}\\[~]|€`` and
form feed) take two septets, an escape and the character, and a part never
ends between the two. Any other character makes the whole text UCS-2: 70 UTF-16
code units in one SMS, 67 per part; a character outside the Basic Multilingual
Plane (most emoji) is a surrogate pair, two units, never split between parts.

National language shift tables (Turkish, Spanish, Portuguese, Indian
languages) are not assumed: networks rarely honour them for international
traffic, and counting without them can only over-estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Optional

__all__ = ["GSM7", "UCS2", "SegmentCount", "segments"]

GSM7 = "GSM-7"
UCS2 = "UCS-2"

#: The GSM 7-bit default alphabet (TS 23.038 6.2.1), in code order 0x00-0x7F;
#: 0x1B is the escape to the extension table, not a character.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_BASIC = frozenset(_BASIC) - {"\x1b"}
#: The default extension table (TS 23.038 6.2.1.1): each costs an escape plus itself.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_GSM7 = 160
PART_GSM7 = 153
SINGLE_UCS2 = 70
PART_UCS2 = 67

#: Look-alikes that force UCS-2, and the GSM-7 text that says the same.
GSM7_REPLACEMENTS: Mapping[str, str] = MappingProxyType(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark, the typographic apostrophe
        "\u201a": "'",  # single low-9 quotation mark
        "\u2032": "'",  # prime
        "\u00b4": "'",  # acute accent
        "`": "'",  # grave accent (not in the GSM alphabet)
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9 quotation mark
        "\u2033": '"',  # double prime
        "\u00ab": '"',  # left-pointing guillemet
        "\u00bb": '"',  # right-pointing guillemet
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2011": "-",  # non-breaking hyphen
        "\u2212": "-",  # minus sign
        "\u00a0": " ",  # no-break space
        "\u2009": " ",  # thin space
        "\u202f": " ",  # narrow no-break space
        "\u200b": "",  # zero-width space
        "\ufeff": "",  # byte order mark / zero-width no-break space
        "\u2026": "...",  # horizontal ellipsis
        "\u2022": "-",  # bullet
        "\t": " ",  # tab
        "\u00e7": "Ç",  # small c cedilla: the alphabet has only the capital
    }
)


@dataclass(frozen=True)
class SegmentCount:
    """What a text costs in SMS segments, and why.

    Attributes:
        encoding: ``"GSM-7"`` or ``"UCS-2"``.
        characters: Characters in the text (an emoji counts one).
        units: What the segments hold: septets for GSM-7 (an extension-table
            character counts two), UTF-16 code units for UCS-2 (an emoji
            outside the BMP counts two).
        segments: SMS parts billed; 0 for an empty text.
        per_segment: Units per part: 160 or 153 (GSM-7), 70 or 67 (UCS-2).
        unicode_characters: The characters that forced UCS-2, each once, in
            order of appearance; empty for GSM-7.
        replacements: For those of them that have one, the GSM-7 text that
            says the same (``{"’": "'", "–": "-"}``).
        gsm7_text: The text with those replacements made, when that makes it
            GSM-7; ``None`` when it is already GSM-7 or some character has no
            replacement.

    Examples:
        >>> count = segments("Don’t miss it – 20% off")
        >>> count.encoding, count.segments, count.replacements
        ('UCS-2', 1, {'’': "'", '–': '-'})
        >>> segments(count.gsm7_text).encoding
        'GSM-7'
    """

    encoding: str
    characters: int
    units: int
    segments: int
    per_segment: int
    unicode_characters: tuple[str, ...] = ()
    replacements: Mapping[str, str] = field(default_factory=dict)
    gsm7_text: Optional[str] = None

    @property
    def is_gsm7(self) -> bool:
        """``True`` when the text goes out in the 7-bit alphabet."""
        return self.encoding == GSM7


def _gsm7_segments(text: str) -> tuple[int, int]:
    """(septets, parts), a part never ending between an escape and its character."""
    widths = [2 if char in GSM7_EXTENSION else 1 for char in text]
    septets = sum(widths)
    if septets <= SINGLE_GSM7:
        return septets, 1 if septets else 0
    parts, used = 1, 0
    for width in widths:
        if used + width > PART_GSM7:
            parts, used = parts + 1, 0
        used += width
    return septets, parts


def _ucs2_segments(text: str) -> tuple[int, int]:
    """(UTF-16 units, parts), a surrogate pair never split between parts."""
    widths = [2 if ord(char) > 0xFFFF else 1 for char in text]
    units = sum(widths)
    if units <= SINGLE_UCS2:
        return units, 1
    parts, used = 1, 0
    for width in widths:
        if used + width > PART_UCS2:
            parts, used = parts + 1, 0
        used += width
    return units, parts


def segments(text: str) -> SegmentCount:
    """Count the SMS segments ``text`` takes and say which characters made it UCS-2.

    The count is what the network bills; the price of a segment is not in the
    API, so turn segments into money with your own rates (see the guide).

    Args:
        text: The message, exactly as it will be sent.

    Returns:
        The encoding, characters, units, segments and UCS-2 culprits.

    Raises:
        TypeError: ``text`` is not a str.

    Examples:
        >>> segments("Hello").segments
        1
        >>> segments("x" * 161).segments
        2
        >>> count = segments("Hi 😀")
        >>> count.encoding, count.characters, count.units
        ('UCS-2', 4, 5)
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}.")
    outside = dict.fromkeys(
        char for char in text if char not in GSM7_BASIC and char not in GSM7_EXTENSION
    )
    if not outside:
        septets, parts = _gsm7_segments(text)
        per_segment = SINGLE_GSM7 if parts <= 1 else PART_GSM7
        return SegmentCount(GSM7, len(text), septets, parts, per_segment)
    units, parts = _ucs2_segments(text)
    replacements = {char: GSM7_REPLACEMENTS[char] for char in outside if char in GSM7_REPLACEMENTS}
    gsm7_text = None
    if len(replacements) == len(outside):
        gsm7_text = "".join(replacements.get(char, char) for char in text)
    return SegmentCount(
        UCS2,
        len(text),
        units,
        parts,
        SINGLE_UCS2 if parts <= 1 else PART_UCS2,
        tuple(outside),
        replacements,
        gsm7_text,
    )
