"""The formatters every rendered message shares: outside text escaped and cut to Slack's
limits, parties and numbers, times, durations, ids, right-to-left isolation.

Outside text enters a message only through these functions, which escape it
(`bot.slack.text.escape`) and cut it after escaping; the mrkdwn around it is ours. A name
or number holding right-to-left text or bidi controls is wrapped in Unicode isolates, so it
cannot reorder our own words or the number next to it. Every time is a Slack date token
(DESIGN §3.6): each reader sees it in their own time zone, and the fallback (notifications,
clients that cannot show the token) is in the account's.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from bot import phone
from bot.notices import Party
from bot.slack.text import escape

__all__ = [
    "Locale",
    "arrived_late",
    "clip",
    "code",
    "duration",
    "escape",
    "fallback",
    "fit",
    "isolate",
    "label",
    "name",
    "number",
    "one_line",
    "party",
    "plural",
    "quote",
    "quote_parts",
    "recipients",
    "when",
    "who",
]

ELLIPSIS = "…"
NAME_MAX = 80  # a caller name or location longer than this is noise
NUMBER_MAX = 40  # a number RingCentral sent that does not parse is shown, cut
EXTENSION_MAX = 20
RECIPIENTS_SHOWN = 8
FALLBACK_BODY_MAX = 300  # of the text, in the one-line fallback (a notification preview)

_BIDI = frozenset({"R", "AL", "RLE", "RLO", "LRE", "LRO", "RLI", "LRI", "FSI", "PDF", "PDI"})
_FSI, _PDI = "\u2068", "\u2069"


@dataclass(frozen=True, slots=True)
class Locale:
    """Where the account is: `region` reads numbers (national form at home, ISO country
    code), `tz` is the zone of the time fallbacks (the account's, DESIGN §3.2)."""

    region: str
    tz: tzinfo


# --- outside text ----------------------------------------------------------------------------


def fit(raw: str, render: Callable[[str], str], limit: int) -> str:
    """`render(raw)`, or if that passes `limit`, `render` of the longest prefix of `raw`
    plus an ellipsis that stays within it. `render` must not shrink as its input grows
    (escaping, quoting, wrapping do not), so the cut point is found by bisection; the cut
    never falls inside an entity because escaping happens after the cut."""
    whole = render(raw)
    if len(whole) <= limit:
        return whole
    low, high = 0, len(raw)  # render(raw[:low] + "…") fits; raw[:high] does not
    while high - low > 1:
        mid = (low + high) // 2
        if len(render(raw[:mid] + ELLIPSIS)) <= limit:
            low = mid
        else:
            high = mid
    return render(raw[:low].rstrip() + ELLIPSIS)


def clip(raw: str, limit: int) -> str:
    """Outside text escaped and cut to `limit` characters (counted after escaping)."""
    return fit(raw, escape, limit)


def one_line(raw: str) -> str:
    """Outside text on one line (names, list previews): runs of whitespace become one space."""
    return " ".join(raw.split())


def _quoted(text: str) -> str:
    return "\n".join(f">{line}" for line in escape(text).split("\n"))


def quote(raw: str, limit: int) -> str:
    """Outside text as an escaped mrkdwn block quote, within `limit` characters."""
    return fit(raw, _quoted, limit)


def _longest_prefix(raw: str, limit: int) -> int:
    """The largest n with `_quoted(raw[:n])` within `limit` (quoting never shrinks)."""
    low, high = 0, len(raw)
    while high - low > 1:
        mid = (low + high) // 2
        if len(_quoted(raw[:mid])) <= limit:
            low = mid
        else:
            high = mid
    return low


def quote_parts(raw: str, limit: int, parts: int) -> list[str]:
    """Outside text as escaped block quotes of at most `limit` characters each, split at
    whitespace where it can be; past `parts` pieces the last is cut with an ellipsis. The
    cut happens before escaping, so no entity is split."""
    chunks: list[str] = []
    rest = raw.strip()
    while rest:
        if len(chunks) == parts - 1 or len(_quoted(rest)) <= limit:
            chunks.append(fit(rest, _quoted, limit))
            break
        cut = _longest_prefix(rest, limit)
        space = max(rest.rfind(" ", 0, cut + 1), rest.rfind("\n", 0, cut + 1))
        if space > cut // 2:
            cut = space
        chunks.append(_quoted(rest[:cut].rstrip()))
        rest = rest[cut:].lstrip()
    return chunks


def isolate(text: str) -> str:
    """`text` in a first-strong isolate when it holds right-to-left text or bidi controls."""
    if any(unicodedata.bidirectional(c) in _BIDI for c in text):
        return f"{_FSI}{text}{_PDI}"
    return text


def code(raw: str, limit: int = 200) -> str:
    """An id from outside as inline code, escaped; backticks inside would end the span."""
    return "`" + clip(raw.replace("`", "'"), limit) + "`"


def fallback(head: str, text: str | None = None) -> str:
    """A message's `text`: the fact in one line, with the start of the text if any."""
    if text and text.strip():
        return f"{head}: {clip(one_line(text), FALLBACK_BODY_MAX)}"
    return head


# --- parties ---------------------------------------------------------------------------------


def name(raw: str | None) -> str:
    """A name from outside, escaped, on one line, cut, isolated; empty when there is none."""
    return isolate(clip(one_line(raw), NAME_MAX)) if raw and raw.strip() else ""


def number(e164: str | None, locale: Locale) -> str:
    """A phone number as people read it there (national form at home), escaped and
    isolated (a number RingCentral sent may be anything); empty when there is none."""
    if not e164 or not e164.strip():
        return ""
    return isolate(clip(one_line(phone.format_display(e164, locale.region)), NUMBER_MAX))


def party(
    raw_name: str | None,
    e164: str | None,
    locale: Locale,
    *,
    extension: str | None = None,
    location: str | None = None,
    bold: bool = True,
) -> str:
    """`*Jane Doe* (415) 555-0123 ext. 101 (San Mateo, CA)`: whatever is given, escaped;
    `_unknown_` (plain: `unknown`) when nothing is."""
    parts: list[str] = []
    shown = name(raw_name)
    if shown:
        parts.append(f"*{shown}*" if bold else shown)
    if shown_number := number(e164, locale):
        parts.append(shown_number)
    if extension and extension.strip():
        parts.append(f"ext. {isolate(clip(one_line(extension), EXTENSION_MAX))}")
    if location and location.strip():
        parts.append(f"({isolate(clip(one_line(location), NAME_MAX))})")
    return " ".join(parts) or ("_unknown_" if bold else "unknown")


def who(p: Party, locale: Locale, *, bold: bool = True) -> str:
    """A notice's party: `*Jane Doe* (415) 555-0123 ext. 101`."""
    return party(p.name, p.number, locale, extension=p.extension_number, bold=bold)


def label(p: Party, locale: Locale) -> str:
    """The party in plain words, for a fallback text (escaped all the same)."""
    return who(p, locale, bold=False)


def recipients(parties: Sequence[Party], locale: Locale) -> str:
    if not parties:
        return "_unknown_"
    shown = [who(p, locale) for p in parties[:RECIPIENTS_SHOWN]]
    if len(parties) > RECIPIENTS_SHOWN:
        shown.append(f"and {len(parties) - RECIPIENTS_SHOWN} more")
    return ", ".join(shown)


# --- numbers and times -----------------------------------------------------------------------


def when(moment: datetime | None, locale: Locale) -> str:
    """A Slack date token: the reader's own time zone, the account's in the fallback."""
    if moment is None:
        return "_time unknown_"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    there = aware.astimezone(locale.tz).strftime("%Y-%m-%d %H:%M %Z")
    return f"<!date^{int(aware.timestamp())}^{{date_short_pretty}} {{time}}|{escape(there)}>"


def arrived_late(moment: datetime | None, locale: Locale) -> str:
    """The mark of a notice catch-up recovered (DESIGN §3.10): when it really happened."""
    return f":hourglass: Arrived late: happened at {when(moment, locale)}"


def duration(seconds: int | None) -> str:
    """`h:mm:ss`, e.g. `0:01:05`; a dash when RingCentral gave none."""
    if seconds is None or seconds < 0:
        return "–"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
