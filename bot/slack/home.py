"""App Home: the Home tab shows the commands and how to use them (DESIGN §2)."""

from __future__ import annotations

from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.commands import help_reply


def home_view() -> View:
    return View(type="home", blocks=help_reply().blocks)


async def publish(client: AsyncWebClient, user_id: str) -> None:
    """Show `user_id` the Home tab (on `app_home_opened`)."""
    await client.views_publish(user_id=user_id, view=home_view())
