"""The RingCentral side of `check` (DESIGN §3.4, §3.10): the sign-in, the app's permissions
from the token's `scope`, the user's from `authz-profile`, the numbers that text and
their registration from `sms-configuration`, and the webhook subscription with its
`disabledFilters`. Each gap says which feature it turns off and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiohttp
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from bot.bridge.subscriptions import event_filters, normalise_filter
from bot.bridge.watch import Watch, resolve_watch
from bot.clock import SystemClock
from bot.config import ConfigError
from bot.ringcentral import ApiError, AuthError, RingCentralClient, RingCentralError
from bot.ringcentral.models import ExtensionInfo, PhoneNumber, SubscriptionInfo
from bot.ringcentral.ws import WsConnection, WsRefused, request_ws_token
from bot.store import SubscriptionStore

from ._model import Checklist, Deployment
from .needs import APP_NEEDS, USER_NEEDS, holds

__all__ = ["SignedIn", "WebSocketHolder", "check_ringcentral", "check_subscription",
           "check_websocket"]  # fmt: skip

SIGNIN = "RingCentral sign-in"
APP = "RingCentral app permission"
USER = "RingCentral user permission"
NUMBERS = "SMS numbers"
REGISTRATION = "texting registration"
SUBSCRIPTION = "webhook subscription"
WEBSOCKET = "RingCentral WebSocket"
HOLDER_STALE = 60.0  # seconds: the holder speaks every 10 (bot.bridge.listener)
_REGISTERED = "Confirmed"  # RingCentral's SMS requirements: the campaign must be Confirmed
_REGISTER = "Register it (RingCentral admin portal: Phone System → SMS registration)"
_BEYOND_SELF = frozenset({"Account", "AllExtensions", "UserExtensions", "Federation", "RoleBased"})


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The service user signed in; the watched extensions when the configuration agrees
    with the account."""

    watch: Watch | None


async def check_ringcentral(
    rc: RingCentralClient, deployment: Deployment, out: Checklist, *, shared: bool
) -> SignedIn | None:
    """Everything of the service user and the app; None when the sign-in failed."""
    try:
        session = await rc.auth.session()
        me = await rc.account.extension()
    except AuthError as err:
        out.bad(SIGNIN, _signin_advice(err))
        return None
    except RingCentralError as err:
        out.bad(SIGNIN, f"{err}; check RINGCENTRAL_SERVER_URL, or try again later")
        return None
    whose = "the running bridge's session" if shared else "a session of its own, ended at exit"
    out.ok(SIGNIN, f"{_who(me)}, with {whose}")
    _app_permissions(session.scope.split(), deployment, out)
    try:
        watch = await resolve_watch(
            deployment.bridge, rc, default_channel=deployment.default_channel
        )
    except ConfigError as err:
        out.bad("watched extensions", f"{err}")
        watch = None
    except RingCentralError as err:
        out.bad("watched extensions", f"could not be read: {err}")
        watch = None
    await _user_permissions(rc, deployment, watch, me, out)
    await _texting(rc, deployment, out)
    return SignedIn(watch)


def _who(me: ExtensionInfo) -> str:
    name = f" ({me.name})" if me.name else ""
    return f"the service user is ext. {me.extension_number or me.id}{name}"


def _signin_advice(err: AuthError) -> str:
    code = " ".join(part for part in (err.error, err.error_code) if part)
    if err.error == "invalid_client":
        return (
            f"the app's credentials were refused ({code}): check RINGCENTRAL_CLIENT_ID and "
            "RINGCENTRAL_CLIENT_SECRET against the app in the RingCentral developer console"
        )
    if err.error == "unauthorized_client":
        return (
            f"the app may not sign in with a JWT ({code}): choose the JWT auth flow in the "
            "app's settings in the RingCentral developer console"
        )
    if err.error == "invalid_grant":
        return (
            f"the JWT was refused ({code}): create a new JWT credential for the service "
            "user in the RingCentral developer console and set RINGCENTRAL_JWT to it"
        )
    return f"refused ({code}{': ' + err.description if err.description else ''})"


def _app_permissions(granted: list[str], deployment: Deployment, out: Checklist) -> None:
    needed = [need for need in APP_NEEDS if need.when(deployment)]
    missing = [need for need in needed if not holds(granted, need.permission)]
    for need in missing:
        out.bad(
            f"{APP} {need.permission}",
            f"missing: {need.gives} {'is' if need.gives.startswith('/') else 'are'} off. Add "
            "it to the app in the RingCentral developer console (the bridge's session has it "
            "from its next login)",
        )
    if not missing:
        names = ", ".join(need.permission for need in needed)
        out.ok("RingCentral app permissions", f"all the configuration needs ({names})")


async def _user_permissions(
    rc: RingCentralClient,
    deployment: Deployment,
    watch: Watch | None,
    me: ExtensionInfo,
    out: Checklist,
) -> None:
    try:
        profile = await rc.permissions.profile()
    except RingCentralError as err:
        out.bad("RingCentral user permissions", f"could not be read (authz-profile): {err}")
        return
    problems = 0
    for need in USER_NEEDS:
        if need.when(deployment) and profile.scopes(need.permission) is None:
            problems += 1
            out.bad(
                f"{USER} {need.permission}",
                f"the service user lacks it: {need.gives} cannot work. Give its role this "
                "permission in the RingCentral admin portal (Users → Roles)",
            )
    others = [i for i in (watch.extension_ids if watch else ()) if i != me.id]
    if others and watch is not None:
        numbers = ", ".join(f"ext. {watch.extension_numbers.get(i) or i}" for i in others)
        for permission, what in (("ReadMessages", "messages"), ("ReadCallLog", "calls")):
            reach = profile.scopes(permission)
            if reach is not None and not reach & _BEYOND_SELF:
                problems += 1
                out.bad(
                    f"{USER} {permission}",
                    f"reaches only the service user's own extension ({', '.join(sorted(reach))}"
                    f"): the {what} of {numbers} are not notified nor caught up. Give the "
                    "service user a role over them (e.g. an administrator's), or watch only "
                    "its own extension",
                )
    if not problems:
        out.ok("RingCentral user permissions", "the service user holds what the bridge needs")


async def _texting(rc: RingCentralClient, deployment: Deployment, out: Checklist) -> None:
    try:
        senders = await rc.account.numbers_with_feature("SmsSender")
    except RingCentralError as err:
        out.bad(NUMBERS, f"the service user's numbers could not be read: {err}")
        return
    if not senders:
        out.bad(
            NUMBERS,
            "the service user has no number that may send SMS (SmsSender): /sms, Text back "
            "and texted thread replies cannot text. Give it an SMS-capable number",
        )
        return
    out.ok(NUMBERS, "may send from " + ", ".join(n.phone_number for n in senders))
    sms_from = deployment.bridge.commands.sms_from
    if sms_from and sms_from not in {n.phone_number for n in senders}:
        out.bad(
            "[commands] sms_from",
            f"{sms_from} is not an SMS number of the service user: /sms cannot send from it. "
            "Use one of the numbers above",
        )
    for number in senders:
        await _registration(rc, number, out)


async def _registration(rc: RingCentralClient, number: PhoneNumber, out: Checklist) -> None:
    subject = f"{REGISTRATION} {number.phone_number}"
    kind = _nanp_kind(number.phone_number)
    if kind is None:
        out.ok(subject, "outside the US and Canada: no business texting registration")
        return
    if kind == "toll-free":
        out.ok(subject, "toll-free: texts need its toll-free verification, which RingCentral's "
               "API does not show")  # fmt: skip
        return
    try:
        config = await rc.permissions.sms_configuration(number.id)
    except RingCentralError as err:
        out.bad(subject, f"could not be read (sms-configuration): {err}")
        return
    campaign = config.sms_campaign_info
    status = campaign.status if campaign is not None else None
    if status == _REGISTERED:
        out.ok(subject, f"registered for business texting (campaign {status})")
    else:
        said = f"campaign {status}" if status else "no campaign"
        out.bad(
            subject,
            f"not registered for business texting ({said}): carriers block or filter its "
            f"texts. {_REGISTER}",
        )


def _nanp_kind(e164: str) -> str | None:
    """ "local" or "toll-free" for a US or Canadian number (they need registering), None
    for any other."""
    try:
        parsed = phonenumbers.parse(e164)
    except NumberParseException:
        return None
    if phonenumbers.region_code_for_number(parsed) not in ("US", "CA"):
        return None
    return "toll-free" if phonenumbers.number_type(parsed) == PhoneNumberType.TOLL_FREE else "local"


async def check_subscription(
    rc: RingCentralClient,
    store: SubscriptionStore | None,
    deployment: Deployment,
    watch: Watch | None,
    out: Checklist,
) -> None:
    """The webhook subscription at PUBLIC_URL: active, with the filters the routes need,
    and none disabled by RingCentral."""
    if not deployment.notifications or deployment.websocket:
        return
    address = deployment.webhook_address
    if address is None:
        out.bad(
            SUBSCRIPTION,
            "PUBLIC_URL is not set: no webhook subscription, so no notification arrives. "
            "Set it to this server's public https address",
        )
        return
    try:
        listing = await rc.subscriptions.list()
    except RingCentralError as err:
        out.bad(SUBSCRIPTION, f"could not be read: {err}")
        return
    ours = {record.id for record in await store.all()} if store is not None else set()
    found = [
        sub for sub in listing.records if sub.delivery_mode.address == address or sub.id in ours
    ]
    if not found:
        out.bad(
            SUBSCRIPTION,
            f"none delivers to {address}: start the bridge (`serve`), or run "
            "`python -m bot subscriptions sync`",
        )
        return
    for sub in found:
        _subscription(sub, address, watch, out)


def _subscription(sub: SubscriptionInfo, address: str, watch: Watch | None, out: Checklist) -> None:
    subject = f"{SUBSCRIPTION} {sub.id}"
    if not sub.is_active:
        why = sub.blacklisted_data.reason if sub.blacklisted_data else None
        out.bad(
            subject,
            f"{sub.status}{f' ({why})' if why else ''}: no notification arrives. The bridge "
            "replaces it within 15 minutes, or run `python -m bot subscriptions sync`",
        )
        return
    until = sub.expiration_time.strftime("%Y-%m-%d %H:%M UTC") if sub.expiration_time else "?"
    if watch is not None:
        wanted = set(event_filters(watch.kinds, watch.extension_ids, watch.senders))
        have = {normalise_filter(f) for f in sub.event_filters}
        have |= {normalise_filter(d.filter) for d in sub.disabled_filters}
        if wanted != have:
            out.bad(
                subject,
                "its event filters are not those the routes need: the bridge updates it "
                "within 15 minutes, or run `python -m bot subscriptions sync`",
            )
    for disabled in sub.disabled_filters:
        why = " ".join(part for part in (disabled.reason, disabled.message) if part)
        out.bad(
            f"disabled event filter {disabled.filter}",
            f"RingCentral does not deliver it ({why or 'no reason given'}): those "
            "notifications are off. Give the service user permission over that extension, "
            "or stop watching it",
        )
    out.ok(subject, f"active until {until}, delivering to {address}")


@dataclass(frozen=True, slots=True)
class WebSocketHolder:
    """The running bridge's last word on its WebSocket (`bot.store.ws_sessions`)."""

    state: str
    seen_at: datetime
    now: datetime


async def check_websocket(
    rc: RingCentralClient,
    session: aiohttp.ClientSession,
    holder: WebSocketHolder | None,
    deployment: Deployment,
    out: Checklist,
) -> None:
    """Over the WebSocket (DESIGN §3.11): a connection made now (a WebSocket token, the
    gateway's `ConnectionDetails`; no subscription, so the bridge's own is untouched), and
    whether the running bridge holds its connection."""
    if not deployment.notifications:
        return
    try:
        token = await request_ws_token(rc)
        connection = await WsConnection.open(session, token, clock=SystemClock(), heartbeats=False)
    except ApiError as err:
        if err.status == 403:
            out.bad(
                WEBSOCKET,
                f"RingCentral refused a WebSocket token ({err.error_code}): add the "
                "WebSocketsSubscription permission to the app in the RingCentral developer "
                "console, or set PUBLIC_URL for webhooks",
            )
        else:
            out.bad(WEBSOCKET, f"no WebSocket token: {err}")
        return
    except WsRefused as err:
        out.bad(WEBSOCKET, f"the gateway refused the connection ({err})")
        return
    except RingCentralError as err:
        out.bad(WEBSOCKET, f"could not connect: {err}")
        return
    idle = connection.details.idle_timeout
    await connection.close()
    out.ok(WEBSOCKET, f"a test connection was made (idle timeout {idle} s)")
    if holder is None:
        out.bad(
            f"{WEBSOCKET} of the bridge",
            "no process has held it yet: start the bridge (`serve`); without it no "
            "notification arrives",
        )
        return
    age = (holder.now - holder.seen_at).total_seconds()
    if holder.state == "connected" and age <= HOLDER_STALE:
        out.ok(f"{WEBSOCKET} of the bridge", "connected: events arrive")
    else:
        said = "silent" if age > HOLDER_STALE else holder.state
        out.bad(
            f"{WEBSOCKET} of the bridge",
            f"not connected ({said}, {int(age)} s ago): notifications do not arrive. Look "
            "at the bridge's log, or start it",
        )
