"""What each command's help says: the usage of its grammar, with an example, shown by
`help`, by `/ringcentral help`, on App Home and after a usage error."""

from __future__ import annotations

from bot.slack import render

SMS_USAGE = (
    "Send a text with `/sms <number> <message>`, e.g. `/sms +1 415 555 0123 Running late`. "
    "List texts with `/sms list [number] [in|out] [unread|read] [today|yesterday|7d] "
    "[type:sms|fax|voicemail|pager] [from:2026-01-31] [to:2026-02-01] [distinct] [deleted] "
    "[count]`; show one with `/sms show <id>`."
)
CALL_USAGE = (
    "Place a call with `/call <number> [from <phone or label>] [as <caller ID>] [prompt]`, "
    "e.g. `/call +1 415 555 0123 from Mobile prompt`: your phone rings first, then theirs."
)
CALLLOG_USAGE = (
    "List calls with `/calllog [missed|inbound|outbound] [number] [today|yesterday|7d] "
    "[ext:101] [type:voice|fax] [transport:pstn|voip] [recording:automatic|ondemand|all] "
    "[session:<id>] [from:2026-01-31] [to:2026-02-01] [blocked] [deleted] [detailed] "
    "[count]`, or show one call with `/calllog <record id>`."
)
RINGCENTRAL_USAGE = (
    "`/ringcentral connect` lets RingBridge act as your own RingCentral account (your "
    "numbers, your calls); `/ringcentral status` shows it and the phone `/call` rings first; "
    "`/ringcentral disconnect` ends it. `/ringcentral help` shows this list."
)
COMMANDS = (
    ("/sms", SMS_USAGE),
    ("/call", CALL_USAGE),
    ("/calllog", CALLLOG_USAGE),
    ("/ringcentral", RINGCENTRAL_USAGE),
)


def help_reply() -> render.Reply:
    """Every command with its usage."""
    return render.help_reply(COMMANDS)
