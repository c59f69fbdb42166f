"""`/sms`: send a text, list messages, show one (DESIGN §3.5) — its grammar and its work."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import phone
from bot.ringcentral import AuthError, RingCentralClient, RingCentralError
from bot.ringcentral.models import (
    SMS_MAX_UTF16_UNITS,
    LimitExceeded,
    MessageRecord,
    utf16_units,
)
from bot.slack import receipts, render
from bot.slack._audit import refused
from bot.slack._reply import answer
from bot.slack.deps import SlackDeps
from bot.slack.explain import explain
from bot.slack.payloads import SlashCommand
from bot.slack.personal import Acting, SessionEnded
from bot.slack.render import Locale, PageValue, Reply
from bot.slack.text import mentioned_users, to_plain
from bot.store import AuditEntry
from bot.store.outbound import OutboundLog, OutboundSend

from ._grammar import DEFAULT_COUNT, Help, Period, UsageError, choice, fold_period, tokens
from .usage import SMS_USAGE, help_reply

log = logging.getLogger("bot.slack.sms")

SMS_PATH = "/restapi/v1.0/account/~/extension/~/sms"
NO_OWN_NUMBER = (
    "Your RingCentral account has no number that can send texts (the SMS feature). Ask "
    "your RingCentral admin, or `/ringcentral disconnect` to text from the shared number."
)
NO_FROM_NUMBER = (
    "RingBridge has no number to text from: the RingCentral user it acts as has no number "
    "with the SMS feature. Set `[commands] sms_from` in bridge.toml to a number that has it."
)


@dataclass(frozen=True, slots=True)
class SendSms:
    to: str
    text: str


@dataclass(frozen=True, slots=True)
class MessageQuery:
    period: Period
    count: int = DEFAULT_COUNT
    phone_number: str | None = None
    direction: Literal["Inbound", "Outbound"] | None = None
    read_status: Literal["Read", "Unread"] | None = None
    message_type: Literal["SMS", "Fax", "VoiceMail", "Pager"] | None = None
    conversation_id: str | None = None
    distinct: bool = False
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ShowMessage:
    message_id: str


# --- grammar ---------------------------------------------------------------------------------


def parse_sms(
    text: str, *, region: str, now: datetime
) -> SendSms | MessageQuery | ShowMessage | Help:
    """`now` is aware, in the zone whose days `today` and `yesterday` mean."""
    words = text.split()
    if not words or words[0].lower() == "help":
        return Help(SMS_USAGE)
    verb = words[0].lower()
    if verb == "list":
        return _parse_message_query(text.split(None, 1)[1] if len(words) > 1 else "", region, now)
    if verb == "show":
        if len(words) != 2:
            raise UsageError("Show one message with `/sms show <id>`, the id from `/sms list`.")
        return ShowMessage(words[1])
    number = phone.leading_number(text, region)
    if number is None:
        raise UsageError(
            f"`{words[0]}` is not a phone number I can text. Type it in E.164 "
            f"(`+14155550123`) or as a {region} number, then the message. " + SMS_USAGE
        )
    # Exactly one separator goes; the rest is the message exactly as typed.
    message = text[number.end + 1 :]
    if not message.strip():
        raise UsageError(f"What should the text to {number.e164} say? `/sms {words[0]} <message>`")
    units = utf16_units(message)
    if units > SMS_MAX_UTF16_UNITS:
        raise UsageError(
            f"That message is {units} characters long; an SMS can carry {SMS_MAX_UTF16_UNITS} "
            "(emoji count as 2). Shorten it or send it in parts."
        )
    return SendSms(number.e164, message)


_MESSAGE_TYPES = {"sms": "SMS", "fax": "Fax", "voicemail": "VoiceMail", "pager": "Pager"}


def _parse_message_query(text: str, region: str, now: datetime) -> MessageQuery:
    fields: dict[str, object] = {}
    period: Period | None = None
    for token in tokens(text, region, SMS_USAGE):
        kind, value = token.kind, token.value
        if kind == "phone":
            fields["phone_number"] = value
        elif kind == "count":
            fields["count"] = int(value)
        elif kind == "word" and value in ("in", "out"):
            fields["direction"] = "Inbound" if value == "in" else "Outbound"
        elif kind == "word" and value in ("read", "unread"):
            fields["read_status"] = value.capitalize()
        elif kind == "word" and value == "distinct":
            fields["distinct"] = True
        elif kind == "word" and value == "deleted":
            fields["deleted"] = True
        elif kind == "option" and token.key == "type":
            fields["message_type"] = choice(token, _MESSAGE_TYPES)
        elif kind == "option" and token.key == "conversation":
            fields["conversation_id"] = value
        elif (found := fold_period(token, now, period)) is not None:
            period = found
        else:
            raise UsageError(f"I don't know `{token}` here. {SMS_USAGE}")
    # DESIGN §3.7: without a period, /sms list shows the last 7 days.
    period = period or Period(date_from=now - timedelta(days=7))
    return MessageQuery(period=period, **fields)  # type: ignore[arg-type]


# --- work ------------------------------------------------------------------------------------


async def run(
    deps: SlackDeps, command: SlashCommand, respond: AsyncRespond, client: AsyncWebClient
) -> None:
    # Before anything else, RingCentral included.
    if refusal := await deps.permissions.command_refusal("sms", command):
        await answer(deps, respond, render.usage_error(refusal))
        return
    names = await deps.people.names(client, mentioned_users(command.text))
    text = to_plain(command.text, names)
    now = await deps.now()
    try:
        request = parse_sms(text, region=await deps.facts.region(), now=now)
    except UsageError as exc:
        await answer(deps, respond, render.usage_error(str(exc)))
        return
    if isinstance(request, Help):
        await answer(deps, respond, help_reply())
    elif isinstance(request, SendSms):
        target = receipts.Target(
            "sms", channel=command.channel_id, response_url=respond.response_url
        )
        await send(
            deps, command.user_id, request.to, request.text, _saying(deps, respond),
            client=client, target=target, team_id=command.team_id,
        )  # fmt: skip
    elif isinstance(request, MessageQuery | ShowMessage):
        try:
            acting = await deps.acting(command.team_id, command.user_id)
        except SessionEnded as exc:
            await answer(deps, respond, render.ringcentral_refused(str(exc)))
            return
        if isinstance(request, ShowMessage):
            await _show(deps, request, respond, acting.rc)
        else:
            args = text.split(None, 1)[1] if " " in text else ""
            await show_page(deps, respond, PageValue(text=args, page=1, at=now), rc=acting.rc)


Say = Callable[[Reply], Awaitable[None]]


async def send(
    deps: SlackDeps,
    user_id: str,
    to: str | tuple[str, ...],
    text: str,
    say: Say,
    *,
    from_number: str | None = None,
    client: AsyncWebClient | None = None,
    target: receipts.Target | None = None,
    team_id: str | None = None,
) -> bool:
    """Send an SMS for `user_id` and tell them how it went through `say` (a command's
    respond, an ephemeral in a thread, …). `from_number` defaults to the configured or the
    service user's SMS number. With `client` and `target`, the text is recorded before the
    send and followed to its end (receipts, DESIGN §3.8); a thread reply then hears of it
    through its receipts only. A connected person (DESIGN §3.9, `team_id` given) sends
    with their own session, by default from their own first SmsSender number; a company
    number that is not theirs goes on the shared session. True when RingCentral accepted
    it."""
    locale = await deps.locale()
    try:
        acting = await deps.acting(team_id, user_id)
        if acting.personal:
            senders = await acting.rc.account.numbers_with_feature("SmsSender")
            own = [n.phone_number for n in senders]
            if from_number is not None and from_number not in own:
                acting = Acting(deps.rc)
            elif not own:
                await say(render.usage_error(NO_OWN_NUMBER))
                return False
            else:
                from_number = from_number or own[0]
    except SessionEnded as exc:
        await say(render.ringcentral_refused(str(exc)))
        return False
    except AuthError:
        await _session_ended(deps, acting, say)
        return False
    except RingCentralError as exc:
        await say(render.ringcentral_refused(explain(exc)))
        return False
    rc = acting.rc
    from_number = from_number or deps.commands.sms_from
    if from_number is None:
        senders = await deps.facts.numbers_with("SmsSender")
        if not senders:
            await say(render.usage_error(NO_FROM_NUMBER))
            return False
        from_number = senders[0].phone_number
    recipients = (to,) if isinstance(to, str) else to
    to = ", ".join(recipients)  # one number, or a group MMS's in the replies and audit
    wait = rc.wait_time("POST", SMS_PATH)
    if wait > deps.queued_notice_after:
        await say(render.sms_queued(to, wait, locale=locale))
    followed = _followed(deps, client, target, acting, user_id, from_number, recipients, text)
    row_id = None
    if followed is not None:
        row_id = await followed.log.before_send(followed.send, await deps.now())
    try:
        record = await rc.messages.send_sms(from_number, recipients, text)
    except LimitExceeded as exc:  # the grammar counts first; this is the client's own guard
        await say(render.usage_error(str(exc)))
        return False
    except AuthError as exc:
        if acting.personal:
            await _session_ended(deps, acting, say)
        else:
            await say(render.ringcentral_refused(explain(exc)))
        return False
    except RingCentralError as exc:
        code = getattr(exc, "error_code", type(exc).__name__)
        log.warning("SMS for %s refused: %s", user_id, code)
        await deps.audit.record(refused(user_id, "sms", to, from_number, exc))
        sentence = explain(exc, from_number=from_number)
        if followed is not None and row_id is not None:
            await _receipt(deps, followed, row_id, exc, locale, refusal=sentence)
            if followed.send.message_ts:
                return False  # explained in the thread
        await say(render.ringcentral_refused(sentence))
        return False
    await deps.audit.record(AuditEntry(user_id, "sms", to, "sent", from_number, record.id))
    if followed is not None and row_id is not None:
        await _receipt(deps, followed, row_id, record, locale)
        if followed.send.message_ts:
            return True  # receipts, not ephemerals
    await say(render.sms_sent(to, from_number, text, record, locale=locale))
    return True


async def _session_ended(deps: SlackDeps, acting: Acting, say: Say) -> None:
    """The person's session was refused on the way: not sent, and not on the shared
    session either (it would come from another number than they expect)."""
    assert deps.accounts is not None and acting.connection is not None
    await deps.accounts.session_ended(acting.connection)
    await say(render.ringcentral_refused(str(SessionEnded())))


class Followed(NamedTuple):
    """A text followed to its end: who shows its receipts, where it is recorded, what."""

    client: AsyncWebClient
    log: OutboundLog
    send: OutboundSend


def _followed(
    deps: SlackDeps,
    client: AsyncWebClient | None,
    target: receipts.Target | None,
    acting: Acting,
    user_id: str,
    from_number: str,
    to: tuple[str, ...],
    text: str,
) -> Followed | None:
    if client is None or target is None or deps.outbound is None:
        return None
    send = OutboundSend(
        origin=target.origin, from_number=from_number, to_numbers=to, text=text,
        identity=acting.identity, slack_user=user_id, channel=target.channel,
        message_ts=target.message_ts, thread_ts=target.thread_ts,
        response_url=target.response_url,
    )  # fmt: skip
    return Followed(client, deps.outbound, send)


async def _receipt(
    deps: SlackDeps,
    followed: Followed,
    row_id: int,
    answer: MessageRecord | RingCentralError,
    locale: Locale,
    *,
    refusal: str | None = None,
) -> None:
    """The first receipt; Slack refusing a reaction never undoes a sent text."""
    client, outbound, send = followed
    try:
        await receipts.sent(
            client, outbound, row_id, send, answer, locale=locale,
            now=await deps.now(), refusal=refusal,
        )  # fmt: skip
    except SlackApiError as exc:
        log.warning("receipt not shown: %s", exc.response.get("error"))


async def show_page(
    deps: SlackDeps,
    respond: AsyncRespond,
    page: PageValue,
    *,
    replace: bool = False,
    rc: RingCentralClient | None = None,
) -> None:
    """One page of `/sms list <page.text>`, as typed at `page.at` (Previous/Next, which
    carry the same value with another page, come back here), read with `rc` (the
    person's own client when connected; default the shared one)."""
    rc = rc or deps.rc
    locale = await deps.locale()
    request = parse_sms(f"list {page.text}", region=locale.region, now=page.at)
    assert isinstance(request, MessageQuery)  # "list …" parses to nothing else
    try:
        listing = await rc.messages.list(
            date_from=request.period.date_from,
            date_to=request.period.date_to,
            phone_number=request.phone_number,
            direction=request.direction,
            read_status=request.read_status,
            message_type=request.message_type,
            conversation_id=request.conversation_id,
            distinct_conversations=request.distinct or None,
            availability=["Alive", "Deleted"] if request.deleted else None,
            page=page.page,
            per_page=request.count,
        )
    except RingCentralError as exc:
        await answer(deps, respond, render.ringcentral_refused(explain(exc)), replace=replace)
        return
    reply = render.message_list(
        listing,
        locale=locale,
        description=f"/sms list {page.text}".rstrip(),
        previous=page.model_copy(update={"page": page.page - 1}) if page.page > 1 else None,
        following=page.model_copy(update={"page": page.page + 1}) if listing.has_next else None,
    )
    await answer(deps, respond, reply, replace=replace)


async def _show(
    deps: SlackDeps, request: ShowMessage, respond: AsyncRespond, rc: RingCentralClient
) -> None:
    try:
        message = await rc.messages.get(request.message_id)
    except RingCentralError as exc:
        await answer(deps, respond, render.ringcentral_refused(explain(exc)))
        return
    await answer(deps, respond, render.message_detail(message, locale=await deps.locale()))


def _saying(deps: SlackDeps, respond: AsyncRespond) -> Say:
    async def say(reply: Reply) -> None:
        await answer(deps, respond, reply)

    return say
