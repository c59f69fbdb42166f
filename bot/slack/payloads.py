"""What Slack sends us, validated where it enters (reference/slack.md §2.3 to 2.5)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """Where a person acts (`[permissions]` channels match it): the channel's id, and its
    name when Slack sent it."""

    id: str | None
    name: str | None = None


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SlashCommand(_Inbound):
    command: str
    text: str = ""
    user_id: str
    channel_id: str
    channel_name: str | None = None
    team_id: str | None = None
    response_url: str
    trigger_id: str | None = None

    @property
    def channel_ref(self) -> ChannelRef:
        """Where the command was typed (`[permissions]` channels match it)."""
        return ChannelRef(self.channel_id, self.channel_name)


class _Id(_Inbound):
    id: str
    name: str | None = None


class Action(_Inbound):
    action_id: str
    value: str = ""


class BlockAction(_Inbound):
    """A button click; Slack does not send the message's metadata with it, so buttons
    carry what their action needs in `value` (DESIGN §3.7)."""

    user: _Id
    actions: list[Action]
    response_url: str | None = None
    channel: _Id | None = None
    trigger_id: str | None = None

    @property
    def channel_ref(self) -> ChannelRef | None:
        """The message's channel (`[permissions]` channels match it)."""
        return ChannelRef(self.channel.id, self.channel.name) if self.channel else None

    @property
    def action(self) -> Action:
        return self.actions[0]


class _Input(_Inbound):
    value: str | None = None  # a plain_text_input's; None when left empty


class _ViewState(_Inbound):
    values: dict[str, dict[str, _Input]] = {}  # block_id → action_id → input


class _View(_Inbound):
    callback_id: str = ""
    private_metadata: str = ""
    state: _ViewState = _ViewState()


class ViewSubmission(_Inbound):
    """A modal's Submit (reference/slack.md §2.5)."""

    user: _Id
    view: _View

    def typed(self, input_id: str) -> str:
        """The text typed in the plain_text_input whose block_id and action_id are `input_id`."""
        found = self.view.state.values.get(input_id, {}).get(input_id)
        return (found.value or "") if found else ""


class MessageEvent(_Inbound):
    """A `message` event (message.channels, message.groups): a thread reply, among others."""

    channel: str | None = None
    user: str | None = None
    text: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    subtype: str | None = None


class _PostedBody(_Inbound):
    thread_ts: str | None = None


class PostedMessage(_Inbound):
    """chat.postMessage's answer (reference/slack.md): the message's `ts`, and the message
    as Slack stored it — without a `thread_ts` when Slack put a reply at the channel's top
    level (its thread's parent was deleted)."""

    ts: str
    channel: str
    message: _PostedBody | None = None
