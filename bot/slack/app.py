"""The Bolt app: which listener answers which slash command, button, modal and event. Every
listener acks at once and does its work afterwards in a tracked task (`deps.tasks`),
answering through the response_url, except where Slack wants the answer in the ack itself
(`/ringcentral`, a modal's errors) or within 3 s of the click (opening a modal), and a
thread reply, which is stored before the ack and sent by the dispatcher (DESIGN §3.8)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import actions, home, personal_actions, render
from bot.slack.commands import call, calllog, ringcentral, sms
from bot.slack.deps import SlackDeps
from bot.slack.payloads import BlockAction, MessageEvent, SlashCommand, ViewSubmission
from bot.slack.render.home import CONNECT_ACTION

__all__ = ["build_bolt_app"]

log = logging.getLogger("bot.slack.app")

Command = Callable[[SlashCommand, AsyncRespond, AsyncWebClient], Coroutine[Any, Any, None]]
Click = Callable[[BlockAction, AsyncRespond, AsyncWebClient], Coroutine[Any, Any, None]]


class _GivenClient(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment even when given a client, then warns
    on every start that the token will be unused ("As you gave `client` as well…"). It is
    unused on purpose: the client carries the token. No argument turns the lookup off
    (`token or os.environ[…]`), so the one line is dropped here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_bolt_log = logging.getLogger("bot.slack.bolt")
_bolt_log.addFilter(_GivenClient())


def build_bolt_app(
    deps: SlackDeps, *, client: AsyncWebClient, signing_secret: str | None
) -> AsyncApp:
    """`signing_secret` None: Socket Mode only (its envelopes carry no signature). Bolt then
    gets "" rather than reading SLACK_SIGNING_SECRET itself, and would refuse any HTTP
    request it were handed (an empty secret verifies nothing: it raises)."""
    app = AsyncApp(
        # Without a name Bolt takes its caller's file name from `inspect.stack()`, which
        # reads the source of every frame on the stack: a third of a second of `serve`'s
        # start on the development machine (profiled), for a name only Bolt's logs use.
        name="ringbridge",
        client=client,
        signing_secret=signing_secret or "",
        # Bolt's loggers take this one's filters: the start warning above stays out.
        logger=_bolt_log,
        # Bolt's default answers unknown requests with 404 after logging; keep it quiet.
        raise_error_for_unhandled_request=False,
        # Run listeners inline and answer when they return: ours only ack and spawn their
        # work, and otherwise Bolt polls for the ack every 10 ms (bench: p99 31 -> 8 ms).
        process_before_response=True,
    )

    def command(name: str, work: Command) -> None:
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
    async def ringcentral_command(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        payload = SlashCommand.model_validate(body)
        reply = ringcentral.answer_now(payload)
        if reply is not None:
            await ack(text=reply.text, blocks=reply.blocks)
            return
        await ack()
        work = ringcentral.run(deps, payload, respond)
        deps.tasks.spawn(work, name=f"/ringcentral {payload.user_id}")

    def button(action_id: str, work: Click) -> None:
        async def listener(
            ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
        ) -> None:
            await ack()
            try:
                click = BlockAction.model_validate(body)
            except ValueError:
                log.warning("ignored a %s click Slack could not have sent", action_id)
                return
            deps.tasks.spawn(_logged(action_id, work(click, respond, client)), name=action_id)

        app.action(action_id)(listener)

    button(render.SMS_LIST_ACTION, lambda c, r, _: actions.turn_sms_page(deps, c, r))
    button(render.CALLLOG_ACTION, lambda c, r, _: actions.turn_calllog_page(deps, c, r))
    button(render.RINGOUT_CANCEL_ACTION, lambda c, r, _: actions.cancel_ringout(deps, c, r))
    button(render.CALL_BACK_ACTION, lambda c, r, _: actions.call_back(deps, c, r))
    button(render.MARK_HANDLED_ACTION, lambda c, r, w: actions.mark_handled(deps, c, r, w))
    button(render.TAKE_IT_ACTION, lambda c, r, w: actions.take_it(deps, c, r, w))

    @app.action(render.TEXT_BACK_ACTION)
    async def text_back(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        # views.open must happen within 3 s of the click (the trigger_id expires): inline.
        try:
            await actions.open_text_back(deps, BlockAction.model_validate(body), client)
        except ValueError:
            log.warning("ignored a Text back click with an unreadable value")

    @app.view(render.TEXT_BACK_VIEW)
    async def text_back_sent(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        try:
            submission = ViewSubmission.model_validate(body)
        except ValueError:
            await ack()
            log.warning("ignored a Text back submission Slack could not have sent")
            return
        problem = actions.text_back_problem(submission)
        if problem:
            await ack(response_action="errors", errors={render.TEXT_INPUT: problem})
            return
        await ack()
        send = actions.send_text_back(deps, submission, client)
        deps.tasks.spawn(_logged(render.TEXT_BACK_VIEW, send), name="text back")

    personal_actions.register(app, deps)

    @app.event("message")
    async def message(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        try:
            reply = MessageEvent.model_validate(event)
        except ValueError:
            log.warning("ignored a message event Slack could not have sent")
            return
        if reply.subtype in ("message_changed", "message_deleted"):
            deps.tasks.spawn(actions.reply_changed(deps, reply, client), name="reply changed")
            return
        # Stored before Slack gets its answer (Bolt answers when this returns): a crash
        # after it loses nothing, and a retried event (any process) stores nothing new.
        # A database that cannot take it fails the request, and Slack sends it again.
        await actions.keep_thread_reply(deps, str(body.get("event_id") or ""), reply, event)

    @app.event("user_change")
    async def user_change(event: dict[str, Any]) -> None:
        deps.tasks.spawn(personal_actions.user_changed(deps, event), name="user change")

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") == "home" and event.get("user"):
            work = home.publish(deps, client, str(event["user"]))
            deps.tasks.spawn(_logged("app_home_opened", work), name="home tab")

    # The Home tab's Connect button. Its real handler is the connect flow's (issue #12,
    # `/ringcentral connect`); until that lands, the click says where to go.
    @app.action(CONNECT_ACTION)
    async def connect_clicked(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        if user:
            opened = await client.conversations_open(users=user)
            channel = str((opened.get("channel") or {}).get("id") or "")
            if channel:
                await client.chat_postMessage(
                    channel=channel, text="Type `/ringcentral connect` to connect your account."
                )

    return app


async def _logged(action: str, work: Coroutine[Any, Any, None]) -> None:
    try:
        await work
    except ValueError:  # a forged or stale value: nothing to do
        log.warning("ignored a %s with an unreadable value", action)
