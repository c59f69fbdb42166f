"""The slash commands, each with its grammar (pure functions from typed text to a request,
raising `UsageError` with what to type instead) and the work it does: `/sms`, `/call`,
`/calllog`, `/ringcentral`."""

from ._grammar import Help, Period, UsageError
from .call import PlaceCall, parse_call
from .calllog import CallLogQuery, ShowCall, parse_calllog
from .sms import MessageQuery, SendSms, ShowMessage, parse_sms
from .usage import CALL_USAGE, CALLLOG_USAGE, SMS_USAGE, help_reply

__all__ = [
    "CALLLOG_USAGE",
    "CALL_USAGE",
    "SMS_USAGE",
    "CallLogQuery",
    "Help",
    "MessageQuery",
    "Period",
    "PlaceCall",
    "SendSms",
    "ShowCall",
    "ShowMessage",
    "UsageError",
    "help_reply",
    "parse_call",
    "parse_calllog",
    "parse_sms",
]
