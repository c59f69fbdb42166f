"""The clicks and events of personal accounts (DESIGN §3.9): Connect (the button on App
Home, action `ringcentral_connect`), Confirm / Cancel of a held connection, the phone
`/call` rings first (the select of `/ringcentral status`), and `user_change` (a
deactivated Slack account is disconnected)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.ringcentral import RingCentralError
from bot.slack._reply import answer
from bot.slack.deps import SlackDeps
from bot.slack.personal import PersonalAccounts
from bot.slack.render import Reply
from bot.slack.render.personal import (
    CANCEL_ACTION,
    CONFIRM_ACTION,
    CONNECT_ACTION,
    OPENED,
    RINGOUT_FROM_ACTION,
    connected,
    disconnected,
)

from .commands.ringcentral import connect_reply

__all__ = ["register", "user_changed"]

log = logging.getLogger("bot.slack.personal_actions")


def _who(body: dict[str, Any]) -> tuple[str | None, str]:
    """(team id, user id) of an interaction payload."""
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id")
    return (str(team) if team else None), str(user.get("id") or "")


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return actions[0] if isinstance(actions[0], dict) else {}


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.action(CONNECT_ACTION)
    async def connect(ack: AsyncAck, body: dict[str, Any], client: Any) -> None:
        await ack()
        if _action(body).get("value") == OPENED:
            return  # the button opened the link itself
        team, user = _who(body)
        if not user:
            return

        async def send_link() -> None:
            reply = await connect_reply(deps, team, user)
            opened = await client.conversations_open(users=user)
            channel = str((opened.get("channel") or {}).get("id"))
            await client.chat_postMessage(channel=channel, text=reply.text, blocks=reply.blocks)

        deps.tasks.spawn(send_link(), name="connect link")

    async def confirmed(accounts: PersonalAccounts, team: str, user: str) -> Reply | None:
        found = await accounts.confirm(team, user)
        return connected(found.extension_name, found.extension_number) if found else None

    async def cancelled(accounts: PersonalAccounts, team: str, user: str) -> Reply | None:
        await accounts.disconnect(team, user)
        return disconnected()

    for action_id, decide in ((CONFIRM_ACTION, confirmed), (CANCEL_ACTION, cancelled)):
        app.action(action_id)(_held_choice(deps, action_id, decide))

    @app.action(RINGOUT_FROM_ACTION)
    async def ringout_from(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        team, user = _who(body)
        chosen = (_action(body).get("selected_option") or {}).get("value")
        accounts = deps.accounts
        if accounts is None or accounts.connections is None or not team or not chosen:
            return
        connections = accounts.connections

        async def work() -> None:
            # Only one of the person's own forwarding numbers: the value came from a client.
            try:
                acting = await accounts.acting(team, user)
                phones = await acting.rc.account.forwarding_numbers()
            except RingCentralError as exc:
                log.warning("forwarding numbers of %s: %s", user, type(exc).__name__)
                return
            if acting.personal and chosen in {f.phone_number for f in phones.records}:
                await connections.set_ringout_from(team, user, str(chosen))

        deps.tasks.spawn(work(), name="ringout from")


Decide = Callable[[PersonalAccounts, str, str], Awaitable[Reply | None]]


def _held_choice(deps: SlackDeps, action_id: str, decide: Decide) -> Any:
    """The listener of Confirm or Cancel on a held connection: the message becomes the
    outcome."""

    async def listener(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        team, user = _who(body)
        accounts = deps.accounts
        if accounts is None or not team:
            return

        async def work() -> None:
            reply = await decide(accounts, team, user)
            if reply is not None:
                await answer(deps, respond, reply, replace=True)

        deps.tasks.spawn(work(), name=action_id)

    return listener


async def user_changed(deps: SlackDeps, event: dict[str, Any]) -> None:
    """`user_change`: a deactivated Slack account is disconnected (its session revoked)."""
    user = event.get("user") or {}
    if user.get("deleted") and deps.accounts is not None and user.get("id"):
        await deps.accounts.deactivated(str(user["id"]))
