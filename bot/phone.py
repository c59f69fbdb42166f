"""Phone numbers: E.164 inside the bridge, parsed and formatted with `phonenumbers`.

National input ("(650) 555-0100") is read in the account's home country, which the caller
passes as an ISO 3166 region code ("US", "GB").
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

__all__ = ["InvalidPhoneNumber", "LeadingNumber", "format_display", "leading_number", "parse"]

# A phone number is written with digits, spaces and a few separators; anything else
# (letters, most punctuation) ends it.
_PHONE_TOKEN = re.compile(r"^[+(]?[\d().\-/]+$")
_WORD = re.compile(r"\S+")
# libphonenumber's upper bound for a written number (15 digits plus separators).
_MAX_TOKENS = 8


class InvalidPhoneNumber(ValueError):
    def __init__(self, text: str, region: str) -> None:
        self.text = text
        self.region = region
        super().__init__(f"{text!r} is not a phone number (country {region})")


@functools.lru_cache(maxsize=4096)  # every SMS names its two numbers: the same ones, mostly
def parse(text: str, region: str = "US") -> str:
    """Return `text` as an E.164 number, reading national numbers in `region`."""
    try:
        number = phonenumbers.parse(text, region.upper())
    except NumberParseException as exc:
        raise InvalidPhoneNumber(text, region) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(text, region)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)
def format_display(e164: str, region: str = "US") -> str:
    """How people read a number: national form at home, international form abroad."""
    try:
        number = phonenumbers.parse(e164, region.upper())
    except NumberParseException:
        return e164
    home = phonenumbers.region_code_for_number(number) == region.upper()
    style = PhoneNumberFormat.NATIONAL if home else PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


@dataclass(frozen=True, slots=True)
class LeadingNumber:
    e164: str
    end: int
    """Index in the original text just past the number's last character."""


def leading_number(text: str, region: str = "US") -> LeadingNumber | None:
    """The longest run of leading words of `text` that parses as one phone number.

    `/sms +1 415 555 0123 Running late` names +14155550123 and leaves "Running late":
    the recipient is whatever prefix reads as a number, the rest is the message.
    """
    words = list(_WORD.finditer(text))[:_MAX_TOKENS]
    run = 0
    while run < len(words) and _PHONE_TOKEN.match(words[run].group()):
        run += 1
    for count in range(run, 0, -1):
        candidate = text[words[0].start() : words[count - 1].end()]
        try:
            return LeadingNumber(parse(candidate, region), words[count - 1].end())
        except InvalidPhoneNumber:
            continue
    return None
