"""`/sms`: send a text, list messages, show one (DESIGN §3.5)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.ringcentral import RingCentralError
from bot.ringcentral.models import LimitExceeded
from bot.slack import blocks
from bot.slack._audit import refused
from bot.slack._reply import answer, page_value, read_page_value
from bot.slack.deps import SlackDeps
from bot.slack.explain import explain
from bot.slack.grammar import (
    Help,
    MessageQuery,
    SendSms,
    ShowMessage,
    UsageError,
    parse_sms,
)
from bot.slack.payloads import SlashCommand
from bot.slack.text import mentioned_users, to_plain
from bot.store import AuditEntry

log = logging.getLogger("bot.slack.sms")

SMS_PATH = "/restapi/v1.0/account/~/extension/~/sms"
NO_FROM_NUMBER = (
    "RingBridge has no number to text from: the RingCentral user it acts as has no number "
    "with the SMS feature. Set `[commands] sms_from` in bridge.toml to a number that has it."
)


async def run(
    deps: SlackDeps, command: SlashCommand, respond: AsyncRespond, client: AsyncWebClient
) -> None:
    names = await deps.people.names(client, mentioned_users(command.text))
    text = to_plain(command.text, names)
    now = await deps.now()
    try:
        request = parse_sms(text, region=await deps.facts.region(), now=now)
    except UsageError as exc:
        await answer(respond, blocks.usage_error(str(exc)))
        return
    if isinstance(request, Help):
        await answer(respond, blocks.help_reply())
    elif isinstance(request, SendSms):
        await send(deps, command.user_id, request.to, request.text, _saying(respond))
    elif isinstance(request, MessageQuery):
        await show_page(deps, respond, text.split(None, 1)[1] if " " in text else "", 1, now)
    elif isinstance(request, ShowMessage):
        await _show(deps, request, respond)


Say = Callable[[blocks.Reply], Awaitable[None]]


async def send(
    deps: SlackDeps,
    user_id: str,
    to: str,
    text: str,
    say: Say,
    *,
    from_number: str | None = None,
) -> bool:
    """Send an SMS for `user_id` and tell them how it went through `say` (a command's
    respond, an ephemeral in a thread, …). `from_number` defaults to the configured or the
    service user's SMS number. True when RingCentral accepted it."""
    region = await deps.facts.region()
    from_number = from_number or deps.commands.sms_from
    if from_number is None:
        senders = await deps.facts.numbers_with("SmsSender")
        if not senders:
            await say(blocks.usage_error(NO_FROM_NUMBER))
            return False
        from_number = senders[0].phone_number
    wait = deps.rc.wait_time("POST", SMS_PATH)
    if wait > deps.queued_notice_after:
        await say(blocks.sms_queued(to, wait, region=region))
    try:
        record = await deps.rc.messages.send_sms(from_number, to, text)
    except LimitExceeded as exc:  # the grammar counts first; this is the client's own guard
        await say(blocks.usage_error(str(exc)))
        return False
    except RingCentralError as exc:
        code = getattr(exc, "error_code", type(exc).__name__)
        log.warning("SMS for %s refused: %s", user_id, code)
        await deps.audit.record(refused(user_id, "sms", to, from_number, exc))
        await say(blocks.ringcentral_refused(explain(exc, from_number=from_number)))
        return False
    await deps.audit.record(AuditEntry(user_id, "sms", to, "sent", from_number, record.id))
    await say(blocks.sms_sent(to, from_number, text, record, region=region))
    return True


async def show_page(
    deps: SlackDeps, respond: AsyncRespond, args: str, page: int, now: datetime, *,
    replace: bool = False,
) -> None:  # fmt: skip
    """One page of `/sms list <args>`, as typed at `now` (Previous/Next come back here)."""
    region = await deps.facts.region()
    request = parse_sms(f"list {args}", region=region, now=now)
    assert isinstance(request, MessageQuery)  # "list …" parses to nothing else
    try:
        listing = await deps.rc.messages.list(
            date_from=request.period.date_from,
            date_to=request.period.date_to,
            phone_number=request.phone_number,
            direction=request.direction,
            read_status=request.read_status,
            message_type=request.message_type,
            conversation_id=request.conversation_id,
            distinct_conversations=request.distinct or None,
            availability=["Alive", "Deleted"] if request.deleted else None,
            page=page,
            per_page=request.count,
        )
    except RingCentralError as exc:
        await answer(respond, blocks.ringcentral_refused(explain(exc)), replace=replace)
        return
    reply = blocks.message_list(
        listing,
        region=region,
        description=f"/sms list {args}".rstrip(),
        prev_value=page_value(args, page - 1, now) if page > 1 else None,
        next_value=page_value(args, page + 1, now) if listing.has_next else None,
    )
    await answer(respond, reply, replace=replace)


async def turn_page(deps: SlackDeps, value: str, respond: AsyncRespond) -> None:
    args, page, now = read_page_value(value)
    await show_page(deps, respond, args, page, now, replace=True)


async def _show(deps: SlackDeps, request: ShowMessage, respond: AsyncRespond) -> None:
    try:
        message = await deps.rc.messages.get(request.message_id)
    except RingCentralError as exc:
        await answer(respond, blocks.ringcentral_refused(explain(exc)))
        return
    await answer(respond, blocks.message_detail(message, region=await deps.facts.region()))


def _saying(respond: AsyncRespond) -> Say:
    async def say(reply: blocks.Reply) -> None:
        await answer(respond, reply)

    return say
