"""Pure Block Kit rendering: notices and RingCentral records in, `Reply(text, blocks)` out.
No I/O.

Grouped by what is rendered: `calls` (call notifications, `/calllog`), `messages` (SMS,
fax and pager notifications, `/sms list` and `/sms show`), `ringout` (`/call`), `digest`
(the daily digest), `replies` (help, usage errors, SMS sent). They share one module of
formatters (`format`: escape, clip, parties, times, right-to-left isolation), one of Block
Kit pieces (`blocks`) and one of what buttons and modals carry (`values`).

Every piece of outside text (names, SMS text, transcripts, subjects, ids) is escaped and
cut to Slack's limits after escaping; the only control sequences in a message are ours:
`<!date^…>` tokens and the `<@U…>` of whoever marked a missed call handled.
"""

from .blocks import Reply
from .calls import (
    call_detail,
    call_log_page,
    render_answered_call,
    render_call,
    render_missed_call,
    render_voicemail,
)
from .digest import render_digest
from .format import Locale
from .messages import (
    REPLY_HINT,
    message_detail,
    message_list,
    render_fax,
    render_internal_message,
    render_sms,
)
from .notice import render_notice
from .replies import help_reply, ringcentral_refused, sms_queued, sms_sent, usage_error
from .ringout import ringout_status
from .thread import already_texted, kept_in_team, not_texted
from .values import (
    CALL_BACK_ACTION,
    CALLLOG_ACTION,
    MARK_HANDLED_ACTION,
    RINGOUT_CANCEL_ACTION,
    SMS_LIST_ACTION,
    TAKE_IT_ACTION,
    TEXT_BACK_ACTION,
    TEXT_BACK_VIEW,
    TEXT_INPUT,
    ButtonValue,
    CallBackValue,
    CancelRingOutValue,
    MarkHandledValue,
    NoticeKind,
    PageValue,
    TakeItValue,
    TextBackMetadata,
    TextBackValue,
    decode,
    decode_button_value,
    encode,
    encode_button_value,
)

__all__ = [
    "CALLLOG_ACTION",
    "CALL_BACK_ACTION",
    "MARK_HANDLED_ACTION",
    "REPLY_HINT",
    "RINGOUT_CANCEL_ACTION",
    "SMS_LIST_ACTION",
    "TAKE_IT_ACTION",
    "TEXT_BACK_ACTION",
    "TEXT_BACK_VIEW",
    "TEXT_INPUT",
    "ButtonValue",
    "CallBackValue",
    "CancelRingOutValue",
    "Locale",
    "MarkHandledValue",
    "NoticeKind",
    "PageValue",
    "Reply",
    "TakeItValue",
    "TextBackMetadata",
    "TextBackValue",
    "already_texted",
    "call_detail",
    "call_log_page",
    "decode",
    "decode_button_value",
    "encode",
    "encode_button_value",
    "help_reply",
    "kept_in_team",
    "message_detail",
    "message_list",
    "not_texted",
    "render_answered_call",
    "render_call",
    "render_digest",
    "render_fax",
    "render_internal_message",
    "render_missed_call",
    "render_notice",
    "render_sms",
    "render_voicemail",
    "ringcentral_refused",
    "ringout_status",
    "sms_queued",
    "sms_sent",
    "usage_error",
]
