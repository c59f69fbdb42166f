"""`/call`: the live status of a RingOut, with a Cancel button while it can be cancelled.

RingOut rings the caller (`from`) first, then the callee (`to`); RingCentral reports a
status word for the call and for each party (SPEC `CallingStatusInfo`, reference §4.3).
"""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.ringcentral.models import RingOutStatusInfo

from ._blocks_base import Reply, clip, code, context, number, reply, section

RINGOUT_CANCEL_ACTION = "ringout_cancel"

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
    region: str,
    cancelled: bool = False,
    cancel_value: str | None = None,
) -> Reply:
    """Where a RingOut stands, as a sentence ("Ringing your phone (650) 555-0111…",
    "Connected", "Busy", …); a Cancel button (action `ringout_cancel`, value the RingOut id)
    only while `cancellable` (its value `cancel_value`, by default the id). `cancelled` is
    the status after our own DELETE succeeded."""
    callee = f"*{number(to, region)}*"
    caller = f"your phone {number(from_number, region)}" if from_number else "your phone"
    icon, label, sentence = _describe(status, caller, callee, cancelled=cancelled)
    head = sentence if sentence.startswith(label) else f"*{label}* — {sentence}"
    blocks: list[Block] = [section(f"{icon} {head}")]
    route = f"from {number(from_number, region)} " if from_number else ""
    blocks.append(context(f"RingOut {route}to {number(to, region)} · id {code(ringout_id)}"))
    if cancellable and not cancelled:
        button = ButtonElement(
            text="Cancel",
            action_id=RINGOUT_CANCEL_ACTION,
            value=cancel_value or ringout_id,
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
