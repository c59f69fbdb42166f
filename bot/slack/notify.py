"""Pure Block Kit rendering of the notifications (DESIGN §3.6): a notice in, `Reply(text,
blocks)` out, for `chat.postMessage`/`chat.update` (the caller adds channel, thread and
metadata). No I/O.

All outside text (names, numbers that do not parse, SMS text, transcripts) is escaped and
cut to Slack's limits; the only control sequences in a message are ours: `<!date^…>` and
the `<@U…>` of whoever marked a missed call handled (the clicking user's id, checked).

Buttons (`bot.slack._notify_values` documents their values): `call_back`, `text_back` on
missed calls and voicemails whose caller has a number, `mark_handled` on missed calls not
yet handled. `decode_button_value()` reads a click's value back, refusing forged ones.
"""

from __future__ import annotations

from bot.slack.notices import CallNotice, FaxNotice, Handled, Notice, SmsNotice, VoicemailNotice

from ._blocks_base import Reply
from ._notify_calls import render_answered_call, render_call, render_missed_call, render_voicemail
from ._notify_messages import REPLY_HINT, render_fax, render_internal_message, render_sms
from ._notify_values import (
    CALL_BACK_ACTION,
    MARK_HANDLED_ACTION,
    TEXT_BACK_ACTION,
    ButtonValue,
    CallBackValue,
    MarkHandledValue,
    NoticeKind,
    TextBackValue,
    decode_button_value,
    encode_button_value,
)

__all__ = [
    "CALL_BACK_ACTION",
    "MARK_HANDLED_ACTION",
    "REPLY_HINT",
    "TEXT_BACK_ACTION",
    "ButtonValue",
    "CallBackValue",
    "MarkHandledValue",
    "NoticeKind",
    "Reply",
    "TextBackValue",
    "decode_button_value",
    "encode_button_value",
    "render_answered_call",
    "render_call",
    "render_fax",
    "render_internal_message",
    "render_missed_call",
    "render_notice",
    "render_sms",
    "render_voicemail",
]


def render_notice(
    notice: Notice,
    *,
    region: str,
    handled: Handled | None = None,
    thread_parent: bool = True,
) -> Reply:
    """The message for `notice`. `region` reads numbers (national form at home); `handled`
    (missed calls only, ValueError otherwise) shows who handled it instead of the button;
    `thread_parent` (SMS only) picks the thread's first message or a compact reply in it."""
    if handled is not None and notice.kind != "missed_call":
        raise ValueError(f"only a missed call is marked handled, not a {notice.kind}")
    if isinstance(notice, CallNotice):
        if notice.kind == "missed_call":
            return render_missed_call(notice, region=region, handled=handled)
        if notice.kind == "answered_call":
            return render_answered_call(notice, region=region)
        return render_call(notice, region=region)
    if isinstance(notice, VoicemailNotice):
        return render_voicemail(notice, region=region)
    if isinstance(notice, FaxNotice):
        return render_fax(notice, region=region)
    if isinstance(notice, SmsNotice):
        return render_sms(notice, region=region, thread_parent=thread_parent)
    return render_internal_message(notice, region=region)
