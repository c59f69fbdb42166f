"""The buttons on notifications (DESIGN §3.6, §3.7): Call back, Text back, Mark handled.

A click carries everything its action needs in the button's value (Slack does not send the
message's metadata with it); values are decoded strictly, and a forged one does nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import phone
from bot.ringcentral.models import SMS_MAX_UTF16_UNITS, utf16_units
from bot.slack import blocks, call, sms
from bot.slack.deps import SlackDeps
from bot.slack.grammar import PlaceCall
from bot.slack.notices import Handled, load_notice
from bot.slack.notify import (
    CALL_BACK_ACTION,
    MARK_HANDLED_ACTION,
    TEXT_BACK_ACTION,
    decode_button_value,
    render_notice,
)
from bot.slack.payloads import BlockAction
from bot.slack.text import escape, mentioned_users, to_plain

log = logging.getLogger("bot.slack.notice_actions")

TEXT_BACK_VIEW = "text_back_modal"
TEXT_INPUT = "text_back_text"


async def call_back(deps: SlackDeps, click: BlockAction, respond: AsyncRespond) -> None:
    value = decode_button_value(CALL_BACK_ACTION, click.action.value)
    await call.place(deps, click.user.id, PlaceCall(to=value.number), respond, replace=False)


async def open_text_back(deps: SlackDeps, click: BlockAction, client: AsyncWebClient) -> None:
    """A modal to type the SMS in; where it goes rides along in private_metadata."""
    value = decode_button_value(TEXT_BACK_ACTION, click.action.value)
    region = await deps.facts.region()
    target = phone.format_display(value.number, region)  # plain_text: no markup to escape
    metadata = {"to": value.number, "from": value.company_number, "channel": _channel(click)}
    await client.views_open(
        trigger_id=click.trigger_id or "",
        view={
            "type": "modal",
            "callback_id": TEXT_BACK_VIEW,
            "private_metadata": json.dumps(metadata),
            "title": {"type": "plain_text", "text": "Text back"},
            "submit": {"type": "plain_text", "text": "Send"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": TEXT_INPUT,
                    "label": {"type": "plain_text", "text": f"SMS to {target}"},
                    "element": {
                        "type": "plain_text_input",
                        "action_id": TEXT_INPUT,
                        "multiline": True,
                        "max_length": SMS_MAX_UTF16_UNITS,
                    },
                }
            ],
        },
    )


def text_back_problem(view: dict[str, Any]) -> str | None:
    """Why the typed SMS cannot go (shown under the field), or None."""
    text = _typed(view)
    if not text.strip():
        return "Type the message to send."
    units = utf16_units(text)
    if units > SMS_MAX_UTF16_UNITS:
        return f"{units} characters: an SMS carries {SMS_MAX_UTF16_UNITS} (emoji count as 2)."
    return None


async def send_text_back(
    deps: SlackDeps, user_id: str, view: dict[str, Any], client: AsyncWebClient
) -> None:
    metadata = json.loads(view.get("private_metadata") or "{}")
    to, company, channel = metadata.get("to"), metadata.get("from"), metadata.get("channel")
    if not isinstance(to, str):
        log.warning("ignored a Text back submission without a recipient")
        return

    async def say(reply: blocks.Reply) -> None:
        if channel:
            await client.chat_postEphemeral(
                channel=channel, user=user_id, text=reply.text, blocks=reply.blocks
            )

    # Plain text input is not Slack markup: it goes as typed.
    await sms.send(deps, user_id, to, _typed(view), say, from_number=company)


async def mark_handled(
    deps: SlackDeps, click: BlockAction, respond: AsyncRespond, client: AsyncWebClient
) -> None:
    value = decode_button_value(MARK_HANDLED_ACTION, click.action.value)
    channel = _channel(click)
    post = await deps.posts.find(value.kind, value.item, channel) if channel else None
    if channel is None or post is None or post.ts is None:
        await respond(text="That notification is no longer known to RingBridge.")
        return
    now = datetime.fromtimestamp(deps.clock.now(), UTC)
    if post.handled_by or not await deps.posts.mark_handled(post.id, click.user.id, now):
        refreshed = await deps.posts.find(value.kind, value.item, channel)
        who = refreshed.handled_by if refreshed else post.handled_by
        await respond(text=f"Already handled by <@{_user_id(who)}>.", replace_original=False)
        return
    reply = render_notice(
        load_notice(post.notice),
        region=await deps.facts.region(),
        handled=Handled(click.user.id, now),
    )
    await client.chat_update(channel=channel, ts=post.ts, text=reply.text, blocks=reply.blocks)


async def thread_reply(deps: SlackDeps, event: dict[str, Any], client: AsyncWebClient) -> None:
    """A person's reply in an SMS thread goes to the other party from the conversation's
    company number (DESIGN §3.7); the bot's own and other bots' messages send nothing."""
    channel, thread_ts, user = event.get("channel"), event.get("thread_ts"), event.get("user")
    if not (channel and thread_ts and user) or event.get("ts") == thread_ts:
        return
    if event.get("bot_id") or event.get("subtype") not in (None, "thread_broadcast"):
        return
    conversation = await deps.posts.conversation(channel, thread_ts)
    if conversation is None:
        return  # a thread, but not an SMS conversation's
    raw = str(event.get("text") or "")
    names = await deps.people.names(client, mentioned_users(raw))
    text = to_plain(raw, names)
    if not text.strip():
        return

    async def say(reply: blocks.Reply) -> None:
        await client.chat_postEphemeral(
            channel=channel, user=user, thread_ts=thread_ts, text=reply.text, blocks=reply.blocks
        )

    units = utf16_units(text)
    if units > SMS_MAX_UTF16_UNITS:
        await say(
            blocks.usage_error(
                f"Not sent: {units} characters, and an SMS carries {SMS_MAX_UTF16_UNITS} "
                "(emoji count as 2). Shorten it and reply again."
            )
        )
        return
    await sms.send(
        deps, user, conversation.other_number, text, say, from_number=conversation.company_number
    )


def _typed(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(TEXT_INPUT) or {}).get(TEXT_INPUT) or {}
    return str(field.get("value") or "")


def _channel(click: BlockAction) -> str | None:
    return click.channel.id if click.channel else None


def _user_id(user: str | None) -> str:
    # Ours, from the posts table; escape anyway so nothing odd becomes markup.
    return escape(user or "someone")
