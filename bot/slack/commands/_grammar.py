"""What the slash commands' grammars share (DESIGN §3.7): arguments as tokens, periods
(`today`, `7d`, `from:2026-01-31`), choices, and the error that says what to type instead.

Parsers take the text already turned back into plain text (`bot.slack.text.to_plain`) and
raise `UsageError` with a sentence that says what to type instead. They make no calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from bot import phone

MAX_COUNT = 1000  # "a bare number up to 1000 is a count" (DESIGN §3.7)
DEFAULT_COUNT = 20


class UsageError(ValueError):
    """What the person typed cannot be done; `str()` says what to type instead."""


@dataclass(frozen=True, slots=True)
class Help:
    text: str


@dataclass(frozen=True, slots=True)
class Period:
    date_from: datetime | None = None
    date_to: datetime | None = None


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


def tokens(text: str, region: str, usage: str) -> list[Token]:
    """Split arguments following DESIGN §3.7: a bare number up to 1000 is a count; a longer
    one, or one with `+`, starts a phone number (which may span words); a word with
    letters that is no keyword is a record or message id."""
    found: list[Token] = []
    rest = text
    while rest.strip():
        rest = rest.lstrip()
        word = rest.split(None, 1)[0]
        if word.startswith(("+", "(")) or (word.isdigit() and int(word) > MAX_COUNT):
            number = phone.leading_number(rest, region)
            if number is None:
                raise UsageError(f"`{word}` is not a phone number or a count. {usage}")
            found.append(Token("phone", number.e164))
            rest = rest[number.end :]
            continue
        rest = rest[len(word) :]
        if word.isdigit():
            if int(word) < 1:
                raise UsageError(f"A count is 1 to {MAX_COUNT}. {usage}")
            found.append(Token("count", word))
        elif (days := _DAYS.match(word)) is not None:
            found.append(Token("days", days.group(1)))
        elif (option := _OPTION.match(word)) is not None:
            found.append(Token("option", option.group(2), option.group(1).lower()))
        elif word.lower() in _KEYWORDS:
            found.append(Token("word", word.lower()))
        else:
            found.append(Token("id", word))
    return found


def fold_period(token: Token, now: datetime, current: Period | None) -> Period | None:
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


def choice(token: Token, choices: dict[str, str]) -> str:
    try:
        return choices[token.value.lower()]
    except KeyError:
        allowed = "|".join(choices)
        raise UsageError(f"`{token}` should be `{token.key}:{allowed}`.") from None
