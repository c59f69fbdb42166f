"""`/ringcentral`: help, and the personal-account words that are not there yet (DESIGN §3.5).
Answered in the ack itself: there is no RingCentral call to wait for."""

from __future__ import annotations

from bot.slack import render
from bot.slack.payloads import SlashCommand

from .usage import help_reply

PERSONAL_LATER = (
    "Personal RingCentral accounts are not available yet: for now RingBridge acts as the "
    "one RingCentral user your admin configured. `/ringcentral help` lists what works today."
)


def answer(command: SlashCommand) -> render.Reply:
    """The reply to `/ringcentral <word>`: the command list, unless the word is one of the
    personal-account ones."""
    word = (command.text.split() or ["help"])[0].lower()
    if word in ("connect", "disconnect", "status"):
        return render.usage_error(PERSONAL_LATER)
    return help_reply()
