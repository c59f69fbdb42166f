"""Call notifications: a missed call (with its buttons and who handled it), an answered
call, a finished call, and a voicemail (with its transcript, or why there is none yet)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.slack.notices import CallNotice, Handled, Party, VoicemailNotice

from ._blocks_base import Reply, clip, context, duration, one_line, reply, section, when
from ._notify_parts import body, fallback, handled_line, label, who
from ._notify_values import MarkHandledValue, callback_buttons

# Results a reader should notice (SPEC `CallResultEnum`): the call did not get through.
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


def render_missed_call(notice: CallNotice, *, region: str, handled: Handled | None = None) -> Reply:
    """Who called, which of our numbers or extensions, when; Call back and Text back (when
    the caller has a number) and Mark handled, which gives way to who handled it and when."""
    head = f":telephone_receiver: *Missed call* from {who(notice.caller, region)}"
    blocks: list[Block] = [section(f"{head}\n{_to(notice.callee, region)} · {when(notice.at)}")]
    if handled is not None:
        blocks.append(context(handled_line(handled)))
    handle = None if handled else MarkHandledValue(kind="missed_call", item=notice.item)
    buttons = callback_buttons(
        notice.caller.number,
        notice.caller.name,
        notice.company_number or notice.callee.number,
        handle=handle,
    )
    if buttons is not None:
        blocks.append(buttons)
    text = f"Missed call from {label(notice.caller, region)}"
    return reply(text + (" (handled)" if handled else ""), blocks)


def render_answered_call(notice: CallNotice, *, region: str) -> Reply:
    """Who answered whom: the answering party, the caller, the number or extension called."""
    caller = who(notice.caller, region)
    if notice.answered_by is not None:
        head = f"{who(notice.answered_by, region)} answered a call from {caller}"
        text = f"{label(notice.answered_by, region)} answered a call from "
    else:
        head, text = f"Answered a call from {caller}", "Answered a call from "
    lines = [f":telephone_receiver: *Call answered*: {head}", _to(notice.callee, region)]
    lines[1] += f" · {when(notice.at)}"
    return reply(text + label(notice.caller, region), [section("\n".join(lines))])


def render_call(notice: CallNotice, *, region: str) -> Reply:
    """A finished call: direction, caller → callee, when, how long, and how it ended."""
    kind = clip(one_line(f"{notice.direction} call"), 40)  # typed, yet escaped like all
    head = f"*{kind}* {who(notice.caller, region)} → {who(notice.callee, region)}"
    facts = [when(notice.at), duration(notice.duration), _result(notice.result)]
    if notice.answered_by is not None:
        facts.append(f"answered by {who(notice.answered_by, region)}")
    line = f":telephone_receiver: {head}\n{' · '.join(facts)}"
    text = (
        f"{kind} from {label(notice.caller, region)} to "
        f"{label(notice.callee, region)}, {duration(notice.duration)}"
    )
    if notice.result and notice.result.strip():
        text += f", {_result(notice.result, bold=False)}"
    return reply(text, [section(line)])


def render_voicemail(notice: VoicemailNotice, *, region: str) -> Reply:
    """Caller, length, the transcript when RingCentral has it (otherwise whether it is on its
    way), "audio in thread"; Call back and Text back like a missed call."""
    head = f":studio_microphone: *Voicemail* from {who(notice.caller, region)}"
    if notice.duration is not None:
        head += f" · {duration(notice.duration)}"
    line = f"For {who(notice.to, region)} · {when(notice.at)}"
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
    buttons = callback_buttons(
        notice.caller.number,
        notice.caller.name,
        notice.company_number or notice.to.number,
    )
    if buttons is not None:
        blocks.append(buttons)
    text = f"Voicemail from {label(notice.caller, region)}"
    if notice.duration is not None:
        text += f", {duration(notice.duration)}"
    return reply(fallback(text, transcript), blocks)


# --- pieces ------------------------------------------------------------------------------


def _to(callee: Party, region: str) -> str:
    return f"To {who(callee, region)}"


def _result(result: str | None, *, bold: bool = True) -> str:
    if not result or not result.strip():
        return "–"
    shown = clip(one_line(result), 60)
    return f"*{shown}*" if bold and result in _UNHAPPY else shown


def _no_transcript(status: str | None) -> str:
    if status is None:
        return "No transcript yet"
    return _NO_TRANSCRIPT.get(status, f"No transcript (status {clip(one_line(status), 40)})")
