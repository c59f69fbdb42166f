"""The Bolt app: slash commands and buttons. Every listener acks at once and does its
RingCentral work afterwards in a tracked task, answering through `respond()`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, call, calllog, notice_actions, notify, sms
from bot.slack.deps import SlackDeps
from bot.slack.payloads import BlockAction, SlashCommand

__all__ = ["build_bolt_app"]

log = logging.getLogger("bot.slack.app")

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
        # Run listeners inline and answer when they return: ours only ack and spawn their
        # work, and otherwise Bolt polls for the ack every 10 ms (bench: p99 31 -> 8 ms).
        process_before_response=True,
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

    def notice_button(
        action_id: str,
        work: Callable[[BlockAction, AsyncRespond, AsyncWebClient], Coroutine[Any, Any, None]],
    ) -> None:
        async def listener(
            ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
        ) -> None:
            await ack()
            try:
                click = BlockAction.model_validate(body)
                coro = work(click, respond, client)
            except ValueError:  # a forged or stale button value: nothing to do
                log.warning("ignored a %s click with an unreadable value", action_id)
                return
            deps.tasks.spawn(_logged(coro), name=f"{action_id} click")

        app.action(action_id)(listener)

    notice_button(notify.CALL_BACK_ACTION, lambda c, r, _: notice_actions.call_back(deps, c, r))
    notice_button(
        notify.MARK_HANDLED_ACTION,
        lambda c, r, w: notice_actions.mark_handled(deps, c, r, w),
    )

    @app.action(notify.TEXT_BACK_ACTION)
    async def text_back(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        # views.open must happen within 3 s of the click (the trigger_id expires): inline.
        try:
            await notice_actions.open_text_back(deps, BlockAction.model_validate(body), client)
        except ValueError:
            log.warning("ignored a Text back click with an unreadable value")

    @app.view(notice_actions.TEXT_BACK_VIEW)
    async def text_back_sent(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body.get("view") or {}
        problem = notice_actions.text_back_problem(view)
        if problem:
            await ack(response_action="errors", errors={notice_actions.TEXT_INPUT: problem})
            return
        await ack()
        user = str((body.get("user") or {}).get("id", ""))
        send = notice_actions.send_text_back(deps, user, view, client)
        deps.tasks.spawn(send, name="text back")

    seen: dict[str, None] = {}

    @app.event("message")
    async def message(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        # Slack retries an event it thinks we missed: the same event id sends nothing twice.
        event_id = str(body.get("event_id") or "")
        if event_id in seen:
            return
        seen[event_id] = None
        if len(seen) > 10_000:
            seen.pop(next(iter(seen)))
        deps.tasks.spawn(notice_actions.thread_reply(deps, event, client), name="thread reply")

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") == "home":
            view = {"type": "home", "blocks": blocks.help_reply().blocks}
            publish = client.views_publish(user_id=str(event["user"]), view=view)
            deps.tasks.spawn(publish, name="home tab")

    return app


async def _logged(coro: Coroutine[Any, Any, None]) -> None:
    try:
        await coro
    except ValueError:
        log.warning("ignored a click with an unreadable value")
