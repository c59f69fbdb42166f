"""The Slack side of RingBridge (DESIGN §2): the Bolt app and its listeners (`app`), the
slash commands with their grammars (`commands`), buttons, modals and thread replies
(`actions`), App Home (`home`), pure Block Kit rendering (`render`), the manifest, and text
crossing between Slack and the phone network (`text`). It never imports `bot.bridge`."""

from bot.slack.app import build_bolt_app
from bot.slack.deps import People, SlackDeps

__all__ = ["People", "SlackDeps", "build_bolt_app"]
