"""The bridge: RingCentral events judged and classified into notices (pure logic here;
the dispatcher that stores state and posts to Slack composes these)."""

from ._call_log import calls_from_log
from .calls import SessionState, Watched, apply, expire
from .classify import (
    Followup,
    PagerFollowup,
    VoicemailFollowup,
    dedupe_key,
    message_store_followups,
    notice_from_event,
    notice_from_message,
    transcript_attachment,
)

__all__ = [
    "Followup",
    "PagerFollowup",
    "SessionState",
    "VoicemailFollowup",
    "Watched",
    "apply",
    "calls_from_log",
    "dedupe_key",
    "expire",
    "message_store_followups",
    "notice_from_event",
    "notice_from_message",
    "transcript_attachment",
]
