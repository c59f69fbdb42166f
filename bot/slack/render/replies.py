"""Short command replies: help, usage errors, an SMS sent or queued, RingCentral's refusals."""

from __future__ import annotations

import math
from collections.abc import Sequence

from slack_sdk.models.blocks import HeaderBlock, PlainTextObject

from bot.ringcentral.models import MessageRecord

from .blocks import SECTION_MAX, Reply, context, reply, section
from .format import Locale, clip, code, number, one_line, quote

# RingCentral `messageStatus` of a sent SMS (SPEC `MessageStatusEnum`).
_SMS_STATUS = {
    "Queued": "RingCentral has queued it for delivery.",
    "Sent": "RingCentral has handed it to the carrier.",
    "Delivered": "Delivered.",
    "DeliveryFailed": "Delivery failed.",
    "SendingFailed": "Sending failed.",
}
_FAILED = ("DeliveryFailed", "SendingFailed")


def help_reply(commands: Sequence[tuple[str, str]]) -> Reply:
    """The commands, each with its usage and an example: `(name, usage)` pairs."""
    # The usages are ours but hold `<number>`-style placeholders: escaped, they show as typed.
    blocks = [
        HeaderBlock(text=PlainTextObject(text="RingBridge commands", emoji=False)),
        *(section(f"*{name}*\n{clip(usage, SECTION_MAX - 20)}") for name, usage in commands),
    ]
    names = ", ".join(name for name, _ in commands)
    return reply(f"RingBridge commands: {names} help.", blocks)


def usage_error(message: str) -> Reply:
    """A bad command: the sentence saying what to type instead (it may quote typed words)."""
    text = clip(message, SECTION_MAX - 20)
    return reply(text, [section(f":warning: {text}")])


def ringcentral_refused(sentence: str) -> Reply:
    """RingCentral said no (an error turned into a sentence, perhaps with its message)."""
    text = clip(sentence, SECTION_MAX - 20)
    return reply(text, [section(f":x: {text}")])


def sms_sent(
    to: str, from_number: str, text: str, response: MessageRecord, *, locale: Locale
) -> Reply:
    """An SMS RingCentral accepted: who to, from which number, the text, status and id."""
    status = response.message_status or "Queued"
    failed = status in _FAILED
    icon = ":x:" if failed else ":white_check_mark:"
    verb = "Not sent" if failed else "Sent"
    head = f"{verb} to *{number(to, locale)}* from {number(from_number, locale)}"
    sentence = _SMS_STATUS.get(status, f"Status: {clip(status, 100)}.")
    if failed and response.delivery_error_code:
        sentence += f" RingCentral error {code(response.delivery_error_code, 100)}."
    facts = [f"Status: *{clip(status, 100)}*", f"Message id {code(response.id)}"]
    if response.segment_count and response.segment_count > 1:
        facts.append(f"{response.segment_count} segments")
    blocks = [
        section(f"{icon} {head}. {sentence}"),
        section(quote(text, SECTION_MAX)),
        context(" · ".join(facts)),
    ]
    fallback = f"{verb} to {number(to, locale)}: {clip(one_line(text), 200)}"
    return reply(fallback, blocks)


def sms_queued(to: str, seconds: float, *, locale: Locale) -> Reply:
    """The client is pacing requests under RingCentral's limits (DESIGN §3.7)."""
    wait = max(1, math.ceil(seconds))
    text = f"Queued: sending to {number(to, locale)} in {wait} s."
    note = "RingCentral limits how fast the bridge may send, so commands wait their turn."
    return reply(text, [section(f":hourglass_flowing_sand: {text}"), context(note)])
