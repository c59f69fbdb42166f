"""What became of a sent text (DESIGN §3.8): the receipt a status earns, and RingCentral's
documented SMS error codes in words (DOCS messaging/sms/sms-errors.md). A code's prefix
says who reported it: `SMS-RC-` RingCentral, `SMS-UP-` its gateway, `SMS-CAR-` the
recipient's carrier; an unknown code is shown as it is, with that source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from slack_sdk.models.blocks import Block

from .blocks import Reply, body, context, reply, section
from .format import Locale, clip, code, fallback, number

Receipt = Literal["outbox_tray", "white_check_mark", "warning", "no_report"]
# The reaction each receipt shows ("no delivery report" keeps the tray: it may have arrived).
REACTION: dict[Receipt, str] = {
    "outbox_tray": "outbox_tray",
    "white_check_mark": "white_check_mark",
    "warning": "warning",
    "no_report": "outbox_tray",
}
FINAL_STATUSES = frozenset({"Delivered", "DeliveryFailed", "SendingFailed"})
# Codes that mean "no report (yet)", not a failure (DOCS: "may be expected from carriers").
NO_REPORT_CODES = frozenset({"SMS-CAR-104", "SMS-CAR-199"})

_OPTED_OUT = "the recipient opted out of texts from this number (they can reply START to opt in)"
_INVALID = "the number cannot receive texts (a landline, or invalid or unallocated)"
_NOT_SET_UP = "this number is not registered for business texting (ask the RingCentral admin)"
_SPAM = "it was blocked as spam; change the wording"
_LIMIT = "the daily or monthly texting limit of this account was reached"
REASONS: dict[str, str] = {
    "SMS-RC-403": _LIMIT,
    "SMS-RC-410": "RingCentral does not support that destination number",
    "SMS-RC-413": _OPTED_OUT,
    "SMS-RC-430": "RingCentral's filter blocked it as spam; change the wording",
    "SMS-RC-500": "RingCentral had an internal error",
    "SMS-RC-501": "RingCentral had an internal error",
    "SMS-RC-503": "this number is provisioned wrongly at RingCentral (RingCentral support)",
    "SMS-RC-504": "this account's texting is configured wrongly (ask the RingCentral admin)",
    "SMS-UP-410": _INVALID,
    "SMS-UP-413": _OPTED_OUT,
    "SMS-UP-414": _NOT_SET_UP,
    "SMS-UP-430": _SPAM,
    "SMS-UP-431": "this number was flagged for spam and can no longer text",
    "SMS-UP-432": "it is too long",
    "SMS-UP-433": "it could not be delivered as written; revise it",
    "SMS-UP-500": "RingCentral's texting gateway failed; try again later",
    "SMS-CAR-400": "the recipient's carrier does not support texts to this number (call instead)",
    "SMS-CAR-410": "it expired before reaching the carrier; try again later",
    "SMS-CAR-411": _INVALID,
    "SMS-CAR-412": "the recipient is unavailable",
    "SMS-CAR-413": _OPTED_OUT,
    "SMS-CAR-414": _NOT_SET_UP,
    "SMS-CAR-430": "the recipient's carrier blocked it as spam",
    "SMS-CAR-431": "the recipient's carrier rejected it",
    "SMS-CAR-432": "it is too long for the recipient's carrier",
    "SMS-CAR-433": "the recipient's carrier could not read it; revise it",
    "SMS-CAR-434": "its media is too large for the recipient's carrier",
    "SMS-CAR-435": "the carrier rejects shortened links",
    "SMS-CAR-450": _LIMIT + " (T-Mobile's daily limit for this brand)",
    "SMS-CAR-451": _LIMIT + " (AT&T's daily limit for this campaign)",
    "SMS-CAR-452": _LIMIT + " (the carriers' allotment)",
    "SMS-CAR-460": "the destination refuses short-code texts",
    "SMS-CAR-461": "carriers block texts from an unverified toll-free number",
    "SMS-CAR-500": "the recipient's carrier failed; try again later",
}
_SOURCES = {"SMS-RC-": "RingCentral", "SMS-UP-": "RingCentral's gateway", "SMS-CAR-": "the carrier"}


def receipt_for(
    status: str | None, error_code: str | None, *, final_check: bool = False
) -> Receipt:
    """The receipt a RingCentral status earns; `final_check`: the last scheduled read
    (60 min), after which a text still on its way has "no delivery report"."""
    if status == "Delivered":
        return "white_check_mark"
    if status in ("DeliveryFailed", "SendingFailed", "refused"):
        return "no_report" if error_code in NO_REPORT_CODES else "warning"
    return "no_report" if final_check else "outbox_tray"


def reason(error_code: str | None) -> str:
    """A documented code in words; an unknown one as it is, with who reported it."""
    if error_code in REASONS:
        return REASONS[error_code]
    if not error_code:
        return "RingCentral gave no reason"
    source = next((s for p, s in _SOURCES.items() if error_code.startswith(p)), "RingCentral")
    return f"{source} reported {code(error_code, 64)}"


def delivery_failed(
    to_numbers: Sequence[str], error_code: str | None, *, locale: Locale, words: str | None = None
) -> Reply:
    """The thread message under a text that failed: to whom, and why in words (`words`:
    a send-time refusal already explained, which may quote RingCentral: escaped)."""
    whom = ", ".join(number(n, locale) for n in to_numbers)
    why = clip(words.rstrip("."), 500) if words else reason(error_code)
    text = f"Not delivered to {whom}: {why}."
    blocks: list[Block] = [section(f":warning: Not delivered to *{whom}*: {why}.")]
    if error_code:
        blocks.append(context(f"RingCentral error {code(error_code, 64)}"))
    return reply(text, blocks)


def no_delivery_report(to_numbers: Sequence[str], *, locale: Locale) -> Reply:
    """The carrier never said whether it arrived (DESIGN §3.8: the tray stays)."""
    whom = ", ".join(number(n, locale) for n in to_numbers)
    text = f"No delivery report for the text to {whom}: it may or may not have arrived."
    return reply(text, [section(f":outbox_tray: {text}")])


def sms_outcome(to_numbers: Sequence[str], receipt: Receipt, error_code: str | None, *,
                locale: Locale) -> Reply:  # fmt: skip
    """What a `/sms` reply says once RingCentral reported how the text ended."""
    if receipt == "warning":
        return delivery_failed(to_numbers, error_code, locale=locale)
    if receipt == "no_report":
        return no_delivery_report(to_numbers, locale=locale)
    whom = ", ".join(number(n, locale) for n in to_numbers)
    text = f"Delivered to {whom}."
    return reply(text, [section(f":white_check_mark: Delivered to *{whom}*.")])


def auto_reply_sent(to_number: str, from_number: str, text: str, *, locale: Locale) -> Reply:
    """The note in a missed call's thread that its caller was texted the route's auto reply
    (DESIGN §3.12); the text's receipts go on this message."""
    to, frm = number(to_number, locale), number(from_number, locale)
    head = f":speech_balloon: *Auto reply* texted to {to} from {frm}"
    return reply(
        fallback(f"Auto reply texted to {to} from {frm}", text), [section(head), *body(text)]
    )
