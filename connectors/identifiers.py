"""Finding e-mail addresses and phone numbers in text no spec field describes.

Used on the open parts and free-text fields of a body (``connectors.body_schema``):
whoever is named there is a data subject like one in a declared field. A phone number
is recognised only in international form, with its leading ``+`` and 7 to 15 digits, so
dates, times, amounts and ids are not taken for one; a number written without its
country code is not found (it could not be matched to anyone's consent either).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

EMAIL = "email"
PHONE = "phone"
CATEGORIES = {EMAIL: "user.contact.email", PHONE: "user.contact.phone_number"}

_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w-])"
)
_PHONE = re.compile(r"(?<![\w+])\+[1-9][0-9 ().-]{5,22}[0-9](?![\w])")
_DIGITS = re.compile(r"[0-9]")


def identifiers_in(value: Any, where: tuple[str, ...]) -> Iterator[tuple[tuple, str, str]]:
    """Each ``(path, kind, identifier)`` in a JSON value, its member names included;
    ``path`` leads to the string (or member) that holds the identifier."""
    if isinstance(value, str):
        yield from ((where, kind, found) for kind, found in _in_text(value))
    elif isinstance(value, dict):
        for name, member in value.items():
            inside = (*where, str(name))
            yield from ((inside, kind, found) for kind, found in _in_text(str(name)))
            yield from identifiers_in(member, inside)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from identifiers_in(item, (*where, str(index)))


def _in_text(text: str) -> Iterator[tuple[str, str]]:
    if "@" in text:
        yield from ((EMAIL, match.group()) for match in _EMAIL.finditer(text))
    if "+" in text:
        for match in _PHONE.finditer(text):
            if 7 <= len(_DIGITS.findall(match.group())) <= 15:
                yield PHONE, match.group()
