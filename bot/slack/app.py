"""The Bolt app: slash commands and buttons. Every listener acks at once and does its
RingCentral work afterwards in a tracked task, answering through `respond()`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, call, calllog, sms
from bot.slack.deps import SlackDeps
from bot.slack.payloads import BlockAction, SlashCommand

__all__ = ["build_bolt_app"]

PERSONAL_LATER = (
    "Personal RingCentral accounts are not available yet: for now RingBridge acts as the "
    "one RingCentral user your admin configured. `/ringcentral help` lists what works today."
)


def build_bolt_app(deps: SlackDeps, *, client: AsyncWebClient, signing_secret: str) -> AsyncApp:
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        # Bolt's default answers unknown requests with 404 after logging; keep it quiet.
        raise_error_for_unhandled_request=False,
    )

    def command(name: str, work: Callable[[SlashCommand, AsyncRespond, AsyncWebClient],
                                          Coroutine[Any, Any, None]]) -> None:  # fmt: skip
        async def listener(
            ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
        ) -> None:
            await ack()
            payload = SlashCommand.model_validate(body)
            deps.tasks.spawn(work(payload, respond, client), name=f"{name} {payload.user_id}")

        app.command(name)(listener)

    command("/sms", lambda c, r, w: sms.run(deps, c, r, w))
    command("/call", lambda c, r, _: call.run(deps, c, r))
    command("/calllog", lambda c, r, _: calllog.run(deps, c, r))

    @app.command("/ringcentral")
    async def ringcentral(ack: AsyncAck, body: dict[str, Any]) -> None:
        word = (SlashCommand.model_validate(body).text.split() or ["help"])[0].lower()
        if word in ("connect", "disconnect", "status"):
            reply = blocks.usage_error(PERSONAL_LATER)
        else:
            reply = blocks.help_reply()
        await ack(text=reply.text, blocks=reply.blocks)

    def button(
        action_id: str, work: Callable[[str, AsyncRespond], Coroutine[Any, Any, None]]
    ) -> None:
        async def listener(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
            await ack()
            click = BlockAction.model_validate(body)
            deps.tasks.spawn(work(click.action.value, respond), name=f"{action_id} click")

        app.action(action_id)(listener)

    button(blocks.SMS_LIST_ACTION, lambda v, r: sms.turn_page(deps, v, r))
    button(blocks.CALLLOG_ACTION, lambda v, r: calllog.turn_page(deps, v, r))
    button(blocks.RINGOUT_CANCEL_ACTION, lambda v, r: call.cancel(deps, v, r))

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") == "home":
            view = {"type": "home", "blocks": blocks.help_reply().blocks}
            await client.views_publish(user_id=str(event["user"]), view=view)

    return app
