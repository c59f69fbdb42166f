"""What a person sees of their own RingCentral connection (DESIGN §3.9): the Connect
button, the confirmation of a connection whose email differs, `/ringcentral status`, and
the DM when a session ended. Outside text (extension names, labels) is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from .blocks import Reply, mrkdwn, reply, section
from .format import Locale, name, number

__all__ = [
    "CANCEL_ACTION",
    "CONFIRM_ACTION",
    "CONNECT_ACTION",
    "OPENED",
    "RINGOUT_FROM_ACTION",
    "Phone",
    "confirm_connection",
    "connect_button",
    "connected",
    "disconnected",
    "personal_status",
    "session_ended",
]

CONNECT_ACTION = "ringcentral_connect"  # also App Home's Connect button
CONFIRM_ACTION = "ringcentral_connect_confirm"
CANCEL_ACTION = "ringcentral_connect_cancel"
RINGOUT_FROM_ACTION = "ringcentral_ringout_from"
OPENED = "link"  # the value of a Connect button that opens the link itself


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone `/call` may ring first: its number and the label RingCentral gives it."""

    phone_number: str
    label: str | None = None


def _extension(extension_name: str, extension_number: str | None) -> str:
    shown = name(extension_name) or "your extension"
    return f"{shown}, ext. {name(extension_number)}" if extension_number else shown


def connect_button(url: str) -> Reply:
    """The ephemeral answer to `/ringcentral connect`: a button to RingCentral's page."""
    text = (
        "Connect your own RingCentral account: your texts and calls then go out from your "
        "own numbers. The link works once, for 10 minutes."
    )
    button = ButtonElement(
        text="Connect RingCentral",
        action_id=CONNECT_ACTION,
        url=url,
        value=OPENED,  # Slack still sends the click: nothing to do for this one
        style="primary",
    )
    return reply(text, [section(text), ActionsBlock(elements=[button])])


def confirm_connection(extension_name: str, extension_number: str | None) -> Reply:
    """A connection held because its email is not the person's: theirs to confirm."""
    who = _extension(extension_name, extension_number)
    text = (
        f"You connected as {who}. That account's email is not yours in Slack: confirm it "
        "is you, or cancel."
    )
    buttons = [
        ButtonElement(text="Confirm", action_id=CONFIRM_ACTION, value="confirm", style="primary"),
        ButtonElement(text="Cancel", action_id=CANCEL_ACTION, value="cancel", style="danger"),
    ]
    return reply(text, [section(text), ActionsBlock(elements=buttons)])


def connected(extension_name: str, extension_number: str | None) -> Reply:
    text = f"Connected: RingBridge now acts as {_extension(extension_name, extension_number)}."
    return reply(text, [section(f":white_check_mark: {text}")])


def disconnected() -> Reply:
    text = "Disconnected: RingCentral ended your session, and RingBridge forgot it."
    return reply(text, [section(f":white_check_mark: {text}")])


def session_ended() -> Reply:
    """The one DM when RingCentral refused a person's session."""
    text = (
        "Your RingCentral connection has ended (RingCentral no longer accepts its sign-in). "
        "Type `/ringcentral connect` to connect again; until then your commands are not sent."
    )
    return reply(text, [section(f":warning: {text}")])


def personal_status(
    *,
    extension_name: str | None,
    extension_number: str | None,
    state: str,
    sms_numbers: Sequence[str],
    phones: Sequence[Phone],
    ringout_from: str | None,
    locale: Locale,
    shared_note: str | None = None,
) -> Reply:
    """`/ringcentral status`: the connection, the numbers to text from, and a select of
    the phone `/call` rings first."""
    if state == "connected" and extension_name is not None:
        head = f"Connected as {_extension(extension_name, extension_number)}."
    elif state == "held" and extension_name is not None:
        head = (
            f"Waiting for your confirmation: connected as "
            f"{_extension(extension_name, extension_number)}."
        )
    elif state == "disconnected":
        head = "Your connection has ended: type `/ringcentral connect` to connect again."
    else:
        head = "Not connected: type `/ringcentral connect` to use your own RingCentral account."
    texting = ", ".join(number(n, locale) for n in sms_numbers) or "none"
    lines = [head, f"Numbers you can text from: {texting}"]
    if shared_note:
        lines.append(shared_note)
    blocks: list[SectionBlock | ActionsBlock] = [section("\n".join(lines))]
    if phones:
        options = [
            Option(
                text=f"{name(p.label) or 'Phone'}: {number(p.phone_number, locale)}"[:75],
                value=p.phone_number[:150],
            )
            for p in phones[:100]
        ]
        chosen = next((o for o in options if o.value == ringout_from), None)
        select = StaticSelectElement(
            placeholder="Phone /call rings first",
            action_id=RINGOUT_FROM_ACTION,
            options=options,
            initial_option=chosen,
        )
        blocks.append(SectionBlock(text=mrkdwn("The phone `/call` rings first:"), accessory=select))
    return reply("\n".join(lines), blocks)
