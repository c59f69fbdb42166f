"""The typed resources over real loopback HTTP: core client → RingCentral simulator (which
validates every request against the OpenAPI spec). Each method's recorded request is
checked, its answer parsed, and every call-log and message-store filter is shown to change
what the simulator answers."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from bot.ringcentral import RingCentralClient
from bot.ringcentral.models import CallLogRecord, MessageRecord, PagerParty
from bot.ringcentral.resources import Account, CallLog, Messages, RingOut, Subscriptions
from bot.sim.ringcentral import RequestRecord, RingCentralSimulator

EXT = "/restapi/v1.0/account/~/extension/~"
ACCT = "/restapi/v1.0/account/~"


@pytest.fixture
def client(rc_client: RingCentralClient) -> RingCentralClient:
    return rc_client


def now(sim: RingCentralSimulator) -> datetime:
    return datetime.fromtimestamp(sim.clock.now(), UTC)


def last(sim: RingCentralSimulator, method: str, path: str) -> RequestRecord:
    found = [r for r in sim.requests if r.method == method and r.path == path]
    assert found, f"no {method} {path} reached the simulator"
    record = found[-1]
    assert record.status < 300, (record.status, record.body)
    return record


def wire(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def multipart(rec: RequestRecord) -> list[tuple[str, str, bytes]]:
    """(part name, content type, content) of a recorded multipart/form-data body."""
    head = b"Content-Type: " + rec.headers["content-type"].encode() + b"\r\n\r\n"
    message = email.message_from_bytes(head + rec.body, policy=email.policy.HTTP)
    out: list[tuple[str, str, bytes]] = []
    for part in message.iter_parts():
        content = part.get_payload(decode=True)
        assert isinstance(content, bytes)
        name = part.get_param("name", header="content-disposition")
        out.append((str(name), part.get_content_type(), content))
    return out


# --- each typed method: the request as recorded, the answer parsed ---------------------


async def test_messages_over_http(client: RingCentralClient, rc_sim: RingCentralSimulator) -> None:
    account = Account(client)
    (sender, *_) = await account.numbers_with_feature("SmsSender")
    messages = Messages(client, media_url=rc_sim.media_url)

    sms = await messages.send_sms(sender.phone_number, "+16505550123", "Running late 😀")
    rec = last(rc_sim, "POST", f"{EXT}/sms")
    assert rec.query == {} and rec.json == {
        "from": {"phoneNumber": sender.phone_number},
        "to": [{"phoneNumber": "+16505550123"}],
        "text": "Running late 😀",
    }
    assert sms.subject == "Running late 😀" and sms.direction == "Outbound"

    png = ("a.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")
    mms = await messages.send_mms(sender.phone_number, "+16505550123", "see", [png])
    rec = last(rc_sim, "POST", f"{EXT}/sms")
    parts = multipart(rec)
    assert [(name, ctype) for name, ctype, _ in parts] == [
        ("json", "application/json"),
        ("attachment", "image/png"),
    ]
    assert json.loads(parts[0][2]) == {
        "from": {"phoneNumber": sender.phone_number},
        "to": [{"phoneNumber": "+16505550123"}],
        "text": "see",
    }
    assert parts[1][2] == png[1]
    assert [a.content_type for a in mms.media] == ["image/png"]

    pager = await messages.send_pager([PagerParty(extension_number="102")], "Lunch?")
    rec = last(rc_sim, "POST", f"{EXT}/company-pager")
    assert rec.json == {"to": [{"extensionNumber": "102"}], "text": "Lunch?"}
    assert pager.type == "Pager"

    fetched = await messages.get(sms.id)
    assert last(rc_sim, "GET", f"{EXT}/message-store/{sms.id}").query == {}
    assert fetched.id == sms.id and fetched.conversation_key == sms.conversation_key

    voicemails = await messages.list(
        message_type="VoiceMail", date_from=now(rc_sim) - timedelta(days=40)
    )
    vm = voicemails.records[0]
    assert vm.audio is not None
    by_uri = await messages.download(vm.audio)
    by_ids = await messages.content(vm.id, vm.audio.id)
    media = [r for r in rc_sim.requests if r.host == "media"]
    assert [r.path for r in media][-1] == f"{EXT}/message-store/{vm.id}/content/{vm.audio.id}"
    assert by_uri.content == by_ids.content and by_ids.content_type.startswith("audio/")


async def test_ringout_over_http(client: RingCentralClient, rc_sim: RingCentralSimulator) -> None:
    ringout = RingOut(client)
    created = await ringout.create(
        "+16505550123", "+16505550101", caller_id="+16505550101", play_prompt=True, country_id="1"
    )
    assert last(rc_sim, "POST", f"{EXT}/ring-out").json == {
        "from": {"phoneNumber": "+16505550101"},
        "to": {"phoneNumber": "+16505550123"},
        "callerId": {"phoneNumber": "+16505550101"},
        "playPrompt": True,
        "country": {"id": "1"},
    }
    assert created.in_progress
    status = await ringout.status(created.id)
    assert last(rc_sim, "GET", f"{EXT}/ring-out/{created.id}").query == {}
    assert status.id == created.id
    await ringout.cancel(created.id)
    assert last(rc_sim, "DELETE", f"{EXT}/ring-out/{created.id}").status == 204


async def test_call_log_methods_over_http(
    client: RingCentralClient, rc_sim: RingCentralSimulator
) -> None:
    log = CallLog(client)
    since = now(rc_sim) - timedelta(days=40)
    ext = await log.list(
        date_from=since, view="Detailed", show_blocked=True, transport=["PSTN", "VoIP"], per_page=50
    )
    assert last(rc_sim, "GET", f"{EXT}/call-log").query == {
        "dateFrom": [wire(since)],
        "view": ["Detailed"],
        "showBlocked": ["true"],
        "transport": ["PSTN", "VoIP"],
        "perPage": ["50"],
    }
    assert ext.records and all(r.legs for r in ext.records)
    acct = await log.list_account(date_from=since, direction="Inbound", per_page="max")
    assert last(rc_sim, "GET", f"{ACCT}/call-log").query == {
        "dateFrom": [wire(since)],
        "direction": ["Inbound"],
        "perPage": ["max"],
    }
    assert len(acct.records) > len(ext.records) // 2
    one = await log.get(ext.records[0].id, view="Detailed")
    assert last(rc_sim, "GET", f"{EXT}/call-log/{one.id}").query == {"view": ["Detailed"]}
    assert one.legs
    same = await log.get_account(acct.records[0].id)
    assert last(rc_sim, "GET", f"{ACCT}/call-log/{same.id}").query == {}


async def test_account_methods_over_http(
    client: RingCentralClient, rc_sim: RingCentralSimulator
) -> None:
    account = Account(client)
    me = await account.extension()
    assert last(rc_sim, "GET", EXT).query == {}
    assert me.extension_number == "101"
    exts = await account.extensions(type="User", status="Enabled", per_page=5)
    assert last(rc_sim, "GET", f"{ACCT}/extension").query == {
        "type": ["User"], "status": ["Enabled"], "perPage": ["5"],
    }  # fmt: skip
    assert exts.records and all(e.type == "User" for e in exts.records)
    numbers = await account.phone_numbers(usage_type="DirectNumber")
    assert last(rc_sim, "GET", f"{EXT}/phone-number").query == {"usageType": ["DirectNumber"]}
    assert all(n.usage_type == "DirectNumber" for n in numbers.records)
    entries = await account.directory_entries(type="User", per_page=5)
    assert last(rc_sim, "GET", f"{ACCT}/directory/entries").query == {
        "type": ["User"], "perPage": ["5"],
    }  # fmt: skip
    entry = await account.directory_entry(entries.records[0].id)
    assert last(rc_sim, "GET", f"{ACCT}/directory/entries/{entry.id}").query == {}
    found = await account.search_directory("101", search_fields=["extensionNumber"])
    assert last(rc_sim, "POST", f"{ACCT}/directory/entries/search").json == {
        "searchString": "101", "searchFields": ["extensionNumber"],
    }  # fmt: skip
    assert [e.extension_number for e in found.records] == ["101"]
    everyone = await account.contacts()
    number = next(c.mobile_phone for c in everyone.records if c.mobile_phone)
    contacts = await account.contacts(phone_number=number)
    assert last(rc_sim, "GET", f"{EXT}/address-book/contact").query == {"phoneNumber": [number]}
    assert contacts.records and len(contacts.records) < len(everyone.records)


@pytest.fixture
async def webhook_url() -> AsyncIterator[str]:
    """A loopback webhook that answers RingCentral's Validation-Token handshake."""

    async def handle(request: web.Request) -> web.Response:
        token = request.headers.get("Validation-Token", "")
        return web.Response(
            status=200, headers={"Validation-Token": token, "Content-Type": "application/json"}
        )

    app = web.Application()
    app.router.add_post("/ringcentral/webhook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/ringcentral/webhook"
    finally:
        await runner.cleanup()


async def test_subscriptions_over_http(
    client: RingCentralClient, rc_sim: RingCentralSimulator, webhook_url: str
) -> None:
    subs = Subscriptions(client)
    filters = [f"{EXT}/voicemail", f"{EXT}/message-store/instant?type=SMS"]
    created = await subs.create(filters, webhook_url, verification_token="vt-1", expires_in=3600)
    assert last(rc_sim, "POST", "/restapi/v1.0/subscription").json == {
        "eventFilters": filters,
        "expiresIn": 3600,
        "deliveryMode": {
            "transportType": "WebHook",
            "address": webhook_url,
            "verificationToken": "vt-1",
        },
    }
    assert created.is_active and "~" not in "".join(created.event_filters)
    path = f"/restapi/v1.0/subscription/{created.id}"
    assert [s.id for s in (await subs.list()).records] == [created.id]
    assert (await subs.get(created.id)).id == created.id
    assert last(rc_sim, "GET", path).query == {}
    renewed = await subs.renew(created.id)
    assert last(rc_sim, "POST", f"{path}/renew").body == b""
    assert renewed.expires_in == 3600
    updated = await subs.update(created.id, [f"{EXT}/message-store"], expires_in=7200)
    assert last(rc_sim, "PUT", path).json == {
        "eventFilters": [f"{EXT}/message-store"], "expiresIn": 7200,
    }  # fmt: skip
    assert len(updated.event_filters) == 1
    await subs.delete(created.id)
    assert last(rc_sim, "DELETE", path).status == 204
    assert (await subs.list()).records == ()


# --- every filter changes the simulator's answer ----------------------------------------

Check = Callable[[Any], bool]
Case = tuple[dict[str, Any], Check | None]


def _call_case(
    name: str, base: list[CallLogRecord], raw: list[dict[str, Any]], t: datetime
) -> Case:
    first = base[len(base) // 2]
    match name:
        case "extension_number":
            return {"extension_number": "101"}, None
        case "phone_number":
            number = next(r.to.phone_number for r in base if r.to and r.to.phone_number)
            return {
                "phone_number": number
            }, lambda r: number in (r.to.phone_number, r.from_.phone_number)
        case "direction":
            return {"direction": "Inbound"}, lambda r: r.direction == "Inbound"
        case "session_id":
            return {"session_id": first.session_id}, lambda r: r.session_id == first.session_id
        case "telephony_session_id":
            tsid = first.telephony_session_id
            return {"telephony_session_id": tsid}, lambda r: r.telephony_session_id == tsid
        case "type":
            return {"type": "Fax"}, lambda r: r.type == "Fax"
        case "view":
            return {"view": "Detailed"}, lambda r: bool(r.legs)
        case "with_recording":
            return {"with_recording": True}, lambda r: r.recording is not None
        case "recording_type":
            return {"recording_type": "OnDemand"}, lambda r: r.recording.type == "OnDemand"
        case "date_from":
            since = t - timedelta(days=2)
            return {"date_from": since}, lambda r: r.start_time >= since
        case "date_to":
            until = t - timedelta(days=10)
            return {"date_to": until}, lambda r: r.start_time <= until
        case "metadata_category":
            category = next(c for r in raw for c in r.get("metadataCategories", ()))
            return {"metadata_category": category}, None
        case "page":
            return {"page": 2, "per_page": 10}, None
        case "per_page":
            return {"per_page": 5}, None
        case "show_deleted":
            return {"show_deleted": True}, None
        case "show_blocked":
            return {"show_blocked": False}, lambda r: r.result != "Blocked"
        case "transport":
            return {"transport": "VoIP", "view": "Detailed"}, lambda r: r.transport == "VoIP"
    raise AssertionError(name)


SHARED_CALL_FILTERS = [
    "extension_number", "phone_number", "direction", "session_id", "telephony_session_id",
    "type", "view", "with_recording", "recording_type", "date_from", "date_to",
    "metadata_category", "page", "per_page", "show_deleted",
]  # fmt: skip


@pytest.mark.parametrize(
    ("level", "name"),
    [("account", n) for n in SHARED_CALL_FILTERS]
    + [("extension", "show_blocked"), ("extension", "transport")],
)
async def test_each_call_log_filter_changes_the_answer(
    client: RingCentralClient, rc_sim: RingCentralSimulator, level: str, name: str
) -> None:
    log = CallLog(client)
    t = now(rc_sim)
    window: dict[str, Any] = {"date_from": t - timedelta(days=40), "per_page": "max"}
    path = f"{ACCT}/call-log" if level == "account" else f"{EXT}/call-log"
    listing = log.list_account if level == "account" else log.list
    base = (await listing(**window)).records
    raw_answer = await client.request(
        "GET", path, params={"dateFrom": wire(window["date_from"]), "perPage": "max"}
    )
    kwargs, check = _call_case(name, list(base), raw_answer.json()["records"], t)
    if name == "session_id":
        window = {"date_from": window["date_from"]}  # RingCentral CLG-110: sessionId stands alone
    if name == "page":
        base = (await listing(**(window | {"per_page": 10}))).records
    got = (await listing(**(window | kwargs))).records

    sent = last(rc_sim, "GET", path).query
    assert all(key in sent for key in _wire_names(kwargs)), sent
    assert got, f"{name}: the simulator returned nothing"
    assert got != base, f"{name}: the answer did not change"
    if check is not None:
        assert all(check(r) for r in got), name


def _wire_names(kwargs: dict[str, Any]) -> list[str]:
    """snake_case keyword → RingCentral's camelCase query name."""
    return ["".join(w.title() if i else w for i, w in enumerate(k.split("_"))) for k in kwargs]


def _message_case(name: str, base: list[MessageRecord], t: datetime) -> Case:
    match name:
        case "availability":
            return {"availability": "Deleted"}, lambda m: m.availability == "Deleted"
        case "conversation_id":
            conv = next(m.conversation_key for m in base if m.conversation_key)
            return {"conversation_id": conv}, lambda m: m.conversation_key == conv
        case "date_from":
            since = t - timedelta(days=2)
            return {"date_from": since}, lambda m: m.creation_time >= since
        case "date_to":
            until = t - timedelta(days=10)
            return {"date_to": until}, lambda m: m.creation_time <= until
        case "direction":
            return {"direction": "Outbound"}, lambda m: m.direction == "Outbound"
        case "distinct_conversations":
            return {"distinct_conversations": True}, None
        case "message_type":
            return {"message_type": "Pager"}, lambda m: m.type == "Pager"
        case "read_status":
            return {"read_status": "Unread"}, lambda m: m.read_status == "Unread"
        case "page":
            return {"page": 2, "per_page": 10}, None
        case "per_page":
            return {"per_page": 5}, None
        case "phone_number":
            sms = next(m for m in base if m.type == "SMS" and m.from_ and m.from_.phone_number)
            number = sms.from_.phone_number if sms.from_ else None
            return {"phone_number": number}, None
        case "owner":
            return {"owner": "Shared"}, None
        case "owner_extension_type":
            return {"owner_extension_type": "Department"}, None
    raise AssertionError(name)


MESSAGE_FILTERS = [
    "availability", "conversation_id", "date_from", "date_to", "direction",
    "distinct_conversations", "message_type", "read_status", "page", "per_page",
    "phone_number", "owner", "owner_extension_type",
]  # fmt: skip


@pytest.mark.parametrize("name", MESSAGE_FILTERS)
async def test_each_message_store_filter_changes_the_answer(
    client: RingCentralClient, rc_sim: RingCentralSimulator, name: str
) -> None:
    messages = Messages(client, media_url=rc_sim.media_url)
    t = now(rc_sim)
    window: dict[str, Any] = {"date_from": t - timedelta(days=40), "per_page": 1000}
    base = (await messages.list(**window)).records
    kwargs, check = _message_case(name, list(base), t)
    if name == "page":
        base = (await messages.list(**(window | {"per_page": 10}))).records
    got = (await messages.list(**(window | kwargs))).records

    sent = last(rc_sim, "GET", f"{EXT}/message-store").query
    assert all(key in sent for key in _wire_names(kwargs)), sent
    assert got, f"{name}: the simulator returned nothing"
    assert got != base, f"{name}: the answer did not change"
    if check is not None:
        assert all(check(m) for m in got), name
    if name == "distinct_conversations":
        keys = [m.conversation_key for m in got if m.conversation_key]
        assert len(keys) == len(set(keys)) and len(got) < len(base)
