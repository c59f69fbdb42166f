"""Pure Block Kit rendering of the slash-command replies (DESIGN §3.5): RingCentral models in,
`Reply(text, blocks)` out, ready for `respond(text=..., blocks=...)` or `chat.postMessage`.

No I/O. Every piece of outside text (names, SMS text, subjects, locations, ids) goes through
`bot.slack.text.escape()` and is cut to Slack's limits after escaping; blocks are built with
slack_sdk's model classes, so Slack's limits are checked before Slack sees them. Buttons:
`sms_list_page` and `calllog_page` (Previous/Next, values opaque to us) and `ringout_cancel`
(value: the RingOut id).
"""

from __future__ import annotations

from ._blocks_base import Reply
from ._blocks_calls import CALLLOG_ACTION, call_detail, call_log_page
from ._blocks_commands import help_reply, ringcentral_refused, sms_queued, sms_sent, usage_error
from ._blocks_messages import SMS_LIST_ACTION, message_detail, message_list
from ._blocks_ringout import RINGOUT_CANCEL_ACTION, ringout_status

__all__ = [
    "CALLLOG_ACTION",
    "RINGOUT_CANCEL_ACTION",
    "SMS_LIST_ACTION",
    "Reply",
    "call_detail",
    "call_log_page",
    "help_reply",
    "message_detail",
    "message_list",
    "ringcentral_refused",
    "ringout_status",
    "sms_queued",
    "sms_sent",
    "usage_error",
]
