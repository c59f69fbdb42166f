"""The slash-command grammar of DESIGN §3.5, as pure functions from typed text to requests.

Parsers take the text already turned back into plain text (`bot.slack.text.to_plain`) and
raise `UsageError` with a sentence that says what to type instead. They make no calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from bot import phone
from bot.ringcentral.models import SMS_MAX_UTF16_UNITS, utf16_units

__all__ = [
    "CallLogQuery",
    "Help",
    "MessageQuery",
    "Period",
    "PlaceCall",
    "SendSms",
    "ShowCall",
    "ShowMessage",
    "UsageError",
    "parse_call",
    "parse_calllog",
    "parse_sms",
    "utf16_units",
]

MAX_COUNT = 1000  # "a bare number up to 1000 is a count" (DESIGN §3.7)
DEFAULT_COUNT = 20

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


class UsageError(ValueError):
    """What the person typed cannot be done; `str()` says what to type instead."""


@dataclass(frozen=True, slots=True)
class Help:
    text: str


@dataclass(frozen=True, slots=True)
class SendSms:
    to: str
    text: str


@dataclass(frozen=True, slots=True)
class Period:
    date_from: datetime | None = None
    date_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class MessageQuery:
    period: Period
    count: int = DEFAULT_COUNT
    phone_number: str | None = None
    direction: Literal["Inbound", "Outbound"] | None = None
    read_status: Literal["Read", "Unread"] | None = None
    message_type: Literal["SMS", "Fax", "VoiceMail", "Pager"] | None = None
    conversation_id: str | None = None
    distinct: bool = False
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ShowMessage:
    message_id: str


@dataclass(frozen=True, slots=True)
class PlaceCall:
    to: str
    from_number: str | None = None
    from_label: str | None = None
    caller_id: str | None = None
    prompt: bool = False


@dataclass(frozen=True, slots=True)
class CallLogQuery:
    period: Period
    count: int = DEFAULT_COUNT
    missed: bool = False
    direction: Literal["Inbound", "Outbound"] | None = None
    phone_number: str | None = None
    extension_number: str | None = None
    call_type: Literal["Voice", "Fax"] | None = None
    transport: Literal["PSTN", "VoIP"] | None = None
    recording_type: Literal["Automatic", "OnDemand", "All"] | None = None
    session_id: str | None = None
    blocked: bool = False
    deleted: bool = False
    detailed: bool = False


@dataclass(frozen=True, slots=True)
class ShowCall:
    record_id: str


# --- /sms ------------------------------------------------------------------------------


def parse_sms(
    text: str, *, region: str, now: datetime
) -> SendSms | MessageQuery | ShowMessage | Help:
    """`now` is aware, in the zone whose days `today` and `yesterday` mean."""
    words = text.split()
    if not words or words[0].lower() == "help":
        return Help(SMS_USAGE)
    verb = words[0].lower()
    if verb == "list":
        return _parse_message_query(text.split(None, 1)[1] if len(words) > 1 else "", region, now)
    if verb == "show":
        if len(words) != 2:
            raise UsageError("Show one message with `/sms show <id>`, the id from `/sms list`.")
        return ShowMessage(words[1])
    number = phone.leading_number(text, region)
    if number is None:
        raise UsageError(
            f"`{words[0]}` is not a phone number I can text. Type it in E.164 "
            f"(`+14155550123`) or as a {region} number, then the message. " + SMS_USAGE
        )
    # Exactly one separator goes; the rest is the message exactly as typed.
    message = text[number.end + 1 :]
    if not message.strip():
        raise UsageError(f"What should the text to {number.e164} say? `/sms {words[0]} <message>`")
    units = utf16_units(message)
    if units > SMS_MAX_UTF16_UNITS:
        raise UsageError(
            f"That message is {units} characters long; an SMS can carry {SMS_MAX_UTF16_UNITS} "
            "(emoji count as 2). Shorten it or send it in parts."
        )
    return SendSms(number.e164, message)


_MESSAGE_TYPES = {"sms": "SMS", "fax": "Fax", "voicemail": "VoiceMail", "pager": "Pager"}


def _parse_message_query(text: str, region: str, now: datetime) -> MessageQuery:
    fields: dict[str, object] = {}
    period: Period | None = None
    for token in _tokens(text, region, SMS_USAGE):
        kind, value = token.kind, token.value
        if kind == "phone":
            fields["phone_number"] = value
        elif kind == "count":
            fields["count"] = int(value)
        elif kind == "word" and value in ("in", "out"):
            fields["direction"] = "Inbound" if value == "in" else "Outbound"
        elif kind == "word" and value in ("read", "unread"):
            fields["read_status"] = value.capitalize()
        elif kind == "word" and value == "distinct":
            fields["distinct"] = True
        elif kind == "word" and value == "deleted":
            fields["deleted"] = True
        elif kind == "option" and token.key == "type":
            fields["message_type"] = _choice(token, _MESSAGE_TYPES)
        elif kind == "option" and token.key == "conversation":
            fields["conversation_id"] = value
        elif (found := _period(token, now, period)) is not None:
            period = found
        else:
            raise UsageError(f"I don't know `{token}` here. {SMS_USAGE}")
    # DESIGN §3.7: without a period, /sms list shows the last 7 days.
    period = period or Period(date_from=now - timedelta(days=7))
    return MessageQuery(period=period, **fields)  # type: ignore[arg-type]


# --- /call -----------------------------------------------------------------------------


def parse_call(text: str, *, region: str) -> PlaceCall | Help:
    words = text.split()
    if not words or words[0].lower() == "help":
        return Help(CALL_USAGE)
    to = phone.leading_number(text, region)
    if to is None:
        raise UsageError(f"`{words[0]}` is not a phone number I can call. {CALL_USAGE}")
    rest = text[to.end :].split()
    parts: dict[str, list[str]] = {}
    current: str | None = None
    prompt = False
    for word in rest:
        lowered = word.lower()
        if lowered in ("from", "as"):
            current = lowered
            parts[current] = []
        elif lowered == "prompt":
            prompt, current = True, None
        elif current is not None:
            parts[current].append(word)
        else:
            raise UsageError(f"I don't know `{word}` here. {CALL_USAGE}")
    from_number = from_label = caller_id = None
    if "from" in parts:
        value = " ".join(parts["from"])
        if not value:
            raise UsageError("Say which phone rings first: `from +16505550111` or `from Mobile`.")
        try:
            from_number = phone.parse(value, region)
        except phone.InvalidPhoneNumber:
            from_label = value  # a forwarding number named by its label (DESIGN §3.5)
    if "as" in parts:
        value = " ".join(parts["as"])
        try:
            caller_id = phone.parse(value, region)
        except phone.InvalidPhoneNumber:
            raise UsageError(
                f"`as {value}` should be one of the company's numbers, e.g. `as +16505550100`."
            ) from None
    return PlaceCall(to.e164, from_number, from_label, caller_id, prompt)


# --- /calllog --------------------------------------------------------------------------

_CALL_TYPES = {"voice": "Voice", "fax": "Fax"}
_TRANSPORTS = {"pstn": "PSTN", "voip": "VoIP"}
_RECORDINGS = {"automatic": "Automatic", "ondemand": "OnDemand", "all": "All"}


def parse_calllog(text: str, *, region: str, now: datetime) -> CallLogQuery | ShowCall | Help:
    words = text.split()
    if words and words[0].lower() == "help":
        return Help(CALLLOG_USAGE)
    fields: dict[str, object] = {}
    period: Period | None = None
    record_id: str | None = None
    for token in _tokens(text, region, CALLLOG_USAGE):
        kind, value = token.kind, token.value
        if kind == "phone":
            fields["phone_number"] = value
        elif kind == "count":
            fields["count"] = int(value)
        elif kind == "word" and value == "missed":
            fields["missed"] = True
        elif kind == "word" and value in ("inbound", "outbound"):
            fields["direction"] = value.capitalize()
        elif kind == "word" and value in ("blocked", "deleted", "detailed"):
            fields[value] = True
        elif kind == "option" and token.key == "ext":
            fields["extension_number"] = value
        elif kind == "option" and token.key == "type":
            fields["call_type"] = _choice(token, _CALL_TYPES)
        elif kind == "option" and token.key == "transport":
            fields["transport"] = _choice(token, _TRANSPORTS)
        elif kind == "option" and token.key == "recording":
            fields["recording_type"] = _choice(token, _RECORDINGS)
        elif kind == "option" and token.key == "session":
            fields["session_id"] = value
        elif (found := _period(token, now, period)) is not None:
            period = found
        elif kind == "id" and record_id is None:
            record_id = value
        else:
            raise UsageError(f"I don't know `{token}` here. {CALLLOG_USAGE}")
    if record_id is not None:
        if fields or period is not None:
            raise UsageError("Show one call with `/calllog <record id>` alone.")
        return ShowCall(record_id)
    if "session_id" in fields and (len(fields) > 1 or period is not None):
        # RingCentral CLG-110: sessionId cannot be combined with other filters.
        raise UsageError("`session:` cannot be combined with other filters; use it alone.")
    if fields.get("missed") and fields.get("direction") == "Outbound":
        raise UsageError("Missed calls are inbound; drop `outbound` or `missed`.")
    return CallLogQuery(period=period or Period(), **fields)  # type: ignore[arg-type]


# --- shared tokens -----------------------------------------------------------------------

TokenKind = Literal["phone", "count", "days", "word", "option", "id"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    value: str
    key: str = ""  # the `type` of `type:fax`

    def __str__(self) -> str:
        if self.kind == "option":
            return f"{self.key}:{self.value}"
        return self.value + ("d" if self.kind == "days" else "")


_OPTION = re.compile(r"^([a-z]+):(.+)$", re.IGNORECASE)
_DAYS = re.compile(r"^(\d{1,4})d$", re.IGNORECASE)
_KEYWORDS = frozenset(
    {"in", "out", "read", "unread", "distinct", "deleted", "today", "yesterday"}
    | {"missed", "inbound", "outbound", "blocked", "detailed"}
)


def _tokens(text: str, region: str, usage: str) -> list[Token]:
    """Split arguments following DESIGN §3.7: a bare number up to 1000 is a count; a longer
    one, or one with `+`, starts a phone number (which may span words); a word with
    letters that is no keyword is a record or message id."""
    tokens: list[Token] = []
    rest = text
    while rest.strip():
        rest = rest.lstrip()
        word = rest.split(None, 1)[0]
        if word.startswith(("+", "(")) or (word.isdigit() and int(word) > MAX_COUNT):
            number = phone.leading_number(rest, region)
            if number is None:
                raise UsageError(f"`{word}` is not a phone number or a count. {usage}")
            tokens.append(Token("phone", number.e164))
            rest = rest[number.end :]
            continue
        rest = rest[len(word) :]
        if word.isdigit():
            if int(word) < 1:
                raise UsageError(f"A count is 1 to {MAX_COUNT}. {usage}")
            tokens.append(Token("count", word))
        elif (days := _DAYS.match(word)) is not None:
            tokens.append(Token("days", days.group(1)))
        elif (option := _OPTION.match(word)) is not None:
            tokens.append(Token("option", option.group(2), option.group(1).lower()))
        elif word.lower() in _KEYWORDS:
            tokens.append(Token("word", word.lower()))
        else:
            tokens.append(Token("id", word))
    return tokens


def _period(token: Token, now: datetime, current: Period | None) -> Period | None:
    """Fold a period token into the period so far; None when the token is no period."""
    midnight = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    if token.kind == "word" and token.value == "today":
        return Period(date_from=midnight)
    if token.kind == "word" and token.value == "yesterday":
        return Period(date_from=midnight - timedelta(days=1), date_to=midnight)
    if token.kind == "days":
        return Period(date_from=now - timedelta(days=int(token.value)))
    if token.kind == "option" and token.key in ("from", "to"):
        day = _date(token.value, now)
        base = current or Period()
        if token.key == "from":
            return Period(date_from=day, date_to=base.date_to)
        return Period(date_from=base.date_from, date_to=day + timedelta(days=1))
    return None


def _date(text: str, now: datetime) -> datetime:
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"`{text}` is not a date; write it as 2026-01-31.") from None
    return datetime.combine(parsed, time(), tzinfo=now.tzinfo)


def _choice(token: Token, choices: dict[str, str]) -> str:
    try:
        return choices[token.value.lower()]
    except KeyError:
        allowed = "|".join(choices)
        raise UsageError(f"`{token}` should be `{token.key}:{allowed}`.") from None
