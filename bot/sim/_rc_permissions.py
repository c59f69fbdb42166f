"""Who may do what: the app's permissions and the user's, as RingCentral checks them.

Two layers (reference §1.7, §2.1; SPEC `x-app-permission` / `x-user-permission` per
operation): the *app* holds permissions granted in the developer console (listed in the
token's `scope`, space-separated); the *user* behind the token holds those of their role.
An ordinary user's permissions cover their own extension only; an admin's cover the
account. A refusal is 403 with `InsufficientPermissions` at the top and the detail in
`errors[]`: `CMN-401` (the app lacks it) or `CMN-408` (the user lacks it), with
`permissionName` (ringcentral-web-phone#154, ringcentral-embeddable#591 for CMN-401).
Older answers carried `CMN-408` at the top level (2018 community posts); the simulator
answers the current shape for both, so a client reading only the top level misses them.

Subscriptions: a non-admin's filters for another extension, or for the whole account's
telephony sessions, are not subscribed but listed in `disabledFilters` with a reason
(shape of examples/subscription-get-response-disabled-filters.json); a filter whose events
need an app permission the app lacks is disabled the same way. With no filter left the
request is refused. RingCentral documents neither the reason codes nor the messages for
these cases: `SUB-405` (reported by the issue) and a wording following the documented
`SUB-527`/`SUB-530` ("Not allowed subscribe for … of another extension") are the
simulator's strict reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ._rc_http import SimResponse, api_error

# The app permissions the bridge's features need (SPEC x-app-permission of every endpoint
# it calls; SubscriptionWebhook for WebHook subscriptions, reference §2.1; WebSocket for
# the WebSocket's token, reference §2.6, "WebSocketsSubscription" in the console).
APP_PERMISSIONS = frozenset(
    {
        "CallControl",
        "EditMessages",
        "InternalMessages",
        "ReadAccounts",
        "ReadCallLog",
        "ReadContacts",
        "ReadMessages",
        "RingOut",
        "SMS",
        "SubscriptionWebhook",
        "WebSocket",
    }
)
# An ordinary user's role (SPEC x-user-permission of those endpoints), over their own
# extension; an admin also reads the whole company's call log.
USER_PERMISSIONS = frozenset(
    {
        "EditMessages",
        "InternalSMS",
        "OutboundSMS",
        "ReadCallLog",
        "ReadExtensions",
        "ReadMessages",
        "ReadPersonalContacts",
        "ReadUserForwardingFlipNumbers",
        "ReadUserPhoneNumbers",
    }
)
# An admin also reads the company's answering rules (and so its business hours).
ADMIN_PERMISSIONS = USER_PERMISSIONS | {"FullCompanyCallLog", "ReadCompanyAnsweringRules"}

A = "/restapi/v1.0/account/{accountId}"
E = A + "/extension/{extensionId}"
S = "/restapi/v1.0/subscription"

# (method, OpenAPI template) -> (app permission, user permission); a test compares the
# table with the spec. Subscriptions carry none in the spec; SubscriptionWebhook is
# documented in the changelog (1.0.29) for creating one. Whether reading or deleting one
# needs it is not documented: only the calls that make or extend a webhook are checked.
ROUTE_PERMISSIONS: dict[tuple[str, str], tuple[str | None, str | None]] = {
    ("GET", E): ("ReadAccounts", "ReadExtensions"),
    ("GET", A + "/extension"): ("ReadAccounts", "ReadExtensions"),
    ("GET", A + "/business-hours"): ("ReadAccounts", "ReadCompanyAnsweringRules"),
    ("GET", E + "/phone-number"): ("ReadAccounts", "ReadUserPhoneNumbers"),
    ("POST", E + "/sms"): ("SMS", "OutboundSMS"),
    ("POST", E + "/mms"): ("SMS", "OutboundSMS"),
    ("POST", E + "/company-pager"): ("InternalMessages", "InternalSMS"),
    ("POST", E + "/ring-out"): ("RingOut", None),
    ("GET", E + "/ring-out/{ringoutId}"): ("RingOut", None),
    ("DELETE", E + "/ring-out/{ringoutId}"): ("RingOut", None),
    ("GET", E + "/call-log"): ("ReadCallLog", "ReadCallLog"),
    ("GET", E + "/call-log/{callRecordId}"): ("ReadCallLog", "ReadCallLog"),
    ("GET", A + "/call-log"): ("ReadCallLog", "FullCompanyCallLog"),
    ("GET", A + "/call-log/{callRecordId}"): ("ReadCallLog", "FullCompanyCallLog"),
    ("GET", E + "/message-store"): ("ReadMessages", "ReadMessages"),
    ("GET", E + "/message-store/{messageId}"): ("ReadMessages", "ReadMessages"),
    ("PUT", E + "/message-store/{messageId}"): ("EditMessages", "EditMessages"),
    ("PATCH", E + "/message-store/{messageId}"): ("EditMessages", "EditMessages"),
    ("GET", E + "/message-store/{messageId}/content/{attachmentId}"): ("ReadMessages", None),
    ("GET", A + "/directory/entries"): ("ReadAccounts", None),
    ("GET", A + "/directory/entries/{entryId}"): ("ReadAccounts", None),
    ("POST", A + "/directory/entries/search"): ("ReadAccounts", "ReadExtensions"),
    ("GET", E + "/address-book/contact"): ("ReadContacts", "ReadPersonalContacts"),
    # Catch-up's sync endpoints, and check's reads (listed ahead of them, so they are
    # checked the day they land). Account-level call-log sync: the spec names ReadCallLog,
    # but DESIGN §3.10 has the company's call log need FullCompanyCallLog, as GET
    # …/call-log does; the stricter reading is kept.
    ("GET", E + "/message-sync"): ("ReadMessages", "ReadMessages"),
    ("GET", E + "/call-log-sync"): ("ReadCallLog", "ReadCallLog"),
    ("GET", A + "/call-log-sync"): ("ReadCallLog", "FullCompanyCallLog"),
    ("GET", E + "/authz-profile"): (None, None),
    ("GET", E + "/forwarding-number"): ("ReadAccounts", "ReadUserForwardingFlipNumbers"),
    ("GET", E + "/phone-number/{phoneNumberId}/sms-configuration"): ("ReadAccounts", None),
    ("POST", S): ("SubscriptionWebhook", None),
    ("PUT", S + "/{subscriptionId}"): ("SubscriptionWebhook", None),
    ("POST", S + "/{subscriptionId}/renew"): ("SubscriptionWebhook", None),
    ("GET", S): (None, None),
    ("GET", S + "/{subscriptionId}"): (None, None),
    ("DELETE", S + "/{subscriptionId}"): (None, None),
    ("POST", "/restapi/oauth/wstoken"): ("WebSocket", None),
}

# The app permission a filter's events need (the event-filter pages, reference §3).
_FILTER_PERMISSIONS = (
    ("/telephony/sessions", "CallControl"),
    ("/message-store", "ReadMessages"),
    ("/voicemail", "ReadMessages"),
    ("/fax", "ReadMessages"),
    ("/call-log", "ReadCallLog"),
    ("/presence", "ReadPresence"),
)
_FILTER = re.compile(
    r"^/restapi/v1\.0/account/(?P<account>[^/?]+)(?:/extension/(?P<extension>[^/?]+))?"
    r"(?P<rest>[^?]*)"
)
OTHER_EXTENSION = "Not allowed subscribe for events of another extension"
WHOLE_ACCOUNT = "Not allowed subscribe for telephony sessions of the whole account"


def app_message(permission: str) -> str:
    return (
        f"In order to call this API endpoint, application needs to have [{permission}] permission"
    )


def insufficient(level: Literal["app", "user"], permission: str) -> SimResponse:
    """RingCentral's 403 for a missing permission (see the module docstring)."""
    if level == "app":
        code, message = "CMN-401", app_message(permission)
    else:
        code = "CMN-408"
        message = (
            f"In order to call this API endpoint, user needs to have [{permission}] "
            "permission for requested resource."
        )
    item = {"errorCode": code, "message": message, "permissionName": permission}
    body = {
        "errorCode": "InsufficientPermissions",
        "message": message,
        "errors": [item],
        "permissionName": permission,
    }
    return SimResponse.json(403, body)


@dataclass
class Permissions:
    """The app's permissions, the admins, and permissions taken from single users."""

    app: set[str] = field(default_factory=lambda: set(APP_PERMISSIONS))
    admins: set[str] = field(default_factory=set)
    withheld: dict[str, set[str]] = field(default_factory=dict)  # extension -> removed

    def scope(self) -> str:
        """The token's `scope`: the app's permissions, space-separated (reference §1.2)."""
        return " ".join(sorted(self.app))

    def is_admin(self, extension_id: str) -> bool:
        return extension_id in self.admins

    def of_user(self, extension_id: str) -> frozenset[str]:
        granted = ADMIN_PERMISSIONS if self.is_admin(extension_id) else USER_PERMISSIONS
        return frozenset(granted - self.withheld.get(extension_id, set()))

    def check(
        self, method: str, template: str, owner_id: str, target_id: str | None
    ) -> SimResponse | None:
        """None when `owner_id` may call this endpoint on `target_id` (an extension id, or
        None for account-level paths); else the 403 RingCentral answers."""
        app, user = ROUTE_PERMISSIONS.get((method, template), (None, None))
        if app is not None and app not in self.app:
            return insufficient("app", app)
        if user is not None and user not in self.of_user(owner_id):
            return insufficient("user", user)
        if target_id is not None and target_id != owner_id and not self.is_admin(owner_id):
            # An ordinary user's permissions reach their own extension only.
            return insufficient("user", user or app or "ReadAccounts")
        return None

    def split_filters(
        self, filters: list[str], account_id: str, owner_id: str
    ) -> tuple[list[str], list[dict[str, str]], SimResponse | None]:
        """(filters subscribed, disabledFilters, a refusal of the whole request)."""
        allowed: list[str] = []
        disabled: list[dict[str, str]] = []
        for event_filter in filters:
            m = _FILTER.match(event_filter)
            if m is None:  # the renewal reminder, /restapi/v1.0/subscription/~?threshold=…
                allowed.append(event_filter)
                continue
            if m["account"] != account_id:
                return allowed, disabled, _other_account()
            reason = self._filter_refusal(m["extension"], m["rest"], owner_id)
            if reason is None:
                allowed.append(event_filter)
            else:
                disabled.append({"filter": event_filter, **reason})
        if disabled and not any(_FILTER.match(f) for f in allowed):
            first = disabled[0]
            if first["reason"] == "CMN-401":
                return allowed, disabled, insufficient("app", _permission_of(first["message"]))
            return allowed, disabled, api_error(403, first["reason"], first["message"])
        return allowed, disabled, None

    def _filter_refusal(
        self, extension: str | None, rest: str, owner_id: str
    ) -> dict[str, str] | None:
        needed = next((p for prefix, p in _FILTER_PERMISSIONS if rest.startswith(prefix)), None)
        if needed is not None and needed not in self.app:
            return {"reason": "CMN-401", "message": app_message(needed)}
        if self.is_admin(owner_id):
            return None
        if extension is not None and extension != owner_id:
            return {"reason": "SUB-405", "message": OTHER_EXTENSION}
        if extension is None and rest.startswith("/telephony/sessions"):
            return {"reason": "SUB-405", "message": WHOLE_ACCOUNT}
        return None


def _permission_of(message: str) -> str:
    found = re.search(r"\[([^\]]+)\]", message)
    return found.group(1) if found else ""


def _other_account() -> SimResponse:
    # Documented (old API reference, POST /subscription): 403 SUB-406.
    message = "Not allowed subscribe for events to extensions of other account"
    return api_error(403, "SUB-406", message)


def permissions_of(extras: dict[str, Any]) -> Permissions:
    value = extras.setdefault("permissions", Permissions())
    assert isinstance(value, Permissions)
    return value
