"""Limits RingCentral enforces on what we send, checked locally before sending."""

from __future__ import annotations

__all__ = [
    "MMS_MAX_ATTACHMENTS",
    "MMS_MAX_TOTAL_BYTES",
    "PAGER_MAX_UTF16_UNITS",
    "SMS_MAX_UTF16_UNITS",
    "LimitExceeded",
    "check_text",
    "utf16_units",
]

# RingCentral (SPEC CreateSMSMessage.text): max 1000 UTF-16 code units; a character
# outside the BMP (most emoji) counts as 2, so 500 of them fill a message.
SMS_MAX_UTF16_UNITS = 1000
# RingCentral (SPEC CreateInternalTextMessageRequest.text): pager text, 1024 UTF-16 units.
PAGER_MAX_UTF16_UNITS = 1024
# RingCentral (SPEC createSMSMessage): up to 10 attachments, 1,500,000 bytes in all.
MMS_MAX_ATTACHMENTS = 10
MMS_MAX_TOTAL_BYTES = 1_500_000


class LimitExceeded(ValueError):
    """A request RingCentral would refuse for its size; raised before anything is sent."""

    def __init__(self, what: str, actual: int, limit: int, unit: str) -> None:
        self.what = what
        self.actual = actual
        self.limit = limit
        self.unit = unit
        super().__init__(f"{what} is {actual} {unit}; RingCentral allows at most {limit}")


def utf16_units(text: str) -> int:
    """Length of `text` as RingCentral counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def check_text(text: str, limit: int = SMS_MAX_UTF16_UNITS, what: str = "text") -> str:
    """Return `text` unchanged, or raise LimitExceeded when it is too long."""
    units = utf16_units(text)
    if units > limit:
        raise LimitExceeded(what, units, limit, "UTF-16 code units")
    return text
