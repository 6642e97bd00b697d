"""Phone numbers as the fake sees them: normalising, checking, countries, magic numbers."""

from __future__ import annotations

import re
from typing import Optional

#: Always answered ``400 Phone number is invalid`` (though it is well formed).
INVALID_NUMBER = "+15555550100"
#: Always answered ``402`` "Insufficient credits" by the operations that send an SMS.
INSUFFICIENT_CREDIT_NUMBER = "+15555550101"
#: Always answered ``429`` with ``Retry-After: 1``.
RATE_LIMITED_NUMBER = "+15555550102"
#: Always answered ``503`` "Service temporarily unavailable".
UNAVAILABLE_NUMBER = "+15555550103"

MAGIC_NUMBERS = frozenset(
    {INVALID_NUMBER, INSUFFICIENT_CREDIT_NUMBER, RATE_LIMITED_NUMBER, UNAVAILABLE_NUMBER}
)

_SEPARATORS = re.compile(r"[\s\-.()]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")

# Calling code -> English country name, as the API's ``country_code`` field now
# carries. Longest prefix wins; +1 is reported as the United States.
_COUNTRIES = {
    "1": "United States",
    "7": "Russia",
    "20": "Egypt",
    "27": "South Africa",
    "30": "Greece",
    "31": "Netherlands",
    "32": "Belgium",
    "33": "France",
    "34": "Spain",
    "36": "Hungary",
    "39": "Italy",
    "40": "Romania",
    "41": "Switzerland",
    "43": "Austria",
    "44": "United Kingdom",
    "45": "Denmark",
    "46": "Sweden",
    "47": "Norway",
    "48": "Poland",
    "49": "Germany",
    "51": "Peru",
    "52": "Mexico",
    "54": "Argentina",
    "55": "Brazil",
    "56": "Chile",
    "57": "Colombia",
    "60": "Malaysia",
    "61": "Australia",
    "62": "Indonesia",
    "63": "Philippines",
    "64": "New Zealand",
    "65": "Singapore",
    "66": "Thailand",
    "81": "Japan",
    "82": "South Korea",
    "84": "Vietnam",
    "86": "China",
    "90": "Turkey",
    "91": "India",
    "92": "Pakistan",
    "234": "Nigeria",
    "254": "Kenya",
    "351": "Portugal",
    "353": "Ireland",
    "358": "Finland",
    "359": "Bulgaria",
    "380": "Ukraine",
    "381": "Serbia",
    "382": "Montenegro",
    "385": "Croatia",
    "386": "Slovenia",
    "387": "Bosnia and Herzegovina",
    "389": "North Macedonia",
    "420": "Czech Republic",
    "421": "Slovakia",
    "966": "Saudi Arabia",
    "971": "United Arab Emirates",
    "972": "Israel",
}


def normalize(phone_number: str) -> str:
    """``phone_number`` without the spaces, ``-``, ``.``, ``(`` and ``)`` people type."""
    return _SEPARATORS.sub("", phone_number)


def parse(value: object) -> Optional[str]:
    """The normalised number, or ``None`` if it is not ``+`` and 7-15 digits, the first not 0."""
    if not isinstance(value, str):
        return None
    number = normalize(value)
    return number if _E164.fullmatch(number) else None


def country_of(phone_number: str) -> str:
    """The English name of the number's country, or ``"Unknown"``."""
    digits = phone_number.lstrip("+")
    for length in (3, 2, 1):
        name = _COUNTRIES.get(digits[:length])
        if name is not None:
            return name
    return "Unknown"
