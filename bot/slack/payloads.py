"""What Slack sends us, validated where it enters (reference/slack.md §2.3 to 2.5)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SlashCommand(_Inbound):
    command: str
    text: str = ""
    user_id: str
    channel_id: str
    team_id: str | None = None
    response_url: str
    trigger_id: str | None = None


class _Id(_Inbound):
    id: str


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
    def action(self) -> Action:
        return self.actions[0]
