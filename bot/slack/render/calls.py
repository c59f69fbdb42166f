"""Calls: the notifications (a missed call with its buttons and who handled it, an answered
call, a finished call, a voicemail with its transcript or why there is none yet), and the
`/calllog` replies (a page of call-log records, one record in the Detailed view)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, SectionBlock

from bot.notices import CallNotice, Handled, Party, Taken, VoicemailNotice
from bot.ringcentral.models import CallLogLeg, CallLogParty, CallLogRecord
from bot.slack.text import escape

from .blocks import (
    MESSAGE_MAX_BLOCKS,
    Reply,
    body,
    context,
    mrkdwn,
    newest_first,
    pack,
    page_buttons,
    reply,
    section,
)
from .format import (
    NAME_MAX,
    Locale,
    clip,
    code,
    duration,
    fallback,
    label,
    one_line,
    party,
    plural,
    when,
    who,
)
from .values import (
    CALL_BACK_ACTION,
    CALLLOG_ACTION,
    MARK_HANDLED_ACTION,
    TAKE_IT_ACTION,
    TEXT_BACK_ACTION,
    ButtonValue,
    CallBackValue,
    MarkHandledValue,
    NoticeKind,
    PageValue,
    TakeItValue,
    TextBackValue,
    dialable,
    encode_button_value,
)

# Results a reader should notice (SPEC `CallResultEnum` has 46 values; these mean "no talk").
_UNHAPPY = frozenset(
    {"Missed", "Voicemail", "No Answer", "Busy", "Rejected", "Hang Up", "Blocked", "Declined"}
)
# RingCentral `vmTranscriptionStatus` when there is no transcript to show.
_NO_TRANSCRIPT = {
    "InProgress": ":hourglass_flowing_sand: Transcript on its way",
    "Completed": "The transcript is empty",
    "CompletedPartially": "The transcript is empty",
    "NotAvailable": "No transcript: transcription is off or not offered",
    "TimedOut": "No transcript: transcription timed out",
    "Failed": "No transcript: transcription failed",
}
# A Slack user id as a click reports it; the handler mention is built only from this.
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,40}")


# --- notifications ---------------------------------------------------------------------------


def render_missed_call(
    notice: CallNotice,
    *,
    locale: Locale,
    handled: Handled | None = None,
    taken: Taken | None = None,
) -> Reply:
    """Who called, which of our numbers or extensions, when; Call back and Text back (when
    the caller has a number), Take it, which gives way to who took it, and Mark handled,
    which gives way to who handled it and when."""
    head = f":telephone_receiver: *Missed call* from {who(notice.caller, locale)}"
    to = f"{_to(notice.callee, locale)} · {when(notice.at, locale)}"
    blocks: list[Block] = [section(f"{head}\n{to}")]
    if taken is not None:
        blocks.append(context(taken_line(taken, locale)))
    if handled is not None:
        blocks.append(context(handled_line(handled, locale)))
    buttons = callback_buttons(
        notice.caller.number,
        notice.caller.name,
        notice.company_number or notice.callee.number,
        missed_call=None if handled else notice.item,
        take=None if handled or taken else ("missed_call", notice.item),
    )
    if buttons is not None:
        blocks.append(buttons)
    text = f"Missed call from {label(notice.caller, locale)}"
    return reply(text + (" (handled)" if handled else ""), blocks)


def render_answered_call(notice: CallNotice, *, locale: Locale) -> Reply:
    """Who answered whom: the answering party, the caller, the number or extension called."""
    caller = who(notice.caller, locale)
    if notice.answered_by is not None:
        head = f"{who(notice.answered_by, locale)} answered a call from {caller}"
        text = f"{label(notice.answered_by, locale)} answered a call from "
    else:
        head, text = f"Answered a call from {caller}", "Answered a call from "
    lines = [f":telephone_receiver: *Call answered*: {head}", _to(notice.callee, locale)]
    lines[1] += f" · {when(notice.at, locale)}"
    return reply(text + label(notice.caller, locale), [section("\n".join(lines))])


def render_call(notice: CallNotice, *, locale: Locale) -> Reply:
    """A finished call: direction, caller → callee, when, how long, and how it ended."""
    kind = clip(one_line(f"{notice.direction} call"), 40)  # typed, yet escaped like all
    head = f"*{kind}* {who(notice.caller, locale)} → {who(notice.callee, locale)}"
    facts = [when(notice.at, locale), duration(notice.duration), _result(notice.result)]
    if notice.answered_by is not None:
        facts.append(f"answered by {who(notice.answered_by, locale)}")
    line = f":telephone_receiver: {head}\n{' · '.join(facts)}"
    text = (
        f"{kind} from {label(notice.caller, locale)} to "
        f"{label(notice.callee, locale)}, {duration(notice.duration)}"
    )
    if notice.result and notice.result.strip():
        text += f", {_result(notice.result, bold=False)}"
    return reply(text, [section(line)])


def render_voicemail(
    notice: VoicemailNotice,
    *,
    locale: Locale,
    handled: Handled | None = None,
    taken: Taken | None = None,
) -> Reply:
    """Caller, length, the transcript when RingCentral has it (otherwise whether it is on its
    way), "audio in thread"; Call back, Text back, Take it and Mark handled like a missed
    call (DESIGN §3.12: a voicemail is open until marked handled)."""
    head = f":studio_microphone: *Voicemail* from {who(notice.caller, locale)}"
    if notice.duration is not None:
        head += f" · {duration(notice.duration)}"
    line = f"For {who(notice.to, locale)} · {when(notice.at, locale)}"
    blocks: list[Block] = [section(f"{head}\n{line}")]
    transcript = notice.transcript if notice.transcript and notice.transcript.strip() else None
    notes: list[str] = []
    if transcript is not None:
        blocks += body(transcript)
        if notice.transcript_status == "CompletedPartially":
            notes.append("Partial transcript")
    else:
        notes.append(_no_transcript(notice.transcript_status))
    if notice.audio is not None:
        notes.append(":speaker: Audio in thread")
    blocks.append(context(" · ".join(notes)))
    if taken is not None:
        blocks.append(context(taken_line(taken, locale)))
    if handled is not None:
        blocks.append(context(handled_line(handled, locale)))
    buttons = callback_buttons(
        notice.caller.number,
        notice.caller.name,
        notice.company_number or notice.to.number,
        missed_call=None if handled else notice.item,
        take=None if handled or taken else ("voicemail", notice.item),
        kind="voicemail",
    )
    if buttons is not None:
        blocks.append(buttons)
    text = f"Voicemail from {label(notice.caller, locale)}"
    if notice.duration is not None:
        text += f", {duration(notice.duration)}"
    return reply(fallback(text + (" (handled)" if handled else ""), transcript), blocks)


def handled_line(handled: Handled, locale: Locale) -> str:
    """`:white_check_mark: Handled by <@U…> · <date>`; ValueError for an id that is no
    Slack user id (the mention is the one control sequence we make, never from outside)."""
    if not _USER_ID.fullmatch(handled.user_id):
        raise ValueError("Handled.user_id does not look like a Slack user id")
    return f":white_check_mark: Handled by <@{handled.user_id}> · {when(handled.at, locale)}"


def taken_line(taken: Taken, locale: Locale) -> str:
    """`:raising_hand: Taken by <@U…> · <date>` (the same rule for the id as handled_line)."""
    if not _USER_ID.fullmatch(taken.user_id):
        raise ValueError("Taken.user_id does not look like a Slack user id")
    return f":raising_hand: Taken by <@{taken.user_id}> · {when(taken.at, locale)}"


def callback_buttons(
    number: str | None,
    name: str | None,
    company_number: str | None,
    *,
    missed_call: str | None = None,
    take: tuple[NoticeKind, str] | None = None,
    kind: NoticeKind = "missed_call",
) -> ActionsBlock | None:
    """Call back and Text back when the caller's number can be dialled, Take it for the
    (kind, item) in `take`, Mark handled when the item of a `missed_call` (or of another
    `kind`: an SMS conversation's first message) is given; None when there is no button."""
    buttons: list[ButtonElement] = []
    if number is not None and dialable(number):
        short = " ".join(name.split())[:NAME_MAX] if name else ""
        call = CallBackValue(number=number, name=short or None)
        buttons.append(_button("Call back", CALL_BACK_ACTION, call))
        sender = company_number if dialable(company_number) else None
        text = TextBackValue(number=number, company_number=sender)
        buttons.append(_button("Text back", TEXT_BACK_ACTION, text))
    if take is not None:
        with contextlib.suppress(ValueError):  # as Mark handled, below
            claim = TakeItValue(kind=take[0], item=take[1])
            buttons.append(_button("Take it", TAKE_IT_ACTION, claim))
    if missed_call is not None:
        # An item no click could carry back: no button rather than no post.
        with contextlib.suppress(ValueError):
            handle = MarkHandledValue(kind=kind, item=missed_call)
            buttons.append(_button("Mark handled", MARK_HANDLED_ACTION, handle))
    return ActionsBlock(block_id="notice_actions", elements=buttons) if buttons else None


def _button(text: str, action_id: str, value: ButtonValue) -> ButtonElement:
    return ButtonElement(text=text, action_id=action_id, value=encode_button_value(value))


def _to(callee: Party, locale: Locale) -> str:
    return f"To {who(callee, locale)}"


def _no_transcript(status: str | None) -> str:
    if status is None:
        return "No transcript yet"
    return _NO_TRANSCRIPT.get(status, f"No transcript (status {clip(one_line(status), 40)})")


def _result(result: str | None, *, bold: bool = True) -> str:
    if not result or not result.strip():
        return "–"
    shown = clip(one_line(result), 60)
    return f"*{shown}*" if bold and result in _UNHAPPY else shown


# --- /calllog --------------------------------------------------------------------------------


def call_log_page(
    records: Sequence[CallLogRecord],
    *,
    locale: Locale,
    description: str,
    previous: PageValue | None = None,
    following: PageValue | None = None,
) -> Reply:
    """A page of calls, newest first: direction, from → to, time, duration, result and
    markers; Previous/Next buttons (action `calllog_page`, left out when None). Stays within
    Slack's limits whatever the count, saying how many it shows when it cannot show all."""
    ordered = sorted(records, key=lambda record: newest_first(record.start_time))
    intro = section(f"*Calls* — {clip(description, 500)}")
    buttons = page_buttons(CALLLOG_ACTION, previous, following)
    if not ordered:
        blocks: list[Block] = [intro, section("No calls match."), *buttons]
        return reply(f"No calls — {clip(description, 500)}", blocks)
    packed = pack(
        (_list_item(r, locale) for r in ordered),
        max_sections=MESSAGE_MAX_BLOCKS - 2 - len(buttons),
    )
    notes = [f"{plural(len(ordered), 'call')} on this page"]
    if packed.shown < len(ordered):
        notes[0] = (
            f"Showing the first {packed.shown} of {len(ordered)} calls on this page: a Slack "
            f"message holds only so much. Add a count (`{packed.shown}`) to `/calllog` to "
            "page through them all."
        )
    notes.append(escape("`/calllog <record id>` shows one call with its legs."))
    blocks = [intro, *packed.sections, context(*notes), *buttons]
    return reply(f"{plural(len(ordered), 'call')} — {clip(description, 500)}", blocks)


def call_detail(record: CallLogRecord, *, locale: Locale) -> Reply:
    """One call-log record in the Detailed view: parties, time, duration, result, recording,
    the voicemail or fax it left, then each leg (type, from → to, duration, result)."""
    kind = "Fax" if record.type == "Fax" else "Call"
    direction = clip(record.direction or "", 20)
    title = f"{direction} {kind.lower()}" if direction else kind
    heading = f"*{title}* · {when(record.start_time, locale)}"
    fields = [
        f"*From*\n{_party(record.from_, locale, location=True)}",
        f"*To*\n{_party(record.to, locale, location=True)}",
        f"*Duration*\n{duration(record.duration)}",
        f"*Result*\n{_log_result(record)}",
    ]
    if record.action:
        fields.append(f"*Action*\n{clip(record.action, 100)}")
    if record.transport:
        fields.append(f"*Transport*\n{clip(record.transport, 30)}")
    if record.recording:
        fields.append(f"*Recording*\n{clip(record.recording.type or 'Yes', 30)}")
    if record.message:
        left = clip(record.message.type or "Message", 30)
        fields.append(f"*Left a message*\n{left} {code(record.message.id, 100)}")
    blocks: list[Block] = [SectionBlock(text=mrkdwn(heading), fields=[mrkdwn(f) for f in fields])]
    if record.legs:
        legs_heading = f"*{plural(len(record.legs), 'leg')}*"
        legs = pack(
            [legs_heading, *(_leg(i, leg, locale) for i, leg in enumerate(record.legs, 1))],
            max_sections=MESSAGE_MAX_BLOCKS - 3,
        )
        blocks += legs.sections
        if legs.shown - 1 < len(record.legs):
            blocks.append(context(f"Showing {legs.shown - 1} of {len(record.legs)} legs."))
    facts = [f"Record {code(record.id)}"]
    if record.session_id:
        facts.append(f"session {code(record.session_id)}")
    if record.telephony_session_id:
        facts.append(f"telephony session {code(record.telephony_session_id)}")
    blocks.append(context(" · ".join(facts)))
    text = (
        f"{kind} {_plain(record.from_, locale)} → {_plain(record.to, locale)}, "
        f"{duration(record.duration)}, {clip(record.result or 'no result', 60)}"
    )
    return reply(text, blocks)


def _party(p: CallLogParty | None, locale: Locale, *, location: bool = False) -> str:
    if p is None:
        return "_unknown_"
    return party(
        p.name,
        p.phone_number,
        locale,
        # The call log names an extension by its number only when it has no phone number.
        extension=None if p.phone_number else p.extension_number,
        location=p.location if location else None,
    )


def _plain(p: CallLogParty | None, locale: Locale) -> str:
    return _party(p, locale).replace("*", "").replace("_", "")


def _log_result(call: CallLogRecord | CallLogLeg) -> str:
    result = clip(call.result, 60) if call.result else "–"
    if call.result in _UNHAPPY:
        result = f"*{result}*"
    if call.reason_description and call.reason_description != call.result:
        result += f" ({clip(call.reason_description, 200)})"
    return result


def _markers(record: CallLogRecord) -> list[str]:
    marks = []
    if record.type == "Fax":
        marks.append(":fax: fax")
    if record.recording is not None:
        marks.append(":red_circle: recorded")
    if record.message is not None and (record.message.type or "").lower() == "voicemail":
        marks.append(":studio_microphone: voicemail")
    return marks


def _list_item(record: CallLogRecord, locale: Locale) -> str:
    arrow = {"Inbound": "← *In*", "Outbound": "→ *Out*"}.get(record.direction or "", "*Call*")
    head = f"{arrow} {_party(record.from_, locale)} → {_party(record.to, locale)}"
    facts = [
        when(record.start_time, locale),
        duration(record.duration),
        _log_result(record),
        *_markers(record),
        code(record.id, 60),
    ]
    return f"{head}\n{' · '.join(facts)}"


def _leg(index: int, leg: CallLogLeg, locale: Locale) -> str:
    kind = clip(leg.leg_type or "Leg", 60)
    head = f"{index}. *{kind}* {_party(leg.from_, locale)} → {_party(leg.to, locale)}"
    facts = [duration(leg.duration), _log_result(leg)]
    if leg.action:
        facts.append(clip(leg.action, 60))
    if leg.master:
        facts.append("main leg")
    return f"{head}\n{' · '.join(facts)}"
