"""Typed RingCentral endpoints, grouped as users meet them; each wraps a `Requester`.

messages       Messages       SMS, MMS, pager, message store, attachment content
ringout        RingOut        click-to-call: create, status, cancel
call_log       CallLog        extension and account call log
account        Account        extensions, phone numbers, directory, contacts
permissions    Permissions    the user's permissions, a number's texting registration
subscriptions  Subscriptions  webhook subscriptions
message_sync   MessageSyncs   message sync (FSync, ISync)
call_log_sync  CallLogSyncs   call-log sync, extension and account level
"""

from .account import Account
from .calls import CallLog, RingOut
from .messages import DEFAULT_MEDIA_URL, Messages
from .permissions import Permissions
from .subscriptions import Subscriptions
from .sync import RECORD_LIMIT, CallLogSyncs, MessageSyncs, needs_full_sync

__all__ = [
    "DEFAULT_MEDIA_URL",
    "RECORD_LIMIT",
    "Account",
    "CallLog",
    "CallLogSyncs",
    "MessageSyncs",
    "Messages",
    "Permissions",
    "RingOut",
    "Subscriptions",
    "needs_full_sync",
]
