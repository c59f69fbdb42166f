"""`/call`: the live status of a RingOut, with a Cancel button while it can be cancelled.

RingOut rings the caller (`from`) first, then the callee (`to`); RingCentral reports a
status word for the call and for each party (SPEC `CallingStatusInfo`, reference §4.3).
"""

from __future__ import annotations

import contextlib

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.ringcentral.models import RingOutStatusInfo

from .blocks import Reply, context, reply, section
from .format import Locale, clip, code, number
from .values import RINGOUT_CANCEL_ACTION, CancelRingOutValue, encode_button_value

# A sentence per failure value; `{who}` is the party whose status it is.
_FAILURES: dict[str, tuple[str, str]] = {
    "Busy": ("Busy", "{who} is busy."),
    "NoAnswer": ("No answer", "No answer from {who}."),
    "Rejected": ("Declined", "{who} declined the call."),
    "GenericError": ("Failed", "RingCentral could not complete the call to {who}."),
    "Error": ("Failed", "RingCentral could not complete the call to {who}."),
    "Invalid": ("Invalid number", "RingCentral cannot call {who}: it says the number is invalid."),
    "RingOutFromThisNumberIsNotSupported": (
        "Not supported",
        "RingOut cannot ring {who}: RingCentral does not support RingOut with that number.",
    ),
    "InternationalDisabled": (
        "International calls disabled",
        "International calling is disabled for this account, so {who} cannot be rung.",
    ),
    "DestinationBlocked": ("Blocked", "Calls to {who} are blocked on this account."),
    "NotEnoughFunds": (
        "Not enough funds",
        "The RingCentral account has not enough funds for the call to {who}.",
    ),
    "NosuchUser": ("No such user", "RingCentral knows no user at {who}."),
    "NoSuchUser": ("No such user", "RingCentral knows no user at {who}."),
    "CannotReach": ("Cannot reach", "{who} cannot be reached."),
    "NoAnsweringMachine": (
        "No answer",
        "{who} did not answer, and no voicemail picked up.",
    ),
    "NoSessionFound": ("Ended", "RingCentral no longer knows this call; it has ended."),
    "Unknown": ("Unknown", "RingCentral reports an unknown status for the call to {who}."),
}
_NOT_FAILURES = frozenset({"InProgress", "Success", "Finished"})


def ringout_status(
    to: str,
    from_number: str | None,
    status: RingOutStatusInfo,
    *,
    ringout_id: str,
    cancellable: bool,
    locale: Locale,
    cancelled: bool = False,
    why: str | None = None,
) -> Reply:
    """Where a RingOut stands, as a sentence ("Ringing your phone (650) 555-0111…",
    "Connected", "Busy", …); a Cancel button (action `ringout_cancel`, its value what the
    cancelled status shows again) only while `cancellable` and the first leg is known.
    `cancelled` is the status after our own DELETE succeeded. `why`: our own sentence
    saying whose phone rings first and why (DESIGN §3.5), shown under the status."""
    callee = f"*{number(to, locale)}*"
    caller = f"your phone {number(from_number, locale)}" if from_number else "your phone"
    icon, label, sentence = _describe(status, caller, callee, cancelled=cancelled)
    head = sentence if sentence.startswith(label) else f"*{label}* — {sentence}"
    blocks: list[Block] = [section(f"{icon} {head}")]
    route = f"from {number(from_number, locale)} " if from_number else ""
    if why:
        blocks.append(context(why))
    blocks.append(context(f"RingOut {route}to {number(to, locale)} · id {code(ringout_id)}"))
    if cancellable and not cancelled and from_number:
        value = CancelRingOutValue(ringout_id=ringout_id, to=to, from_number=from_number)
        # A value no click could carry back (an odd id): no button rather than no reply.
        with contextlib.suppress(ValueError):
            button = ButtonElement(
                text="Cancel",
                action_id=RINGOUT_CANCEL_ACTION,
                value=encode_button_value(value),
                style="danger",
            )
            blocks.append(ActionsBlock(block_id=RINGOUT_CANCEL_ACTION, elements=[button]))
    return reply(sentence.replace("*", ""), blocks)


def _describe(
    status: RingOutStatusInfo, caller: str, callee: str, *, cancelled: bool
) -> tuple[str, str, str]:
    """(emoji, short label, sentence) for the status."""
    if cancelled:
        return ":no_entry_sign:", "Cancelled", f"The call to {callee} was cancelled."
    call, first, second = status.call_status, status.caller_status, status.callee_status
    for value, who in ((first, caller), (second, callee), (call, callee)):
        if value is not None and value not in _NOT_FAILURES:
            label, template = _FAILURES.get(
                value, (clip(value, 60), f"RingCentral reports {code(value, 60)} for {{who}}.")
            )
            return ":x:", label, template.replace("{who}", who)
    if call == "Finished" or "Finished" in (first, second):
        return ":checkered_flag:", "Finished", f"The call with {callee} has ended."
    if call == "Success" or (first == "Success" and second == "Success"):
        return ":white_check_mark:", "Connected", f"You are connected to {callee}."
    if first == "Success":
        return ":telephone_receiver:", "Ringing", f"You answered; now ringing {callee}…"
    return (
        ":telephone_receiver:",
        "Ringing",
        f"Ringing {caller}… Answer it and you will be connected to {callee}.",
    )
