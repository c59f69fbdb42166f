"""Receipts on texts sent from Slack (DESIGN §3.8): the bot's reactions on the person's
message (`outbox_tray` accepted, `white_check_mark` delivered, `warning` failed, with a
thread message saying why), or for `/sms` its reply brought up to date.

Other code calls two things around a send: `OutboundLog.before_send` (bot/store) records
(from, to, text hash) before RingCentral is asked, then `sent()` here with RingCentral's
answer (the record, or the error it raised) shows the first receipt and hands the text to
the receipts worker (bot/bridge/receipts.py), which shows the later ones with `show()`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.ringcentral import RingCentralError
from bot.ringcentral.models import MessageRecord
from bot.store.outbound import OutboundLog, OutboundSend

from .render import Locale, Reply
from .render.delivery import REACTION, Receipt, delivery_failed, receipt_for, sms_outcome

__all__ = ["Shown", "Target", "sent", "show"]

log = logging.getLogger("bot.slack.receipts")

RECEIPT_EVENT = "ringbridge_receipt"  # the metadata of a receipt's thread message
RESPONSE_URL_LIFE = timedelta(minutes=30)  # Slack: a response_url works for 30 minutes
_EXTENSION = re.compile(r"/extension/(\d+)/")
_REACTIONS: dict[str, str] = {str(k): v for k, v in REACTION.items()}


@dataclass(frozen=True, slots=True)
class Target:
    """Where a text's receipts go: `message_ts` (a thread reply: reactions on it, a
    failure explained in `thread_ts`), or `response_url` (`/sms`: its reply updated)."""

    origin: str  # reply, sms, text_back, auto_reply
    channel: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None
    response_url: str | None = None


@dataclass(frozen=True, slots=True)
class Shown:
    """Where a text's receipt is shown, and what it shows now."""

    origin: str
    to_numbers: tuple[str, ...]
    created_at: datetime
    slack_user: str | None
    channel: str | None
    message_ts: str | None
    thread_ts: str | None
    response_url: str | None
    shown: str | None


async def sent(
    client: AsyncWebClient,
    log_: OutboundLog,
    row_id: int,
    send: OutboundSend,
    answer: MessageRecord | RingCentralError,
    *,
    locale: Locale,
    now: datetime,
    refusal: str | None = None,
) -> None:
    """RingCentral answered a send: the first receipt, and the text recorded for the
    worker to follow. `refusal`: the error in words, for a refused send's thread message."""
    where = Shown(
        send.origin, send.to_numbers, now, send.slack_user, send.channel,
        send.message_ts, send.thread_ts, send.response_url, None,
    )  # fmt: skip
    # Recorded first: a receipt Slack refuses (a missing scope, a deleted message) must not
    # stop the text being followed. A command's or Text back's own reply says how the send
    # went; only a message in a thread shows it with receipts.
    if isinstance(answer, RingCentralError):
        error_code = getattr(answer, "error_code", "") or type(answer).__name__
        await log_.refused(row_id, error_code=error_code)
        if where.message_ts:
            await show(client, where, "warning", error_code, locale=locale, now=now,
                       words=refusal)  # fmt: skip
        return
    status = answer.message_status or "Queued"
    found = _EXTENSION.search(answer.uri or "")
    extension_id = str(answer.extension_id or "") or (found.group(1) if found else None)
    await log_.accepted(row_id, message_id=str(answer.id), extension_id=extension_id, status=status)
    receipt = receipt_for(status, answer.delivery_error_code)
    if where.message_ts:
        receipt = await show(client, where, receipt, answer.delivery_error_code, locale=locale,
                             now=now)  # fmt: skip
    await log_.shown(row_id, receipt)


async def show(
    client: AsyncWebClient,
    where: Shown,
    receipt: Receipt,
    error_code: str | None,
    *,
    locale: Locale,
    now: datetime,
    session: aiohttp.ClientSession | None = None,
    words: str | None = None,
) -> Receipt:
    """Bring what Slack shows for one text to `receipt`, and return it; Slack's refusals
    are raised (SlackApiError), for the caller to retry or give up."""
    if receipt == where.shown:
        return receipt
    if where.message_ts and where.channel:
        await _react(client, where.channel, where.message_ts, receipt, where.shown)
        if receipt in ("warning", "no_report"):
            message = _explained(where.to_numbers, receipt, error_code, locale, words)
            await client.chat_postMessage(
                channel=where.channel,
                thread_ts=where.thread_ts or where.message_ts,
                text=message.text,
                blocks=message.blocks,
                metadata={"event_type": RECEIPT_EVENT, "event_payload": {"receipt": receipt}},
            )
        return receipt
    if receipt != "outbox_tray":  # `/sms` (its reply) or Text back (an ephemeral)
        message = sms_outcome(where.to_numbers, receipt, error_code, locale=locale)
        await _tell(client, where, message, now=now, session=session)
    return receipt


async def _react(
    client: AsyncWebClient, channel: str, ts: str, receipt: Receipt, previous: str | None
) -> None:
    """Add the new reaction first, then take the old one away: the message never shows
    none. Slack's "already there" and "not there" answers are what we wanted anyway."""
    wanted = REACTION[receipt]
    old = _REACTIONS.get(previous or "")
    if wanted != old:
        try:
            await client.reactions_add(channel=channel, timestamp=ts, name=wanted)
        except SlackApiError as exc:
            if exc.response.get("error") == "missing_scope":
                # Without reactions:write only the reactions go (DESIGN §2); the thread
                # message of a failure still says it.
                log.warning("no receipt reactions: the Slack token lacks reactions:write")
                return
            if exc.response.get("error") != "already_reacted":
                raise
        if old:
            try:
                await client.reactions_remove(channel=channel, timestamp=ts, name=old)
            except SlackApiError as exc:
                if exc.response.get("error") != "no_reaction":
                    raise


def _explained(
    to_numbers: Sequence[str], receipt: Receipt, error_code: str | None, locale: Locale,
    words: str | None,
) -> Reply:  # fmt: skip
    if words is not None:  # a refusal at send time, already in words
        return delivery_failed(to_numbers, None, locale=locale, words=words)
    return sms_outcome(to_numbers, receipt, error_code, locale=locale)


async def _tell(
    client: AsyncWebClient,
    where: Shown,
    message: Reply,
    *,
    now: datetime,
    session: aiohttp.ClientSession | None,
) -> None:
    """`/sms`: its reply is replaced while the response_url lives; then, and for Text
    back, an ephemeral to the person in the channel."""
    if where.response_url and now - where.created_at < RESPONSE_URL_LIFE:
        hook = AsyncWebhookClient(url=where.response_url, session=session)
        answer = await hook.send_dict(
            {"text": message.text, "blocks": message.blocks, "replace_original": True}
        )
        if answer.status_code == 200:
            return
        log.info("response_url refused (%s): an ephemeral instead", answer.status_code)
    if where.channel and where.slack_user:
        await client.chat_postEphemeral(
            channel=where.channel, user=where.slack_user, text=message.text, blocks=message.blocks
        )
