"""RingCentral endpoints (`{phoneNumber, name, extensionNumber}`) → `Party`."""

from __future__ import annotations

import re

from bot.notices import Party
from bot.phone import InvalidPhoneNumber, parse

# What RingCentral sends is digits; libphonenumber would read letters as a keypad
# ("+1650224XXXX", a masked sample, would become +16502249999), so those stay as sent.
_DIGITS = re.compile(r"^\+?[\d\s().\-]+$")
# Internal calls carry the dialled extension number in `phoneNumber` ("11101" in the
# RC→RC flow); no public number is that short (E.164 numbers have at least 7 digits).
_MAX_EXTENSION_DIGITS = 6


def e164(number: str | None) -> str | None:
    """`number` in E.164 when it is a phone number; placeholders and odd forms stay as
    sent (RingCentral's own samples mask digits: "+1657390XXXX"); extensions give None."""
    if not number:
        return None
    if number.isdigit() and len(number) <= _MAX_EXTENSION_DIGITS:
        return None
    if not _DIGITS.match(number):
        return number
    try:
        return parse(number)
    except InvalidPhoneNumber:
        return number


def party(
    number: str | None, name: str | None = None, extension_number: str | None = None
) -> Party:
    """A notice party; a short all-digit `number` is read as an extension number."""
    if extension_number is None and number and e164(number) is None:
        extension_number = number
    return Party(number=e164(number), name=name or None, extension_number=extension_number)
