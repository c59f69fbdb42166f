"""What people do on our messages (DESIGN §3.6, §3.7): the buttons of notifications (Call
back, Text back, Mark handled), the Text back modal, the Previous/Next and Cancel buttons of
command replies, and replies typed in an SMS thread.

A click carries everything its action needs in the button's value (Slack does not send the
message's metadata with it); values are decoded strictly (`bot.slack.render.values`), and a
forged one raises ValueError and does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot import phone
from bot.notices import Handled, Taken, load_notice
from bot.ringcentral.models import SMS_MAX_UTF16_UNITS, utf16_units
from bot.slack import home, receipts, render
from bot.slack._reply import answer
from bot.slack.commands import PlaceCall, call, calllog, sms
from bot.slack.deps import SlackDeps
from bot.slack.payloads import BlockAction, MessageEvent, ViewSubmission
from bot.slack.personal import Acting, SessionEnded
from bot.slack.render import (
    CALL_BACK_ACTION,
    CALLLOG_ACTION,
    MARK_HANDLED_ACTION,
    RINGOUT_CANCEL_ACTION,
    SMS_LIST_ACTION,
    TAKE_IT_ACTION,
    TEXT_BACK_ACTION,
    TEXT_BACK_VIEW,
    TEXT_INPUT,
    MarkHandledValue,
    TextBackMetadata,
    decode,
    decode_button_value,
    encode,
)
from bot.slack.text import escape
from bot.store import PostedNotice

log = logging.getLogger("bot.slack.actions")


# --- notification buttons --------------------------------------------------------------------


async def call_back(deps: SlackDeps, click: BlockAction, respond: AsyncRespond) -> None:
    value = decode_button_value(CALL_BACK_ACTION, click.action.value)
    await call.place(
        deps,
        click.user.id,
        PlaceCall(to=value.number),
        respond,
        channel=click.channel_ref,
        replace=False,
        team_id=_team(click),
    )


async def mark_handled(
    deps: SlackDeps, click: BlockAction, respond: AsyncRespond, client: AsyncWebClient
) -> None:
    value = decode_button_value(MARK_HANDLED_ACTION, click.action.value)
    found = await _clicked(deps, click, value, respond)
    if found is None:
        return
    channel, post, ts = found
    now = datetime.fromtimestamp(deps.clock.now(), UTC)
    revision = (
        None if post.handled_by else await deps.posts.mark_handled(post.id, click.user.id, now)
    )
    if revision is None:
        refreshed = await deps.posts.find(value.kind, value.item, channel)
        who = refreshed.handled_by if refreshed else post.handled_by
        await respond(text=f"Already handled by <@{_user_id(who)}>.", replace_original=False)
        return
    handled = Handled(click.user.id, now)
    # Shown at once; should this fail, the dispatcher's queued update shows it (retried).
    current = await deps.posts.get(post.id) or post  # Take it may have come between
    await _update(deps, client, channel, ts, post, handled=handled, taken=_taken(current))
    await deps.posts.shown(post.id, revision)
    if click.channel is None:
        await home.publish(deps, client, click.user.id)  # the item leaves their list


async def take_it(
    deps: SlackDeps, click: BlockAction, respond: AsyncRespond, client: AsyncWebClient
) -> None:
    """Claim the notification for the clicking person (DESIGN §3.12); a later click by
    anyone tells them (ephemerally) who has it and changes nothing."""
    value = decode_button_value(TAKE_IT_ACTION, click.action.value)
    found = await _clicked(deps, click, value, respond)
    if found is None:
        return
    channel, post, ts = found
    now = datetime.fromtimestamp(deps.clock.now(), UTC)
    if post.taken_by or not await deps.posts.take(post.id, click.user.id, now):
        refreshed = await deps.posts.find(value.kind, value.item, channel)
        who = refreshed.taken_by if refreshed else post.taken_by
        await respond(text=f"<@{_user_id(who)}> has already taken it.", replace_original=False)
        return
    taken = Taken(click.user.id, now)
    current = await deps.posts.get(post.id) or post  # Mark handled may have come between
    await _update(deps, client, channel, ts, post, handled=_handled(current), taken=taken)


async def _clicked(
    deps: SlackDeps, click: BlockAction, value: MarkHandledValue, respond: AsyncRespond
) -> tuple[str, PostedNotice, str] | None:
    """(channel, post, its ts) of the notification a button was clicked on; None (and the
    person told) when it is not ours or no longer known."""
    channel = _channel(click)
    if channel is not None:
        post = await deps.posts.find(value.kind, value.item, channel)
    else:  # on the Home tab (DESIGN §3.9): the notice's post, wherever it is
        post = await deps.posts.find_item(value.kind, value.item)
        channel = post.channel if post is not None else None
    if channel is None or post is None or post.ts is None:
        await respond(text="That notification is no longer known to RingBridge.")
        return None
    return channel, post, post.ts


async def _update(
    deps: SlackDeps,
    client: AsyncWebClient,
    channel: str,
    ts: str,
    post: PostedNotice,
    *,
    handled: Handled | None,
    taken: Taken | None,
) -> None:
    reply = render.render_notice(
        load_notice(post.notice), locale=await deps.locale(), handled=handled, taken=taken
    )
    await client.chat_update(channel=channel, ts=ts, text=reply.text, blocks=reply.blocks)


def _handled(post: PostedNotice) -> Handled | None:
    return (
        Handled(post.handled_by, post.handled_at) if post.handled_by and post.handled_at else None
    )


def _taken(post: PostedNotice) -> Taken | None:
    return Taken(post.taken_by, post.taken_at) if post.taken_by and post.taken_at else None


# --- the Text back modal ---------------------------------------------------------------------


async def open_text_back(deps: SlackDeps, click: BlockAction, client: AsyncWebClient) -> None:
    """A modal to type the SMS in; where it goes rides along in private_metadata."""
    value = decode_button_value(TEXT_BACK_ACTION, click.action.value)
    if refusal := await deps.permissions.refusal("sms", click.user.id, click.channel_ref):
        if click.channel:
            channel, user = click.channel.id, click.user.id
            await client.chat_postEphemeral(channel=channel, user=user, text=refusal)
        return
    region = await deps.facts.region()
    target = phone.format_display(value.number, region)  # plain_text: no markup to escape
    metadata = TextBackMetadata(
        to=value.number, company_number=value.company_number, channel=_channel(click)
    )
    await client.views_open(
        trigger_id=click.trigger_id or "", view=text_back_view(target, metadata)
    )


def text_back_view(target: str, metadata: TextBackMetadata) -> View:
    """The Text back modal: one multi-line input, as long as an SMS may be."""
    return View(
        type="modal",
        callback_id=TEXT_BACK_VIEW,
        private_metadata=encode(metadata),
        title=PlainTextObject(text="Text back"),
        submit=PlainTextObject(text="Send"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            InputBlock(
                block_id=TEXT_INPUT,
                label=PlainTextObject(text=f"SMS to {target}"),
                element=PlainTextInputElement(
                    action_id=TEXT_INPUT, multiline=True, max_length=SMS_MAX_UTF16_UNITS
                ),
            )
        ],
    )


def text_back_problem(submission: ViewSubmission) -> str | None:
    """Why the typed SMS cannot go (shown under the field), or None."""
    text = submission.typed(TEXT_INPUT)
    if not text.strip():
        return "Type the message to send."
    units = utf16_units(text)
    if units > SMS_MAX_UTF16_UNITS:
        return f"{units} characters: an SMS carries {SMS_MAX_UTF16_UNITS} (emoji count as 2)."
    return None


async def send_text_back(
    deps: SlackDeps, submission: ViewSubmission, client: AsyncWebClient
) -> None:
    """Send what was typed; ValueError for metadata we did not write."""
    metadata = decode(TextBackMetadata, submission.view.private_metadata)
    user_id, channel = submission.user.id, metadata.channel

    async def say(reply: render.Reply) -> None:
        if channel:
            await client.chat_postEphemeral(
                channel=channel, user=user_id, text=reply.text, blocks=reply.blocks
            )

    # Plain text input is not Slack markup: it goes as typed.
    typed = submission.typed(TEXT_INPUT)
    await sms.send(
        deps, user_id, metadata.to, typed, say, from_number=metadata.company_number,
        client=client, target=receipts.Target("text_back", channel=channel),
        team_id=submission.team.id if submission.team else None,
    )  # fmt: skip


# --- command reply buttons -------------------------------------------------------------------


async def turn_sms_page(deps: SlackDeps, click: BlockAction, respond: AsyncRespond) -> None:
    page = decode_button_value(SMS_LIST_ACTION, click.action.value)
    if (acting := await _acting(deps, click, respond)) is not None:
        await sms.show_page(deps, respond, page, replace=True, rc=acting.rc)


async def turn_calllog_page(deps: SlackDeps, click: BlockAction, respond: AsyncRespond) -> None:
    page = decode_button_value(CALLLOG_ACTION, click.action.value)
    who, where = click.user.id, click.channel_ref
    if refusal := await calllog.company_refusal(deps, who, where, page.text, page.at):
        await respond(text=refusal, replace_original=False)
        return
    if (acting := await _acting(deps, click, respond)) is not None:
        own = acting.rc if acting.personal else None
        await calllog.show_page(deps, respond, page, replace=True, user_id=who, own=own)


async def cancel_ringout(deps: SlackDeps, click: BlockAction, respond: AsyncRespond) -> None:
    value = decode_button_value(RINGOUT_CANCEL_ACTION, click.action.value)
    await call.cancel(deps, value, respond, team_id=_team(click), user_id=click.user.id)


# --- thread replies --------------------------------------------------------------------------


async def keep_thread_reply(
    deps: SlackDeps, event_id: str, event: MessageEvent, raw: Mapping[str, Any]
) -> None:
    """Store a person's reply in an SMS conversation's thread for the dispatcher, which
    texts it or keeps it in the team (DESIGN §3.8). Other messages are not ours."""
    channel, thread_ts, user, ts = event.channel, event.thread_ts, event.user, event.ts
    if not (event.is_person_reply and channel and thread_ts and user and ts):
        return
    if await deps.posts.conversation(channel, thread_ts) is None:
        return  # a thread, but not an SMS conversation's
    stored = await deps.replies.store(
        event_id=event_id or f"{channel}:{ts}",
        client_msg_id=event.client_msg_id,
        event=raw,
        channel=channel,
        ts=ts,
        thread_ts=thread_ts,
        user=user,
        now=datetime.fromtimestamp(deps.clock.now(), UTC),
    )
    if stored:
        deps.reply_stored()
    else:
        log.info("thread reply %s in %s came again: already taken", ts, channel)


async def reply_changed(deps: SlackDeps, event: MessageEvent, client: AsyncWebClient) -> None:
    """Edits and deletions never send (DESIGN §3.8): the author of a texted reply is told
    the customer keeps what was sent."""
    deleted = event.subtype == "message_deleted"
    message = event.previous_message if deleted else event.message
    channel = event.channel
    if message is None or not (channel and message.ts and message.user):
        return
    if not deleted and event.previous_message and event.previous_message.text == message.text:
        return  # not an edit of the text (a link unfurled, a reply counted)
    if await deps.replies.outcome(channel, message.ts) != "texted":
        return
    notice = render.already_texted(deleted=deleted)
    await client.chat_postEphemeral(
        channel=channel,
        user=message.user,
        thread_ts=message.thread_ts or event.thread_ts or message.ts,
        text=notice.text,
        blocks=notice.blocks,
    )


async def claim_conversation(
    deps: SlackDeps, client: AsyncWebClient, channel: str, thread_ts: str, user: str
) -> None:
    """A texted thread reply takes an untaken conversation for its author (DESIGN §3.12)."""
    conversation = await deps.posts.conversation(channel, thread_ts)
    if conversation is None or conversation.parent_post_id is None:
        return
    post_id = conversation.parent_post_id
    now = datetime.fromtimestamp(deps.clock.now(), UTC)
    if not await deps.posts.take(post_id, user, now):
        return  # someone has it already
    post = await deps.posts.get(post_id)
    if post is None or post.ts is None:
        return  # not posted yet: the poster shows who took it when it posts
    await _update(
        deps, client, post.channel, post.ts, post, handled=_handled(post), taken=_taken(post)
    )


async def _acting(deps: SlackDeps, click: BlockAction, respond: AsyncRespond) -> Acting | None:
    """Who reads for the clicking person; None (and they are told) when their own session
    was just refused."""
    try:
        return await deps.acting(_team(click), click.user.id)
    except SessionEnded as exc:
        await answer(deps, respond, render.ringcentral_refused(str(exc)))
        return None


def _team(click: BlockAction) -> str | None:
    return click.team.id if click.team is not None else None


def _channel(click: BlockAction) -> str | None:
    return click.channel.id if click.channel else None


def _user_id(user: str | None) -> str:
    # Ours, from the posts table; escape anyway so nothing odd becomes markup.
    return escape(user or "someone")
