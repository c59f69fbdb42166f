"""`/calllog`: a page of call-log records, and one record in the Detailed view (its legs)."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, SectionBlock

from bot.ringcentral.models import CallLogLeg, CallLogParty, CallLogRecord
from bot.slack.text import escape

from ._blocks_base import (
    MESSAGE_MAX_BLOCKS,
    Reply,
    clip,
    code,
    context,
    duration,
    mrkdwn,
    newest_first,
    pack,
    page_buttons,
    party,
    plural,
    reply,
    section,
    when,
)

CALLLOG_ACTION = "calllog_page"
# Results a reader should notice (SPEC `CallResultEnum` has 46 values; these mean "no talk").
_UNHAPPY = frozenset(
    {"Missed", "Voicemail", "No Answer", "Busy", "Rejected", "Hang Up", "Blocked", "Declined"}
)


def call_log_page(
    records: Sequence[CallLogRecord],
    *,
    region: str,
    description: str,
    prev_value: str | None = None,
    next_value: str | None = None,
) -> Reply:
    """A page of calls, newest first: direction, from → to, time, duration, result and
    markers; Previous/Next buttons (action `calllog_page`, left out when None). Stays within
    Slack's limits whatever the count, saying how many it shows when it cannot show all."""
    ordered = sorted(records, key=lambda record: newest_first(record.start_time))
    intro = section(f"*Calls* — {clip(description, 500)}")
    buttons = page_buttons(CALLLOG_ACTION, prev_value, next_value)
    if not ordered:
        blocks: list[Block] = [intro, section("No calls match."), *buttons]
        return reply(f"No calls — {clip(description, 500)}", blocks)
    packed = pack(
        (_list_item(r, region) for r in ordered),
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


def call_detail(record: CallLogRecord, *, region: str) -> Reply:
    """One call-log record in the Detailed view: parties, time, duration, result, recording,
    the voicemail or fax it left, then each leg (type, from → to, duration, result)."""
    kind = "Fax" if record.type == "Fax" else "Call"
    direction = clip(record.direction or "", 20)
    label = f"{direction} {kind.lower()}" if direction else kind
    title = f"*{label}* · {when(record.start_time, long=True)}"
    fields = [
        f"*From*\n{_party(record.from_, region, location=True)}",
        f"*To*\n{_party(record.to, region, location=True)}",
        f"*Duration*\n{duration(record.duration)}",
        f"*Result*\n{_result(record)}",
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
    blocks: list[Block] = [SectionBlock(text=mrkdwn(title), fields=[mrkdwn(f) for f in fields])]
    if record.legs:
        heading = f"*{plural(len(record.legs), 'leg')}*"
        legs = pack(
            [heading, *(_leg(i, leg, region) for i, leg in enumerate(record.legs, 1))],
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
    fallback = (
        f"{kind} {_plain(record.from_, region)} → {_plain(record.to, region)}, "
        f"{duration(record.duration)}, {clip(record.result or 'no result', 60)}"
    )
    return reply(fallback, blocks)


# --- pieces ------------------------------------------------------------------------------


def _party(p: CallLogParty | None, region: str, *, location: bool = False) -> str:
    if p is None:
        return "_unknown_"
    return party(
        p.name,
        p.phone_number,
        region,
        extension=p.extension_number,
        location=p.location if location else None,
    )


def _plain(p: CallLogParty | None, region: str) -> str:
    return _party(p, region).replace("*", "").replace("_", "")


def _result(call: CallLogRecord | CallLogLeg) -> str:
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


def _list_item(record: CallLogRecord, region: str) -> str:
    arrow = {"Inbound": "← *In*", "Outbound": "→ *Out*"}.get(record.direction or "", "*Call*")
    head = f"{arrow} {_party(record.from_, region)} → {_party(record.to, region)}"
    facts = [
        when(record.start_time),
        duration(record.duration),
        _result(record),
        *_markers(record),
        code(record.id, 60),
    ]
    return f"{head}\n{' · '.join(facts)}"


def _leg(index: int, leg: CallLogLeg, region: str) -> str:
    kind = clip(leg.leg_type or "Leg", 60)
    head = f"{index}. *{kind}* {_party(leg.from_, region)} → {_party(leg.to, region)}"
    facts = [duration(leg.duration), _result(leg)]
    if leg.action:
        facts.append(clip(leg.action, 60))
    if leg.master:
        facts.append("main leg")
    return f"{head}\n{' · '.join(facts)}"
