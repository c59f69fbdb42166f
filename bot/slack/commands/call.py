"""`/call`: RingOut — ring the caller's phone, then the other party; the reply follows the
call until its status is final (DESIGN §3.5). Its grammar, and its work."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import phone
from bot.ringcentral import ApiError, RingCentralClient, RingCentralError
from bot.ringcentral.models import RingOutStatus, RingOutStatusInfo
from bot.slack import render
from bot.slack._audit import refused
from bot.slack._reply import answer
from bot.slack.deps import SlackDeps
from bot.slack.explain import explain
from bot.slack.payloads import ChannelRef, SlashCommand
from bot.slack.personal import Acting, SessionEnded
from bot.slack.render import CancelRingOutValue, Locale, Reply
from bot.slack.text import escape, to_plain
from bot.store import AuditEntry

from ._grammar import Help, UsageError
from .usage import CALL_USAGE, help_reply

log = logging.getLogger("bot.slack.call")

# Slack: a response_url takes at most 5 responses in 30 minutes; the first one shows the
# call started, the last one is kept for the final status.
RESPONSE_BUDGET = 5
NO_OWN_FIRST_LEG = (
    "Which of your phones should ring first? Say `/call <number> from <your phone>`, or "
    "choose one in `/ringcentral status`."
)
NO_FIRST_LEG = (
    "Which phone should ring first? Say `/call <number> from <your phone>`, or ask your "
    "admin to set `[commands] ringout_from` in bridge.toml."
)


@dataclass(frozen=True, slots=True)
class PlaceCall:
    to: str
    from_number: str | None = None
    from_label: str | None = None
    caller_id: str | None = None
    prompt: bool = False


# --- grammar ---------------------------------------------------------------------------------


def parse_call(text: str, *, region: str) -> PlaceCall | Help:
    words = text.split()
    if not words or words[0].lower() == "help":
        return Help(CALL_USAGE)
    to = phone.leading_number(text, region)
    if to is None:
        raise UsageError(f"`{words[0]}` is not a phone number I can call. {CALL_USAGE}")
    rest = text[to.end :].split()
    parts: dict[str, list[str]] = {}
    current: str | None = None
    prompt = False
    for word in rest:
        lowered = word.lower()
        if lowered in ("from", "as"):
            current = lowered
            parts[current] = []
        elif lowered == "prompt":
            prompt, current = True, None
        elif current is not None:
            parts[current].append(word)
        else:
            raise UsageError(f"I don't know `{word}` here. {CALL_USAGE}")
    from_number = from_label = caller_id = None
    if "from" in parts:
        value = " ".join(parts["from"])
        if not value:
            raise UsageError("Say which phone rings first: `from +16505550111` or `from Mobile`.")
        try:
            from_number = phone.parse(value, region)
        except phone.InvalidPhoneNumber:
            from_label = value  # a forwarding number named by its label (DESIGN §3.5)
    if "as" in parts:
        value = " ".join(parts["as"])
        try:
            caller_id = phone.parse(value, region)
        except phone.InvalidPhoneNumber:
            raise UsageError(
                f"`as {value}` should be one of the company's numbers, e.g. `as +16505550100`."
            ) from None
    return PlaceCall(to.e164, from_number, from_label, caller_id, prompt)


# --- work ------------------------------------------------------------------------------------


async def run(deps: SlackDeps, command: SlashCommand, respond: AsyncRespond) -> None:
    # Before anything else, RingCentral included.
    if refusal := await deps.permissions.command_refusal("call", command):
        await answer(deps, respond, render.usage_error(refusal))
        return
    try:
        request = parse_call(to_plain(command.text), region=await deps.facts.region())
    except UsageError as exc:
        await answer(deps, respond, render.usage_error(str(exc)))
        return
    if isinstance(request, Help):
        await answer(deps, respond, help_reply())
        return
    await place(
        deps, command.user_id, request, respond, channel=command.channel_ref,
        team_id=command.team_id,
    )  # fmt: skip


async def place(
    deps: SlackDeps,
    user_id: str,
    request: PlaceCall,
    respond: AsyncRespond,
    *,
    channel: ChannelRef | None,
    replace: bool = True,
    team_id: str | None = None,
) -> None:
    """RingOut for `user_id` acting in `channel` (`[permissions] call`), from /call or a
    missed call's Call back button: ring the first leg, then `request.to`; the reply
    follows the call, replacing itself, or (for a button on a channel message, which a
    replace would overwrite) as new replies. A connected person's call is theirs: their
    session, their phones (DESIGN §3.9)."""
    if refusal := await deps.permissions.refusal("call", user_id, channel):
        await answer(deps, respond, render.usage_error(refusal))
        return
    locale = await deps.locale()
    try:
        acting = await deps.acting(team_id, user_id)
        first = await _first_leg(deps, user_id, request, acting)
    except SessionEnded as exc:
        await answer(deps, respond, render.ringcentral_refused(str(exc)))
        return
    except UsageError as exc:
        await answer(deps, respond, render.usage_error(str(exc)))
        return
    except RingCentralError as exc:
        await answer(deps, respond, render.ringcentral_refused(explain(exc)))
        return
    from_number = first.number
    rc = acting.rc
    try:
        call = await rc.ringout.create(
            request.to,
            from_number,
            caller_id=request.caller_id,
            play_prompt=(request.prompt or first.prompt) or None,
        )
    except RingCentralError as exc:
        log.warning("RingOut for %s refused: %s", user_id, type(exc).__name__)
        await deps.audit.record(refused(user_id, "ringout", request.to, from_number, exc))
        await answer(deps, respond, render.ringcentral_refused(explain(exc)))
        return
    await deps.audit.record(
        AuditEntry(user_id, "ringout", request.to, "placed", from_number, call.id)
    )
    await _follow(
        deps, rc, respond, request.to, from_number, call, locale, replace=replace, why=first.why
    )


@dataclass(frozen=True, slots=True)
class FirstLeg:
    number: str
    prompt: bool = False  # ask the first party to press 1 (their voicemail cannot answer)
    why: str | None = None  # said in the reply when the person did not choose it


async def _first_leg(deps: SlackDeps, user_id: str, request: PlaceCall, acting: Acting) -> FirstLeg:
    """The phone that rings first: as typed; for a connected person, one of their own
    phones (`_own_first_leg`); else a number of the user's named by its label ("Mobile"),
    else the direct number of the extension the person is linked to (with the prompt on,
    DESIGN §3.9), else `[commands] ringout_from`."""
    if request.from_number:
        return FirstLeg(request.from_number)
    if acting.connection is not None:
        return FirstLeg(await _own_first_leg(request, acting, acting.connection.ringout_from))
    if request.from_label:
        numbers = [(n.label, n.phone_number) for n in await deps.facts.numbers()]
        return FirstLeg(_labelled(numbers, request.from_label, "No phone"))
    link = await deps.links.of_user(user_id)
    if link is not None and link.direct_number:
        return FirstLeg(
            link.direct_number,
            prompt=True,
            why=f"Your phone rings first: the direct number of ext. "
            f"{escape(link.extension_number or '?')}, linked to you. Answer and press 1 "
            "(so that your voicemail cannot take the call).",
        )
    if deps.commands.ringout_from:
        return FirstLeg(
            deps.commands.ringout_from,
            why="The phone set by the admin (`[commands] ringout_from`) rings first: you are "
            "not linked to an extension. Say `from <your phone>` to ring yours.",
        )
    raise UsageError(NO_FIRST_LEG)


async def _own_first_leg(request: PlaceCall, acting: Acting, chosen: str | None) -> str:
    """A connected person's first leg, from their own forwarding numbers: the one
    labelled as said, else the one chosen in `/ringcentral status`, else the first."""
    forwarding = (await acting.rc.account.forwarding_numbers()).records
    phones = [(f.label, str(f.phone_number)) for f in forwarding if f.phone_number]
    if request.from_label:
        return _labelled(phones, request.from_label, "None of your phones")
    if chosen:
        return chosen
    if phones:
        return phones[0][1]
    raise UsageError(NO_OWN_FIRST_LEG)


def _labelled(phones: list[tuple[str | None, str]], label: str, none_of: str) -> str:
    """The number of the phone labelled `label` (any case); else UsageError listing the
    labels there are."""
    for own_label, number in phones:
        if own_label and own_label.casefold() == label.casefold():
            return number
    labels = ", ".join(sorted({f"`{own}`" for own, _ in phones if own})) or "none"
    raise UsageError(f"{none_of} is labelled `{label}`. Labels: {labels}; or give a number.")


def _cancellable(status: RingOutStatusInfo) -> bool:
    # RingCentral: DELETE works only while the first leg has not connected.
    return status.call_status == "InProgress" and status.caller_status == "InProgress"


async def _follow(
    deps: SlackDeps,
    rc: RingCentralClient,
    respond: AsyncRespond,
    to: str,
    from_number: str,
    call: RingOutStatus,
    locale: Locale,
    *,
    replace: bool,
    why: str | None = None,
) -> None:
    """Show the status, then each change, within the response_url budget, until final."""

    def status_reply(status: RingOutStatusInfo) -> Reply:
        return render.ringout_status(
            to, from_number, status, ringout_id=call.id, locale=locale,
            cancellable=_cancellable(status), why=why,
        )  # fmt: skip

    await answer(deps, respond, status_reply(call.status))
    budget = RESPONSE_BUDGET - 1
    shown = call.status
    deadline = deps.clock.monotonic() + deps.ringout_give_up_after
    while shown.call_status == "InProgress" and deps.clock.monotonic() < deadline:
        await deps.clock.sleep(deps.ringout_poll_interval)
        if call.id in deps.cancelled_ringouts:
            return  # the Cancel click answered; nothing more to say
        try:
            status = (await rc.ringout.status(call.id)).status
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
            await answer(deps, respond, status_reply(status), replace=replace)
            budget -= 1
            shown = status


async def cancel(
    deps: SlackDeps,
    value: CancelRingOutValue,
    respond: AsyncRespond,
    *,
    team_id: str | None = None,
    user_id: str = "",
) -> None:
    """The Cancel button: hang up the RingOut while its first leg still rings (on the
    session that placed it: the clicking person's own, when they are connected)."""
    try:
        acting = await deps.acting(team_id, user_id)
        await acting.rc.ringout.cancel(value.ringout_id)
    except RingCentralError as exc:
        if isinstance(exc, ApiError) and exc.status == 404:
            sentence = "Too late to cancel: the call has connected or ended."
        else:
            sentence = explain(exc)
        await answer(deps, respond, render.ringcentral_refused(sentence))
        return
    deps.cancelled_ringouts.add(value.ringout_id)
    reply = render.ringout_status(
        value.to, value.from_number, RingOutStatusInfo(), ringout_id=value.ringout_id,
        cancellable=False, locale=await deps.locale(), cancelled=True,
    )  # fmt: skip
    await answer(deps, respond, reply, replace=True)
