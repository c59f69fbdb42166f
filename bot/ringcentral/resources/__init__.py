"""Typed RingCentral endpoints, grouped as users meet them; each wraps a `Requester`.

messages       Messages       SMS, MMS, pager, message store, attachment content
ringout        RingOut        click-to-call: create, status, cancel
call_log       CallLog        extension and account call log
account        Account        extensions, phone numbers, directory, contacts
subscriptions  Subscriptions  webhook subscriptions
"""

from .account import Account
from .calls import CallLog, RingOut
from .messages import DEFAULT_MEDIA_URL, Messages
from .subscriptions import Subscriptions

__all__ = ["DEFAULT_MEDIA_URL", "Account", "CallLog", "Messages", "RingOut", "Subscriptions"]
