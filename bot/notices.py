"""The bridge's vocabulary: what a notification says, before it is Block Kit. The bridge
turns RingCentral events into these (bot/bridge), the renderers turn them into messages
(bot/slack/render).

Numbers are E.164; times are aware UTC datetimes; every string may have come from outside
(caller names, SMS text, transcripts) and is escaped when rendered.

A notice is stored as versioned JSON (the posts table keeps it to render the message again
for a transcript or "Mark handled", possibly after an upgrade):

- version 0 (the releases before the version field): the notice object itself,
  `{"kind": "missed_call", "session_id": …}`;
- version 1: `{"version": 1, "notice": {…the same object…}}`.

A later change of a notice adds a version and a step in `_UPGRADES` that turns the stored
object of the version before into its own, so every row ever written still loads. A new
field with a default needs no new version: a row without it loads with the default (so
`late`, below, is still version 1).

`late`: the notice was recovered by catch-up (DESIGN §3.10), not brought by its event. It
is shown as "arrived late: happened at …" and marked `"late": true` in the post's
metadata. `at` is when it happened: what routing by the hours of that time reads. A late
notice never triggers an auto reply, and its reminders count from when it is posted (the
features that will read this flag).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

__all__ = [
    "NOTICE_VERSION",
    "Attachment",
    "CallNotice",
    "DigestNotice",
    "FaxNotice",
    "Handled",
    "Notice",
    "OpenItem",
    "PagerNotice",
    "Party",
    "SmsNotice",
    "Taken",
    "TakenCount",
    "VoicemailNotice",
    "dump_digest",
    "dump_notice",
    "group_key",
    "load_digest",
    "load_notice",
]


@dataclass(frozen=True, slots=True)
class Party:
    number: str | None = None  # E.164, or None for an internal party without one
    name: str | None = None
    extension_number: str | None = None

    @property
    def label(self) -> str:
        """Plain text naming the party, for fallbacks and logs (unescaped)."""
        parts = [p for p in (self.name, self.number) if p]
        if self.extension_number:
            parts.append(f"ext. {self.extension_number}")
        return " ".join(parts) or "Unknown caller"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file RingCentral holds (voicemail audio, fax PDF, MMS image), fetched by `uri`."""

    uri: str
    content_type: str
    attachment_id: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class CallNotice:
    """One call, judged per call (DESIGN §3.7): missed, answered, or finished."""

    kind: Literal["missed_call", "answered_call", "call"]
    session_id: str  # telephonySessionId
    party_id: str  # the watched party this notice is about
    direction: Literal["Inbound", "Outbound"]
    caller: Party
    callee: Party  # whom the caller dialled (a company number or extension)
    at: datetime  # when the call began
    answered_by: Party | None = None
    duration: int | None = None  # seconds, for a finished call
    result: str | None = None  # "Answered", "Missed", "Voicemail", "Busy", …
    extension_id: str | None = None  # the watched extension, for routing
    company_number: str | None = None  # our number involved, for routing and Text back
    late: bool = False  # recovered by catch-up (see the module)

    @property
    def item(self) -> str:
        return f"{self.session_id}:{self.party_id}"


@dataclass(frozen=True, slots=True)
class VoicemailNotice:
    kind: Literal["voicemail"]
    message_id: str
    caller: Party
    to: Party
    at: datetime
    duration: int | None = None  # seconds
    transcript: str | None = None  # set once RingCentral's transcription is Completed
    transcript_status: str | None = None  # InProgress, Completed, Failed, …
    audio: Attachment | None = None
    extension_id: str | None = None
    company_number: str | None = None
    late: bool = False

    @property
    def item(self) -> str:
        return self.message_id


@dataclass(frozen=True, slots=True)
class FaxNotice:
    kind: Literal["fax"]
    message_id: str
    sender: Party
    to: Party
    at: datetime
    pages: int | None = None
    document: Attachment | None = None
    extension_id: str | None = None
    company_number: str | None = None
    late: bool = False

    @property
    def item(self) -> str:
        return self.message_id


@dataclass(frozen=True, slots=True)
class SmsNotice:
    """An inbound SMS or MMS; threads are per (company_number, sender.number), and a group
    MMS's per (company_number, the set of other parties: the sender and `others`)."""

    kind: Literal["sms"]
    message_id: str
    sender: Party
    company_number: str
    text: str
    at: datetime
    attachments: tuple[Attachment, ...] = ()
    extension_id: str | None = None
    late: bool = False
    others: tuple[str, ...] = ()  # a group MMS: its other recipients (E.164), ours excluded
    # A text sent from our number outside the thread (DESIGN §3.8): `sender` is then the
    # other party it went to; `sent_by` names who (a Slack user id), `via` how (`sms`,
    # `text_back`, `auto_reply`; None: from the RingCentral app, "outside Slack").
    outbound: bool = False
    sent_by: str | None = None
    via: str | None = None

    @property
    def parties(self) -> tuple[str, ...]:
        """Everyone but us in the conversation, sorted: who a reply goes to."""
        return tuple(sorted({self.sender.number or "", *self.others} - {""}))

    @property
    def item(self) -> str:
        return self.message_id


def group_key(parties: Sequence[str]) -> str:
    """A group conversation's key in place of one other party's number (a thread key must
    stay short): `group:` and a digest of the sorted numbers."""
    digest = hashlib.sha256(",".join(sorted(parties)).encode()).hexdigest()[:20]
    return f"group:{digest}"


@dataclass(frozen=True, slots=True)
class PagerNotice:
    """An internal (company pager) message between extensions."""

    kind: Literal["internal_message"]
    message_id: str
    sender: Party
    to: tuple[Party, ...]
    text: str
    at: datetime
    extension_id: str | None = None
    late: bool = False

    @property
    def item(self) -> str:
        return self.message_id


Notice = CallNotice | VoicemailNotice | FaxNotice | SmsNotice | PagerNotice


_NOTICE: TypeAdapter[Notice] = TypeAdapter(
    Annotated[
        CallNotice | VoicemailNotice | FaxNotice | SmsNotice | PagerNotice,
        Field(discriminator="kind"),
    ]
)


NOTICE_VERSION = 1

# Each step turns the stored notice object of version n into that of version n + 1.
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: lambda notice: notice,  # version 1 only added the envelope around the same object
}


def dump_notice(notice: Notice) -> str:
    """A notice as versioned JSON (the posts table keeps it, to re-render the message)."""
    stored = {"version": NOTICE_VERSION, "notice": _NOTICE.dump_python(notice, mode="json")}
    return json.dumps(stored, ensure_ascii=False, separators=(",", ":"))


def load_notice(text: str) -> Notice:
    """A stored notice of any version this release or an earlier one wrote; ValueError for
    one it cannot read (a newer release's, or not a notice)."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a stored notice is a JSON object")
    version: Any = data.get("version", 0)
    notice: Any = data.get("notice") if "version" in data else data
    if type(version) is not int or not 0 <= version <= NOTICE_VERSION:
        raise ValueError(f"stored notice of version {version!r}; newest is {NOTICE_VERSION}")
    if not isinstance(notice, dict):
        raise ValueError("a stored notice holds a JSON object")
    for step in range(version, NOTICE_VERSION):
        notice = _UPGRADES[step](notice)
    return _NOTICE.validate_python(notice)


@dataclass(frozen=True, slots=True)
class Taken:
    """Who took a missed call, voicemail or SMS conversation ("Take it", DESIGN §3.12)."""

    user_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Handled:
    """Who marked a missed call handled, and when (shown as `<@U…>` and a Slack date)."""

    user_id: str
    at: datetime


# --- the daily digest (DESIGN §3.12) ----------------------------------------------------------
# Not a notification: the bridge's own summary of what was posted into a channel. It goes
# through the posts table like one (kind "digest", item its local day), but is stored and
# read on its own, never as a `Notice`.


@dataclass(frozen=True, slots=True)
class OpenItem:
    """A missed call, voicemail or text conversation nobody marked handled; `link` is its
    message's permalink (None while it is not posted yet)."""

    kind: Literal["missed_call", "voicemail", "sms"]
    party: Party  # the caller, or the conversation's other party
    at: datetime
    link: str | None = None
    taken_by: str | None = None  # a Slack user id


@dataclass(frozen=True, slots=True)
class TakenCount:
    """What one person took (Take it) among the digest's items."""

    user_id: str
    missed_calls: int = 0
    voicemails: int = 0
    conversations: int = 0


@dataclass(frozen=True, slots=True)
class DigestNotice:
    """What was posted into a channel between `since` and `until`, sent on `day` (the
    account's local day). Counts are as things stood at `until`."""

    kind: Literal["digest"]
    day: date
    since: datetime
    until: datetime
    missed_calls: int = 0
    missed_open: int = 0
    missed_handled: int = 0
    voicemails: int = 0
    voicemails_open: int = 0
    conversations: int = 0
    conversations_open: int = 0
    texts: int = 0  # messages, both ways, in those conversations
    taken: tuple[TakenCount, ...] = ()
    still_open: tuple[OpenItem, ...] = ()  # oldest first

    @property
    def item(self) -> str:
        return self.day.isoformat()


_DIGEST: TypeAdapter[DigestNotice] = TypeAdapter(DigestNotice)


def dump_digest(digest: DigestNotice) -> str:
    """A digest as versioned JSON, like a notice (`dump_notice`)."""
    stored = {"version": 1, "digest": _DIGEST.dump_python(digest, mode="json")}
    return json.dumps(stored, ensure_ascii=False, separators=(",", ":"))


def load_digest(text: str) -> DigestNotice:
    """ValueError for what is not a digest this release wrote."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("version") != 1:
        raise ValueError("not a stored digest of version 1")
    return _DIGEST.validate_python(data.get("digest"))
