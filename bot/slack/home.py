"""App Home (DESIGN §3.9): on `app_home_opened`, the person's link, their open missed calls
and voicemails (from their extension or their DM, each with its buttons) and the team's
counts today, published with `views.publish`; the rendering is `bot.slack.render.home`."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.notices import load_notice
from bot.slack import render
from bot.slack.commands import help_reply
from bot.slack.deps import SlackDeps
from bot.slack.render.home import HOME_ITEMS, HomeLink, home_view

OPEN_KINDS = ("missed_call", "voicemail")
LOOK_BACK = timedelta(days=7)  # older open items are for the channel's history


async def build(deps: SlackDeps, user_id: str) -> View:
    link = await deps.links.of_user(user_id)
    locale = await deps.locale()
    now = await deps.now()
    items: list[list[dict[str, Any]]] = []
    open_count = 0
    if link is not None:
        seen: set[str] = set()
        for post in await deps.posts.unhandled(OPEN_KINDS, now - LOOK_BACK):
            notice = load_notice(post.notice)
            mine = notice.extension_id == link.extension_id or (
                link.dm_channel is not None and post.channel == link.dm_channel
            )
            if not mine or notice.item in seen:
                continue
            seen.add(notice.item)
            open_count += 1
            if len(items) < HOME_ITEMS:
                blocks = render.render_notice(notice, locale=locale).blocks
                # Several notices in one view: their block ids would repeat (Slack refuses).
                items.append([{k: v for k, v in b.items() if k != "block_id"} for b in blocks])
    midnight = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    today = [(c.kind, c.total, c.open) for c in await deps.posts.counts_since(midnight)]
    shown = HomeLink(link.extension_number or "?", link.name, link.how) if link else None
    return home_view(shown, items, open_count, sorted(today), help_reply().blocks)


async def publish(deps: SlackDeps, client: AsyncWebClient, user_id: str) -> None:
    """Show `user_id` their Home tab (on `app_home_opened`, and after a click there)."""
    await client.views_publish(user_id=user_id, view=await build(deps, user_id))
