"""WebHook subscriptions: create (with the handshake), list, get, update, renew, delete,
and the delivery side with blacklisting (reference/ringcentral.md §2)."""

from __future__ import annotations

import json
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ._rc_http import SimResponse, api_error, invalid_param, not_found
from ._rc_messaging import BadRequest, _load_json
from ._rc_permissions import permissions_of
from ._rc_state import Call, SimState, json_ok
from ._rc_webhook import WebhookClient, delivery_headers

MAX_PER_EXTENSION = 30  # SPEC: 30 subscriptions per user/extension per application
DEFAULT_EXPIRES_IN = 604800  # examples without expiresIn answer 604799 (≈ 7 days)
MAX_EXPIRES_IN = 315360000  # SPEC: WebHook expiresIn max 10 years


def iso(ts: float) -> str:
    return (
        datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(ts * 1000) % 1000:03d}Z"
    )


@dataclass
class Subscription:
    id: str
    owner_id: str
    client_id: str
    event_filters: list[str]
    address: str
    verification_token: str | None
    created: float
    expires_in: int
    expires_at: float
    status: str = "Active"
    blacklisted_data: dict[str, str] | None = None
    failures: int = 0
    # filters asked for but not subscribed: {filter, reason, message} (_rc_permissions)
    disabled_filters: list[dict[str, str]] = field(default_factory=list)
    transport: str = "WebHook"  # or WebSocket (bot/sim/_rc_websocket.py): no address

    def info(self, server_url: str, now: float) -> dict[str, Any]:
        # shape of examples/subscription-create-response-webhook.json; the
        # verificationToken is write-only and never echoed back. A WebSocket
        # subscription lives as long as its session: its expiry is renewed all along.
        expires_at = now + self.expires_in if self.transport == "WebSocket" else self.expires_at
        mode: dict[str, Any] = {"transportType": self.transport, "encryption": False}
        if self.transport == "WebHook":
            mode["address"] = self.address
        body: dict[str, Any] = {
            "uri": f"{server_url}/restapi/v1.0/subscription/{self.id}",
            "id": self.id,
            "creationTime": iso(self.created),
            "status": self.status,
            "eventFilters": list(self.event_filters),
            "expirationTime": iso(expires_at),
            "expiresIn": max(0, int(expires_at - now)),
            "deliveryMode": mode,
        }
        if self.disabled_filters:
            body["disabledFilters"] = [dict(d) for d in self.disabled_filters]
        if self.blacklisted_data is not None:
            body["blacklistedData"] = dict(self.blacklisted_data)
        return body


@dataclass
class Subscriptions:
    webhooks: WebhookClient = field(default_factory=WebhookClient)
    by_id: dict[str, Subscription] = field(default_factory=dict)
    blacklist_after: int = 3
    deliveries: list[tuple[str, bytes, int]] = field(default_factory=list)

    def live(self, now: float) -> list[Subscription]:
        return [s for s in self.by_id.values() if s.expires_at > now]

    def blacklist(self, sub: Subscription, reason: str, now: float) -> None:
        sub.status = "Blacklisted"
        sub.blacklisted_data = {"reason": reason, "blacklistedAt": iso(now)}

    async def deliver_bytes(
        self, sub: Subscription, body: bytes, headers: dict[str, str], now: float
    ) -> int:
        # One attempt, whatever the answer: RingCentral documents no redelivery of a
        # notification the webhook did not take (reference §2.4); it only counts failures.
        outcome = await self.webhooks.post(sub.address, body, headers)
        self.deliveries.append((sub.id, body, outcome.status))
        if outcome.status == 200:
            sub.failures = 0
        else:
            # RingCentral flags a webhook that keeps failing (any non-200) as Blacklisted
            sub.failures += 1
            if sub.failures >= self.blacklist_after:
                self.blacklist(sub, outcome.reason, now)
        return outcome.status

    def envelope(
        self, sub: Subscription, body: Any, event: str | None, uuid: str | None, now: float
    ) -> bytes:
        # DOCS event-filters/index.md: {uuid, event, timestamp, subscriptionId, ownerId, body}
        return json.dumps(
            {
                "uuid": uuid or str(uuidlib.uuid4()),
                "event": event or sub.event_filters[0],
                "timestamp": iso(now),
                "subscriptionId": sub.id,
                "ownerId": sub.owner_id,
                "body": body,
            }
        ).encode()

    def headers(self, sub: Subscription) -> dict[str, str]:
        return delivery_headers(sub.verification_token)


def _subs(st: SimState) -> Subscriptions:
    value = st.extras.setdefault("subscriptions", Subscriptions())
    assert isinstance(value, Subscriptions)
    return value


def resolve_filters(st: SimState, call: Call, raw: Any) -> tuple[list[str], list[dict[str, str]]]:
    """(the filters subscribed, `~` resolved; the disabled ones with their reasons)."""
    if not isinstance(raw, list) or not raw or not all(isinstance(f, str) for f in raw):
        raise BadRequest(invalid_param("eventFilters"))
    out = []
    for f in raw:
        if not f.startswith("/restapi/v1.0/"):
            raise BadRequest(api_error(400, "SUB-508", "Invalid event filters"))
        # SPEC: `~` is replaced by the real account and extension ids in the response
        f = f.replace("/account/~", f"/account/{st.world.account_id}")
        f = f.replace("/extension/~", f"/extension/{call.bearer.owner_id}")
        out.append(f)
    if all(f.startswith("/restapi/v1.0/subscription/") for f in out):
        raise BadRequest(
            api_error(400, "SUB-515", "Subscription containing only reminder filter is not allowed")
        )
    perms = permissions_of(st.extras)
    allowed, disabled, refusal = perms.split_filters(out, st.world.account_id, call.bearer.owner_id)
    if refusal is not None:
        raise BadRequest(refusal)
    return allowed, disabled


def _expires_in(raw: Any, default: int) -> int:
    if raw is None:
        return default
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise BadRequest(invalid_param("expiresIn"))
    return min(raw, MAX_EXPIRES_IN)


async def create(st: SimState, call: Call) -> SimResponse:
    subs = _subs(st)
    now = st.clock.now()
    try:
        body = _load_json(call.req.body)
        filters, disabled = resolve_filters(st, call, body.get("eventFilters"))
        mode = body.get("deliveryMode")
        if not isinstance(mode, dict) or mode.get("transportType") != "WebHook":
            raise BadRequest(invalid_param("deliveryMode.transportType"))
        address = mode.get("address")
        if not isinstance(address, str) or urlsplit(address).scheme not in ("http", "https"):
            raise BadRequest(invalid_param("deliveryMode.address"))
        token = mode.get("verificationToken")
        if token is not None and (not isinstance(token, str) or not token or len(token) > 64):
            raise BadRequest(invalid_param("deliveryMode.verificationToken"))
        expires_in = _expires_in(body.get("expiresIn"), DEFAULT_EXPIRES_IN)
    except BadRequest as exc:
        return exc.response
    mine = [s for s in subs.live(now) if _owned(s, call)]
    if len(mine) >= MAX_PER_EXTENSION:
        return api_error(403, "SUB-505", "Subscriptions limit exceeded")
    refusal = await subs.webhooks.handshake(address)
    if refusal is not None:
        return refusal
    now = st.clock.now()
    sub = Subscription(
        id=str(uuidlib.uuid4()),
        owner_id=call.bearer.owner_id,
        client_id=call.bearer.client_id,
        event_filters=filters,
        disabled_filters=disabled,
        address=address,
        verification_token=token,
        created=now,
        expires_in=expires_in,
        expires_at=now + expires_in,
    )
    subs.by_id[sub.id] = sub
    return json_ok(sub.info(st.server_url, now))


def _owned(sub: Subscription, call: Call) -> bool:
    return sub.owner_id == call.bearer.owner_id and sub.client_id == call.bearer.client_id


def _find(st: SimState, call: Call) -> Subscription | None:
    sub = _subs(st).by_id.get(call.params["subscriptionId"])
    if sub is None or not _owned(sub, call) or sub.expires_at <= st.clock.now():
        return None
    return sub


async def list_(st: SimState, call: Call) -> SimResponse:
    now = st.clock.now()
    records = [s.info(st.server_url, now) for s in _subs(st).live(now) if _owned(s, call)]
    return json_ok({"uri": f"{st.server_url}/restapi/v1.0/subscription", "records": records})


async def get(st: SimState, call: Call) -> SimResponse:
    sub = _find(st, call)
    if sub is None:
        return not_found("subscriptionId")
    return json_ok(sub.info(st.server_url, st.clock.now()))


def _http_refused(sub: Subscription) -> SimResponse | None:
    # SPEC: WebSocket subscriptions cannot be updated via HTTP (renewed while the session lives)
    if sub.transport != "WebSocket":
        return None
    return api_error(400, "CMN-101", "WebSocket subscriptions cannot be updated via HTTP")


async def update(st: SimState, call: Call) -> SimResponse:
    sub = _find(st, call)
    if sub is None:
        return not_found("subscriptionId")
    if (refusal := _http_refused(sub)) is not None:
        return refusal
    try:
        body = _load_json(call.req.body) if call.req.body.strip() else {}
        # SPEC: PUT takes eventFilters and expiresIn (others ignored); empty body = renew
        if "eventFilters" in body:
            sub.event_filters, sub.disabled_filters = resolve_filters(
                st, call, body["eventFilters"]
            )
        sub.expires_in = _expires_in(body.get("expiresIn"), sub.expires_in)
    except BadRequest as exc:
        return exc.response
    return _renewed(st, sub)


async def renew(st: SimState, call: Call) -> SimResponse:
    sub = _find(st, call)
    if sub is None:
        return not_found("subscriptionId")
    if (refusal := _http_refused(sub)) is not None:
        return refusal
    return _renewed(st, sub)


def _renewed(st: SimState, sub: Subscription) -> SimResponse:
    now = st.clock.now()
    sub.expires_at = now + sub.expires_in  # since 1.0.38 renew keeps expiresIn
    return json_ok(sub.info(st.server_url, now))


async def delete(st: SimState, call: Call) -> SimResponse:
    sub = _find(st, call)
    if sub is None:
        return not_found("subscriptionId")
    del _subs(st).by_id[sub.id]
    return SimResponse.empty(204)
