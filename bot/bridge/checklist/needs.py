"""What the configuration needs of RingCentral: the app's permissions (the token's
`scope`) and the user's (`authz-profile`), each with the features it carries, so that a
missing one is reported with what it turns off (DESIGN §3.10).

Permission ids: the app's as RingCentral's permissions guide and the README name them;
the user's as the spec's `x-user-permission` of the endpoints the bridge calls.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from ._model import CALL_KINDS, Deployment

__all__ = ["APP_NEEDS", "USER_NEEDS", "Need", "holds"]


@dataclass(frozen=True, slots=True)
class Need:
    permission: str
    gives: str  # the features it carries, in words
    when: Callable[[Deployment], bool] = lambda deployment: True


def _calls(deployment: Deployment) -> bool:
    return bool(deployment.kinds & CALL_KINDS)


def _webhook(deployment: Deployment) -> bool:
    return deployment.notifications and not deployment.websocket


def _websocket(deployment: Deployment) -> bool:
    return deployment.notifications and deployment.websocket


def _notifications(deployment: Deployment) -> bool:
    return deployment.notifications


def _pager(deployment: Deployment) -> bool:
    return "internal_message" in deployment.kinds


APP_NEEDS = (
    Need("ReadAccounts", "the bridge itself (extensions, phone numbers, the directory)"),
    Need("SMS", "/sms, Text back and texted thread replies"),
    Need("RingOut", "/call and Call back"),
    Need("ReadCallLog", "/calllog"),
    Need("ReadMessages", "/sms list, and voicemail, fax and SMS notifications"),
    Need("CallControl", "missed, answered and finished call notifications", _calls),
    Need("SubscriptionWebhook", "every notification (the webhook subscription)", _webhook),
    # The console's "WebSocketsSubscription"; the token's scope says "WebSocket".
    Need(
        "WebSocket", "every notification (RingCentral's WebSocket, without PUBLIC_URL)", _websocket
    ),
    Need("InternalMessages", "internal (pager) message notifications", _pager),
    Need("ReadContacts", "caller names from the service user's contacts", _notifications),
)

USER_NEEDS = (
    Need("ReadExtensions", "the bridge itself (the account's extensions)"),
    Need("ReadUserPhoneNumbers", "choosing the numbers texts are sent from"),
    Need("OutboundSMS", "/sms, Text back and texted thread replies"),
    Need("ReadMessages", "/sms list, and voicemail, fax, SMS and pager notifications"),
    Need("ReadCallLog", "/calllog"),
    Need("ReadPersonalContacts", "caller names from the service user's contacts", _notifications),
)

# App permissions that include a narrower one (RingCentral's permissions guide), and the
# older names a token may still carry (the guide's sample token scope).
_INCLUDED_IN = {
    "ReadMessages": ("EditMessages", "SMS", "Faxes", "InternalMessages", "Messages"),
    "ReadCallLog": ("EditCallLog", "ReadCallRecording", "CallLog"),
    "ReadContacts": ("Contacts",),
    "ReadAccounts": ("EditAccounts", "Accounts", "AccountInfo", "ExtensionInfo"),
    "WebSocket": ("WebSocketsSubscription",),  # the console's name, should a token carry it
}


def holds(granted: Collection[str], permission: str) -> bool:
    """Whether app permissions `granted` give `permission`, itself or by inclusion."""
    return permission in granted or any(p in granted for p in _INCLUDED_IN.get(permission, ()))
