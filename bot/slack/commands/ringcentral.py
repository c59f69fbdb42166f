"""`/ringcentral help | connect | disconnect | status` (DESIGN §3.5, §3.9): a person's own
RingCentral account. `help` is answered in the ack; the others after it (a database write,
perhaps RingCentral), through the response_url."""

from __future__ import annotations

import logging

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.ringcentral import RingCentralError
from bot.slack import render
from bot.slack._reply import answer
from bot.slack.deps import SlackDeps
from bot.slack.explain import explain
from bot.slack.payloads import SlashCommand
from bot.slack.personal import SessionEnded
from bot.slack.render.personal import Phone, connect_button, disconnected, personal_status

from .usage import help_reply

log = logging.getLogger("bot.slack.ringcentral")

WORDS = ("connect", "disconnect", "status")


def word_of(command: SlashCommand) -> str:
    return (command.text.split() or ["help"])[0].lower()


def answer_now(command: SlashCommand) -> render.Reply | None:
    """The reply given in the ack (help, or an unknown word); None for the words whose
    work follows the ack."""
    return None if word_of(command) in WORDS else help_reply()


async def run(deps: SlackDeps, command: SlashCommand, respond: AsyncRespond) -> None:
    word = word_of(command)
    if word == "connect":
        reply = await connect_reply(deps, command.team_id, command.user_id)
    elif word == "disconnect":
        reply = await _disconnect(deps, command)
    else:
        reply = await status_reply(deps, command.team_id, command.user_id)
    await answer(deps, respond, reply)


async def connect_reply(deps: SlackDeps, team_id: str | None, user_id: str) -> render.Reply:
    """The Connect button (also App Home's, action `ringcentral_connect`)."""
    accounts = deps.accounts
    if accounts is None or not accounts.enabled:
        off = accounts.off if accounts is not None else None
        return render.usage_error(off or "Personal RingCentral accounts are off here.")
    if not team_id:
        return render.usage_error("Slack did not say which workspace this is; try again.")
    return connect_button(await accounts.start(team_id, user_id))


async def _disconnect(deps: SlackDeps, command: SlashCommand) -> render.Reply:
    accounts = deps.accounts
    if accounts is None or not accounts.enabled or not command.team_id:
        return render.usage_error("You have no RingCentral account connected.")
    if await accounts.disconnect(command.team_id, command.user_id):
        return disconnected()
    return render.usage_error("You have no RingCentral account connected.")


async def status_reply(deps: SlackDeps, team_id: str | None, user_id: str) -> render.Reply:
    locale = await deps.locale()
    accounts = deps.accounts
    connection = None
    if accounts is not None and accounts.connections is not None and team_id:
        connection = await accounts.connections.get(team_id, user_id)
    if connection is None or connection.state != "connected" or accounts is None:
        senders = [n.phone_number for n in await deps.facts.numbers_with("SmsSender")]
        shared = [deps.commands.sms_from] if deps.commands.sms_from else senders[:1]
        return personal_status(
            extension_name=connection.extension_name if connection else None,
            extension_number=connection.extension_number if connection else None,
            state=connection.state if connection else "none",
            sms_numbers=[n for n in shared if n],
            phones=[],
            ringout_from=None,
            locale=locale,
            shared_note="Until you connect, texts go out from the shared number above.",
        )
    try:
        acting = await accounts.acting(team_id, user_id)
        sms = await acting.rc.account.numbers_with_feature("SmsSender")
        forwarding = await acting.rc.account.forwarding_numbers()
    except SessionEnded as exc:
        return render.ringcentral_refused(str(exc))
    except RingCentralError as exc:
        return render.ringcentral_refused(explain(exc))
    phones = [
        Phone(f.phone_number, f.label) for f in forwarding.records if f.phone_number is not None
    ]
    return personal_status(
        extension_name=connection.extension_name,
        extension_number=connection.extension_number,
        state=connection.state,
        sms_numbers=[n.phone_number for n in sms],
        phones=phones,
        ringout_from=connection.ringout_from,
        locale=locale,
    )
