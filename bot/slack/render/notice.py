"""A notice in, its message out (DESIGN §3.6): `Reply(text, blocks)` for
`chat.postMessage`/`chat.update`; the caller adds channel, thread and metadata."""

from __future__ import annotations

from bot.notices import CallNotice, FaxNotice, Handled, Notice, SmsNotice, Taken, VoicemailNotice

from .blocks import Reply, context
from .calls import render_answered_call, render_call, render_missed_call, render_voicemail
from .format import Locale, arrived_late
from .messages import render_fax, render_internal_message, render_sms


def render_notice(
    notice: Notice,
    *,
    locale: Locale,
    handled: Handled | None = None,
    taken: Taken | None = None,
    thread_parent: bool = True,
) -> Reply:
    """The message for `notice`. `locale` reads numbers and gives the time fallbacks their
    zone; `handled` (missed calls, voicemails and SMS conversations only, ValueError
    otherwise) shows who handled it instead of the button; `taken` (missed calls, voicemails, SMS
    conversations) names who took it instead of the Take it button; `thread_parent` (SMS
    only) picks the thread's first message or a compact reply in it. A `late` notice says
    when it happened, under its first block."""
    if handled is not None and notice.kind not in ("missed_call", "voicemail", "sms"):
        raise ValueError(f"a {notice.kind} is not marked handled")
    message = _render(notice, locale, handled, taken, thread_parent)
    if not notice.late:
        return message
    mark = context(arrived_late(notice.at, locale)).to_dict()
    return Reply(
        text=f"Arrived late: {message.text}",
        blocks=[*message.blocks[:1], mark, *message.blocks[1:]],
    )


def _render(
    notice: Notice,
    locale: Locale,
    handled: Handled | None,
    taken: Taken | None,
    thread_parent: bool,
) -> Reply:
    if isinstance(notice, CallNotice):
        if notice.kind == "missed_call":
            return render_missed_call(notice, locale=locale, handled=handled, taken=taken)
        if notice.kind == "answered_call":
            return render_answered_call(notice, locale=locale)
        return render_call(notice, locale=locale)
    if isinstance(notice, VoicemailNotice):
        return render_voicemail(notice, locale=locale, handled=handled, taken=taken)
    if isinstance(notice, FaxNotice):
        return render_fax(notice, locale=locale)
    if isinstance(notice, SmsNotice):
        return render_sms(
            notice, locale=locale, thread_parent=thread_parent, handled=handled, taken=taken
        )
    return render_internal_message(notice, locale=locale)
