"""The simulator's endpoints. Templates are the OpenAPI path keys; groups are the spec's
`x-throttling-group` (reference §5; a test checks them against the spec)."""

from __future__ import annotations

from . import _rc_account as acct
from . import _rc_authz as authz
from . import _rc_forwarding as fwd
from . import _rc_messaging as msg
from . import _rc_ringout as ro
from . import _rc_subscriptions as sub
from . import _rc_sync as sync
from . import _rc_websocket as ws
from ._rc_state import Route

A = "/restapi/v1.0/account/{accountId}"
E = A + "/extension/{extensionId}"
S = "/restapi/v1.0/subscription"

ROUTES: tuple[Route, ...] = (
    Route("GET", E, "Light", acct.extension_info),
    Route("GET", A + "/extension", "Medium", acct.extension_list),
    Route("GET", A + "/business-hours", "Light", acct.business_hours),
    Route("GET", E + "/phone-number", "Light", acct.phone_numbers),
    Route("GET", E + "/phone-number/{phoneNumberId}/sms-configuration", "Light", authz.sms_config),
    Route("GET", E + "/authz-profile", "Medium", authz.authz_profile),
    Route("GET", E + "/forwarding-number", "Light", fwd.forwarding_numbers),
    Route("POST", E + "/sms", "Medium", msg.send_sms, sms=True),
    Route("POST", E + "/mms", "Medium", msg.send_sms, sms=True),
    Route("POST", E + "/company-pager", "Medium", msg.send_pager),
    Route("POST", E + "/ring-out", "Heavy", ro.create),
    Route("GET", E + "/ring-out/{ringoutId}", "Light", ro.get),
    Route("DELETE", E + "/ring-out/{ringoutId}", "Heavy", ro.delete),
    Route("GET", E + "/call-log", "Heavy", acct.call_log_extension),
    Route("GET", E + "/call-log/{callRecordId}", "Heavy", acct.call_record_extension),
    Route("GET", A + "/call-log", "Heavy", acct.call_log_account),
    Route("GET", A + "/call-log/{callRecordId}", "Heavy", acct.call_record_account),
    Route("GET", E + "/message-store", "Light", acct.message_list),
    Route("GET", E + "/message-store/{messageId}", "Light", acct.message_get),
    Route("PUT", E + "/message-store/{messageId}", "Medium", acct.message_update),
    Route("PATCH", E + "/message-store/{messageId}", "Medium", acct.message_update),
    Route(
        "GET",
        E + "/message-store/{messageId}/content/{attachmentId}",
        "Medium",
        acct.message_content,
        host="media",
    ),
    Route("GET", E + "/message-sync", "Light", sync.message_sync),
    Route("GET", E + "/call-log-sync", "Heavy", sync.call_log_sync_extension),
    Route("GET", A + "/call-log-sync", "Heavy", sync.call_log_sync_account),
    Route("GET", A + "/directory/entries", "Medium", acct.directory_entries),
    Route("GET", A + "/directory/entries/{entryId}", "Medium", acct.directory_entry),
    Route("POST", A + "/directory/entries/search", "Heavy", acct.directory_search),
    Route("GET", E + "/address-book/contact", "Heavy", acct.contacts),
    Route("POST", S, "Medium", sub.create),
    Route("GET", S, "Light", sub.list_),
    Route("GET", S + "/{subscriptionId}", "Light", sub.get),
    Route("PUT", S + "/{subscriptionId}", "Medium", sub.update),
    Route("POST", S + "/{subscriptionId}/renew", "Light", sub.renew),
    Route("DELETE", S + "/{subscriptionId}", "Medium", sub.delete),
    # Bearer-authenticated, unlike the other OAuth paths: a route like the API's.
    Route("POST", "/restapi/oauth/wstoken", "Auth", ws.wstoken),
)

OAUTH_PATHS = ("/restapi/oauth/token", "/restapi/oauth/authorize", "/restapi/oauth/revoke")


def match(host: str, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for a request; `/search` wins over `/{entryId}` as it is listed first."""
    found = None
    for route in ROUTES:
        if route.host != host or route.method != method:
            continue
        m = route.regex.match(path)
        if m is not None:
            params = m.groupdict()
            # a literal segment beats a template one (directory/entries/search)
            if found is None or len(params) < len(found[1]):
                found = (route, params)
    return found
