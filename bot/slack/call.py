"""`/call`: RingOut — ring the caller's phone, then the other party; the reply follows the
call until its status is final (DESIGN §3.5)."""

from __future__ import annotations

import json
import logging

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.ringcentral import ApiError, RingCentralError
from bot.ringcentral.models import RingOutStatus, RingOutStatusInfo
from bot.slack import blocks
from bot.slack._audit import refused
from bot.slack._reply import answer
from bot.slack.deps import SlackDeps
from bot.slack.explain import explain
from bot.slack.grammar import Help, PlaceCall, UsageError, parse_call
from bot.slack.payloads import SlashCommand
from bot.slack.text import to_plain
from bot.store import AuditEntry

log = logging.getLogger("bot.slack.call")

# Slack: a response_url takes at most 5 responses in 30 minutes; the first one shows the
# call started, the last one is kept for the final status.
RESPONSE_BUDGET = 5
NO_FIRST_LEG = (
    "Which phone should ring first? Say `/call <number> from <your phone>`, or ask your "
    "admin to set `[commands] ringout_from` in bridge.toml."
)


async def run(deps: SlackDeps, command: SlashCommand, respond: AsyncRespond) -> None:
    try:
        request = parse_call(to_plain(command.text), region=await deps.facts.region())
    except UsageError as exc:
        await answer(respond, blocks.usage_error(str(exc)))
        return
    if isinstance(request, Help):
        await answer(respond, blocks.help_reply())
        return
    await place(deps, command.user_id, request, respond)


async def place(
    deps: SlackDeps,
    user_id: str,
    request: PlaceCall,
    respond: AsyncRespond,
    *,
    replace: bool = True,
) -> None:
    """RingOut for `user_id` (from /call, or a missed call's Call back button): ring the
    first leg, then `request.to`; the reply follows the call, replacing itself, or (for
    a button on a channel message, which a replace would overwrite) as new replies."""
    region = await deps.facts.region()
    try:
        from_number = await _first_leg(deps, request)
    except UsageError as exc:
        await answer(respond, blocks.usage_error(str(exc)))
        return
    try:
        call = await deps.rc.ringout.create(
            request.to,
            from_number,
            caller_id=request.caller_id,
            play_prompt=request.prompt or None,
        )
    except RingCentralError as exc:
        log.warning("RingOut for %s refused: %s", user_id, type(exc).__name__)
        await deps.audit.record(refused(user_id, "ringout", request.to, from_number, exc))
        await answer(respond, blocks.ringcentral_refused(explain(exc)))
        return
    await deps.audit.record(
        AuditEntry(user_id, "ringout", request.to, "placed", from_number, call.id)
    )
    await _follow(deps, respond, request.to, from_number, call, region, replace=replace)


async def _first_leg(deps: SlackDeps, request: PlaceCall) -> str:
    """The phone that rings first: as typed, a number of the user's named by its label
    ("Mobile"), else `[commands] ringout_from`."""
    if request.from_number:
        return request.from_number
    if request.from_label:
        numbers = await deps.facts.numbers()
        for candidate in numbers:
            if candidate.label and candidate.label.casefold() == request.from_label.casefold():
                return candidate.phone_number
        labels = ", ".join(sorted({f"`{n.label}`" for n in numbers if n.label})) or "none"
        raise UsageError(
            f"No phone is labelled `{request.from_label}`. Labels: {labels}; or give a number."
        )
    if deps.commands.ringout_from:
        return deps.commands.ringout_from
    raise UsageError(NO_FIRST_LEG)


def _cancellable(status: RingOutStatusInfo) -> bool:
    # RingCentral: DELETE works only while the first leg has not connected.
    return status.call_status == "InProgress" and status.caller_status == "InProgress"


async def _follow(
    deps: SlackDeps,
    respond: AsyncRespond,
    to: str,
    from_number: str,
    call: RingOutStatus,
    region: str,
    *,
    replace: bool,
) -> None:
    """Show the status, then each change, within the response_url budget, until final."""

    # The click does not bring the message's context back: the button carries it.
    cancel_value = json.dumps({"id": call.id, "to": to, "from": from_number})

    def render(status: RingOutStatusInfo) -> blocks.Reply:
        return blocks.ringout_status(
            to, from_number, status, ringout_id=call.id, region=region,
            cancellable=_cancellable(status), cancel_value=cancel_value,
        )  # fmt: skip

    await answer(respond, render(call.status))
    budget = RESPONSE_BUDGET - 1
    shown = call.status
    deadline = deps.clock.monotonic() + deps.ringout_give_up_after
    while shown.call_status == "InProgress" and deps.clock.monotonic() < deadline:
        await deps.clock.sleep(deps.ringout_poll_interval)
        if call.id in deps.cancelled_ringouts:
            return  # the Cancel click answered; nothing more to say
        try:
            status = (await deps.rc.ringout.status(call.id)).status
        except ApiError as exc:
            if exc.status != 404:
                log.warning("RingOut status: %s", exc.error_code)
                continue
            # RingCentral forgets a RingOut once it has ended.
            status = RingOutStatusInfo(call_status="NoSessionFound")
        if status == shown:
            continue
        final = status.call_status != "InProgress"
        if final or budget > 1:  # keep the last response for the final status
            await answer(respond, render(status), replace=replace)
            budget -= 1
            shown = status


async def cancel(deps: SlackDeps, value: str, respond: AsyncRespond) -> None:
    """The Cancel button: hang up the RingOut while its first leg still rings."""
    try:
        data = json.loads(value)
        ringout_id, to, from_number = str(data["id"]), str(data["to"]), str(data["from"])
    except (ValueError, KeyError, TypeError):
        log.warning("ignored a Cancel click with a malformed value")
        return
    try:
        await deps.rc.ringout.cancel(ringout_id)
    except RingCentralError as exc:
        if isinstance(exc, ApiError) and exc.status == 404:
            sentence = "Too late to cancel: the call has connected or ended."
        else:
            sentence = explain(exc)
        await answer(respond, blocks.ringcentral_refused(sentence))
        return
    deps.cancelled_ringouts.add(ringout_id)
    reply = blocks.ringout_status(
        to, from_number, RingOutStatusInfo(), ringout_id=ringout_id, cancellable=False,
        region=await deps.facts.region(), cancelled=True,
    )  # fmt: skip
    await answer(respond, reply, replace=True)
