"""The simulator produces a real account's events: the world changes, and the deliveries
reach exactly the subscriptions whose filters match, in the example files' shapes, and
parse with the bridge's own parser."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.clock import FakeClock
from bot.ringcentral.models import parse_event
from bot.ringcentral.models.events import (
    FaxEvent,
    InstantMessageEvent,
    MessageStoreEvent,
    TelephonySessionEvent,
    VoicemailEvent,
)
from bot.sim import Upload
from bot.sim.ringcentral import RingCentralSimulator

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CALLER = "+12125550142"  # Grace Holloway, an outsider the world knows
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00\x00\x00\x02\x00\x00\x00\x03" + b"x"


@dataclass
class Hook:
    """A loopback webhook endpoint: answers the handshake, records deliveries."""

    url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    def events(self, path_part: str = "") -> list[dict[str, Any]]:
        return [e for e in self.seen if path_part in e["event"]]


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    rec = Hook()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        token = request.headers.get("Validation-Token")
        json_type = {"Content-Type": "application/json"}
        if token and not body:
            return web.Response(status=200, headers={"Validation-Token": token, **json_type})
        rec.raw.append(body)
        rec.seen.append(json.loads(body))
        return web.Response(status=200, headers=json_type)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield rec
    await runner.cleanup()


@pytest.fixture
async def http(rc_sim: RingCentralSimulator) -> AsyncIterator[httpx.AsyncClient]:
    raw = f"{rc_sim.client_id}:{rc_sim.client_secret}".encode()
    async with httpx.AsyncClient(base_url=rc_sim.server_url) as client:
        resp = await client.post(
            "/restapi/oauth/token",
            data={"grant_type": JWT_GRANT, "assertion": rc_sim.jwt},
            headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
        )
        assert resp.status_code == 200, resp.text
        client.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        yield client


async def subscribe(http: httpx.AsyncClient, hook: Hook, *filters: str) -> str:
    resp = await http.post(
        "/restapi/v1.0/subscription",
        json={
            "eventFilters": list(filters),
            "deliveryMode": {"transportType": "WebHook", "address": hook.url},
        },
    )
    assert resp.status_code == 200, resp.text
    sub_id: str = resp.json()["id"]
    return sub_id


def example(examples_dir: Path, name: str) -> Any:
    return json.loads((examples_dir / name).read_text())


def same_keys(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert set(got) == set(want)
    assert set(got["body"]) == set(want["body"])


def everything_parses(hook: Hook) -> list[Any]:
    return [parse_event(raw) for raw in hook.raw]


EXT = "/restapi/v1.0/account/~/extension/~"


# -- messages ------------------------------------------------------------------------------


async def test_incoming_sms(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook, examples_dir: Path
) -> None:
    await subscribe(http, hook, f"{EXT}/message-store/instant?type=SMS", f"{EXT}/message-store")
    await subscribe(http, hook, f"{EXT}/fax?direction=Inbound", f"{EXT}/message-store?type=Fax")
    await subscribe(http, hook, f"{EXT}/message-store/instant?type=Pager")
    sms = await rc_sim.incoming_sms("~", CALLER, "Is the order ready?")
    assert len(hook.seen) == 2  # only the first subscription matched, once per event
    instant, change = hook.seen
    acct, ext = rc_sim.account_id, rc_sim.extension_id
    assert (
        instant["event"]
        == f"/restapi/v1.0/account/{acct}/extension/{ext}/message-store/instant?type=SMS"
    )
    assert change["event"] == f"/restapi/v1.0/account/{acct}/extension/{ext}/message-store"
    same_keys(instant, example(examples_dir, "instant-sms-event.json"))
    assert instant["body"]["id"] == sms.id and isinstance(instant["body"]["id"], str)
    assert instant["body"]["subject"] == "Is the order ready?"
    assert instant["body"]["from"]["phoneNumberInfo"]["nationalDestinationCode"] == "212"
    assert instant["body"]["to"][0]["target"] is True
    assert instant["uuid"] != change["uuid"]
    ws = example(examples_dir, "message-store-event-websocket.json")[1]
    same_keys(change, ws)
    assert change["body"]["changes"] == [
        {"type": "SMS", "newCount": 1, "updatedCount": 0, "newMessageIds": [int(sms.id)]}
    ]
    parsed = everything_parses(hook)
    assert isinstance(parsed[0], InstantMessageEvent) and parsed[0].body.id == sms.id
    assert isinstance(parsed[1], MessageStoreEvent)
    assert parsed[1].body.changes[0].new_message_ids == (sms.id,)
    got = await http.get(f"{EXT}/message-store/{sms.id}")
    assert got.status_code == 200 and got.json()["subject"] == "Is the order ready?"


async def test_incoming_mms_attachment_on_media_host(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook, examples_dir: Path
) -> None:
    await subscribe(http, hook, f"{EXT}/message-store/instant?type=SMS")
    mms = await rc_sim.incoming_sms(
        "~", CALLER, "photo", attachments=[Upload(PNG, "image/png", "a.png")]
    )
    (event,) = hook.seen
    want = example(examples_dir, "instant-mms-event-body.json")
    assert set(event["body"]) == set(want)
    text, image = event["body"]["attachments"]
    assert set(text) == set(want["attachments"][0])
    assert set(image) == set(want["attachments"][1])
    assert image["uri"].startswith(rc_sim.media_url + "/restapi/v1.0/")
    async with httpx.AsyncClient() as media:
        content = await media.get(
            image["uri"], headers={"Authorization": http.headers["Authorization"]}
        )
    assert content.status_code == 200 and content.content == PNG
    parsed = parse_event(hook.raw[0])
    assert isinstance(parsed, InstantMessageEvent) and parsed.body.id == mms.id


async def test_voicemail_then_transcript(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook, examples_dir: Path
) -> None:
    await subscribe(http, hook, f"{EXT}/voicemail", f"{EXT}/message-store")
    vm = await rc_sim.incoming_voicemail(
        "~", CALLER, duration=14, transcript="Please call me back", transcript_later=True
    )
    event, change = hook.seen
    assert event["event"].endswith(f"/extension/{rc_sim.extension_id}/voicemail")
    same_keys(event, example(examples_dir, "voicemail-event.json"))
    assert event["body"]["vmTranscriptionStatus"] == "InProgress"
    (audio,) = event["body"]["attachments"]
    assert audio["type"] == "AudioRecording" and audio["vmDuration"] == 14
    assert audio["uri"].startswith(rc_sim.media_url)
    assert change["body"]["changes"][0]["type"] == "VoiceMail"
    assert change["body"]["changes"][0]["newCount"] == 1
    log = (await http.get(f"{EXT}/call-log", params={"view": "Detailed"})).json()["records"]
    assert any(r.get("message", {}).get("id") == vm.id for r in log)

    done = await rc_sim.finish_transcript(vm.id)
    update = hook.seen[-1]
    assert len(hook.seen) == 3
    assert update["body"]["changes"] == [{"type": "VoiceMail", "newCount": 0, "updatedCount": 1}]
    parsed = everything_parses(hook)
    assert isinstance(parsed[0], VoicemailEvent) and parsed[0].body.id == vm.id
    assert isinstance(parsed[2], MessageStoreEvent)
    assert parsed[2].body.changes[0].updated_count == 1
    record = (await http.get(f"{EXT}/message-store/{vm.id}")).json()
    assert record["vmTranscriptionStatus"] == "Completed" == done.record["vmTranscriptionStatus"]
    (script,) = [a for a in record["attachments"] if a["type"] == "AudioTranscription"]
    assert script["uri"].startswith(rc_sim.media_url)
    async with httpx.AsyncClient() as media:
        text = await media.get(
            script["uri"], headers={"Authorization": http.headers["Authorization"]}
        )
    assert text.status_code == 200 and text.text == "Please call me back"


async def test_voicemail_with_transcript_at_once(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook
) -> None:
    await subscribe(http, hook, f"{EXT}/voicemail")
    await rc_sim.incoming_voicemail("~", CALLER, transcript="Hi there")
    (event,) = hook.seen
    assert event["body"]["vmTranscriptionStatus"] == "Completed"
    kinds = [a["type"] for a in event["body"]["attachments"]]
    assert kinds == ["AudioRecording", "AudioTranscription"]


async def test_incoming_fax(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook, examples_dir: Path
) -> None:
    await subscribe(http, hook, f"{EXT}/fax?direction=Inbound", f"{EXT}/message-store?type=Fax")
    await subscribe(http, hook, f"{EXT}/fax?direction=Outbound")  # never matches
    fax = await rc_sim.incoming_fax("~", CALLER, pages=3)
    event, change = hook.seen
    assert event["event"].endswith("/fax?direction=Inbound")
    same_keys(event, example(examples_dir, "fax-inbound-event.json"))
    assert event["body"]["faxPageCount"] == 3 and event["body"]["id"] == fax.id
    assert event["body"]["attachments"][0]["uri"].startswith(rc_sim.media_url)
    same_keys(change, example(examples_dir, "message-store-event-websocket.json")[1])
    assert change["body"]["changes"][0]["type"] == "Fax"
    assert change["event"].endswith("/message-store?type=Fax")
    parsed = everything_parses(hook)
    assert isinstance(parsed[0], FaxEvent) and parsed[0].body.id == fax.id
    assert (await http.get(f"{EXT}/message-store/{fax.id}")).json()["faxPageCount"] == 3


async def test_pager_only_as_message_store_changes(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook, examples_dir: Path
) -> None:
    me = rc_sim.extension_id
    sender = next(e for e in rc_sim.world.extension_ids() if e != me)
    await subscribe(
        http,
        hook,
        f"{EXT}/message-store?type=Pager",
        f"{EXT}/message-store/instant?type=SMS",
        f"{EXT}/voicemail",
    )
    pager = await rc_sim.pager_message(sender, [me], "Lunch at noon?")
    (change,) = hook.seen  # the sender's own change goes to its extension's path only
    assert (
        change["event"]
        == f"/restapi/v1.0/account/{rc_sim.account_id}/extension/{me}/message-store?type=Pager"
    )
    same_keys(change, example(examples_dir, "message-store-event-websocket.json")[1])
    (item,) = change["body"]["changes"]
    assert item["type"] == "Pager" and item["newCount"] == 1
    assert [str(i) for i in item["newMessageIds"]] == [pager.ids[me]]
    parsed = parse_event(hook.raw[0])
    assert isinstance(parsed, MessageStoreEvent)
    for message_id in parsed.body.changes[0].new_message_ids:
        record = (await http.get(f"{EXT}/message-store/{message_id}")).json()
        assert record["type"] == "Pager" and record["direction"] == "Inbound"
        assert record["subject"] == "Lunch at noon?"
        assert record["from"]["extensionId"] == sender


async def test_pager_to_several_extensions(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook
) -> None:
    ids = rc_sim.world.extension_ids()
    a, b = ids[1], ids[2]
    acct = "/restapi/v1.0/account/~/extension"
    await subscribe(http, hook, f"{acct}/{a}/message-store", f"{acct}/{b}/message-store")
    pager = await rc_sim.pager_message(rc_sim.extension_id, [a, b], "All hands at 3")
    assert set(pager.ids) == {a, b}
    # one change event per recipient's extension; the sender's own matches no filter
    by_ext = {str(e["body"]["extensionId"]): e for e in hook.seen}
    assert len(hook.seen) == 2 and set(by_ext) == {a, b}
    for ext_id, event in by_ext.items():
        (item,) = event["body"]["changes"]
        assert item["newMessageIds"] == [int(pager.ids[ext_id])]
        assert event["event"].endswith(f"/extension/{ext_id}/message-store")


# -- telephony -----------------------------------------------------------------------------

ACCOUNT_CALLS = "/restapi/v1.0/account/~/telephony/sessions"


def statuses(hook: Hook) -> list[tuple[str, str]]:
    """(party id, status code) per delivery, in sequence order."""
    bodies = sorted((e["body"] for e in hook.seen), key=lambda b: b["sequence"])
    return [(b["parties"][0]["id"], b["parties"][0]["status"]["code"]) for b in bodies]


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def check_session(hook: Hook, examples_dir: Path, account_id: str) -> list[TelephonySessionEvent]:
    want = example(examples_dir, "telephony-session-event.json")
    parsed = []
    for raw, envelope in zip(hook.raw, hook.seen, strict=True):
        same_keys(envelope, want)
        party = envelope["body"]["parties"][0]
        assert set(party) - {"extensionId"} == set(want["body"]["parties"][0]) - {"extensionId"}
        base = f"/restapi/v1.0/account/{account_id}"
        if "extensionId" in party:
            assert (
                envelope["event"] == f"{base}/extension/{party['extensionId']}/telephony/sessions"
            )
        else:
            assert envelope["event"] == f"{base}/telephony/sessions"
        event = parse_event(raw)
        assert isinstance(event, TelephonySessionEvent)
        parsed.append(event)
    sequences = sorted(e.body.sequence for e in parsed)
    assert sequences == list(range(2, 2 + len(sequences)))
    assert len({e.body.telephony_session_id for e in parsed}) == 1
    assert len({e.uuid for e in parsed}) == len(parsed)
    return parsed


async def test_answered_call(
    rc_sim: RingCentralSimulator,
    http: httpx.AsyncClient,
    hook: Hook,
    examples_dir: Path,
    clock: FakeClock,
) -> None:
    await subscribe(http, hook, ACCOUNT_CALLS)
    start = clock.now()
    call = await rc_sim.call("answered", caller=CALLER, extension_id="~", ring=6, talk=42)
    assert clock.now() - start == pytest.approx(6 + 42, abs=0.5)
    check_session(hook, examples_dir, rc_sim.account_id)
    caller, callee = call.parties["caller"], call.parties["callee"]
    assert statuses(hook) == [
        (caller, "Setup"),
        (callee, "Setup"),
        (callee, "Proceeding"),
        (callee, "Answered"),
        (caller, "Answered"),
        (callee, "Disconnected"),
        (caller, "Disconnected"),
    ]
    times = {
        (e["body"]["parties"][0]["id"], e["body"]["parties"][0]["status"]["code"]): moment(
            e["body"]["eventTime"]
        )
        for e in hook.seen
    }
    talked = times[(callee, "Disconnected")] - times[(callee, "Answered")]
    assert talked.total_seconds() == pytest.approx(42, abs=0.2)
    log = await http.get(
        "/restapi/v1.0/account/~/call-log",
        params={"telephonySessionId": call.telephony_session_id},
    )
    (record,) = log.json()["records"]
    assert record["result"] == "Accepted" and record["duration"] == 42


async def test_missed_call_and_missed_filter(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook, examples_dir: Path
) -> None:
    await subscribe(http, hook, ACCOUNT_CALLS)
    call = await rc_sim.call("missed", caller=CALLER, extension_id="~", ring=20)
    check_session(hook, examples_dir, rc_sim.account_id)
    callee = call.parties["callee"]
    assert [c for p, c in statuses(hook) if p == callee] == ["Setup", "Proceeding", "Disconnected"]
    legs = [e["body"] for e in hook.seen if e["body"]["parties"][0]["id"] == callee]
    flags = [b["parties"][0]["missedCall"] for b in sorted(legs, key=lambda b: b["sequence"])]
    assert flags == [False, False, True]  # flagged when the caller gave up
    assert call.call_log[0]["result"] == "Missed"


async def test_missed_call_filter_gets_only_the_missed_leg(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook
) -> None:
    await subscribe(http, hook, f"{EXT}/telephony/sessions?missedCall=true")
    await rc_sim.call("answered", caller=CALLER, extension_id="~")
    assert hook.seen == []
    await rc_sim.call("missed", caller=CALLER, extension_id="~")
    (event,) = hook.seen
    assert event["event"].endswith("/telephony/sessions?missedCall=true")
    assert event["body"]["parties"][0]["status"]["code"] == "Disconnected"


async def test_voicemail_call_leaves_a_voicemail(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook, examples_dir: Path
) -> None:
    await subscribe(http, hook, ACCOUNT_CALLS, f"{EXT}/voicemail")
    call = await rc_sim.call(
        "voicemail", caller=CALLER, extension_id="~", talk=17, transcript="Call me"
    )
    calls = [e for e in hook.seen if "telephony" in e["event"]]
    voicemails = [e for e in hook.seen if e["event"].endswith("/voicemail")]
    assert len(voicemails) == 1 and call.voicemail is not None
    assert voicemails[0]["body"]["id"] == call.voicemail.id
    assert voicemails[0]["body"]["attachments"][0]["vmDuration"] == 17
    callee = call.parties["callee"]
    codes = [
        e["body"]["parties"][0]["status"]["code"]
        for e in sorted(calls, key=lambda e: e["body"]["sequence"])
        if e["body"]["parties"][0]["id"] == callee
    ]
    assert codes == ["Setup", "Proceeding", "VoiceMail", "Disconnected"]
    assert all(
        isinstance(e, TelephonySessionEvent | VoicemailEvent) for e in everything_parses(hook)
    )
    log = await http.get(
        f"{EXT}/call-log", params={"telephonySessionId": call.telephony_session_id}
    )
    (record,) = log.json()["records"]
    assert record["result"] == "Voicemail" and record["message"]["id"] == call.voicemail.id
    del examples_dir


async def test_ivr_answered_like_the_real_flow(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook, examples_dir: Path
) -> None:
    await subscribe(http, hook, ACCOUNT_CALLS)
    call = await rc_sim.call("ivr_answered", caller=CALLER, extension_id="~", ivr=9, talk=25)
    parsed = check_session(hook, examples_dir, rc_sim.account_id)
    caller, ivr, callee = call.parties["caller"], call.parties["ivr"], call.parties["callee"]
    assert statuses(hook) == [
        (caller, "Setup"),
        (ivr, "Setup"),
        (caller, "Answered"),
        (ivr, "Disconnected"),
        (callee, "Setup"),
        (callee, "Proceeding"),
        (callee, "Answered"),
        (callee, "Disconnected"),
        (caller, "Disconnected"),
    ]
    ivr_ext = rc_sim.world.extension_of_number(rc_sim.world.main_number)
    by_party = {e.body.parties[0].id: e.body.parties[0] for e in parsed}
    assert by_party[ivr].extension_id == ivr_ext
    dialed = by_party[callee].to
    assert dialed is not None and dialed.phone_number == rc_sim.world.main_number
    handover = sorted(
        e.body.event_time
        for e in parsed
        if e.body.parties[0].id in (ivr, callee) and e.body.event_time is not None
    )
    assert handover[1] == handover[2]  # IVR leaves as the user's leg starts


async def test_ring_group_other_member_ends_by_pickup(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook, examples_dir: Path
) -> None:
    other = next(e for e in rc_sim.world.extension_ids() if e != rc_sim.extension_id)
    await subscribe(http, hook, ACCOUNT_CALLS)
    call = await rc_sim.call("ring_group", caller=CALLER, extension_id="~", others=[other], talk=10)
    check_session(hook, examples_dir, rc_sim.account_id)
    theirs = [
        e["body"]["parties"][0]
        for e in hook.seen
        if e["body"]["parties"][0]["id"] == call.parties[other]
    ]
    assert [p["status"]["code"] for p in theirs] == ["Setup", "Proceeding", "Disconnected"]
    assert theirs[-1]["status"]["reason"] == "Pickup"
    assert all(p["missedCall"] is False for p in theirs)


async def test_outbound_call(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook, examples_dir: Path
) -> None:
    await subscribe(http, hook, ACCOUNT_CALLS)
    call = await rc_sim.call("outbound", caller=CALLER, extension_id="~", talk=61)
    check_session(hook, examples_dir, rc_sim.account_id)
    me, far = call.parties["caller"], call.parties["callee"]
    assert statuses(hook)[:3] == [(me, "Setup"), (far, "Proceeding"), (me, "Proceeding")]
    first = min(hook.seen, key=lambda e: e["body"]["sequence"])["body"]["parties"][0]
    assert first["direction"] == "Outbound" and first["extensionId"] == rc_sim.extension_id
    assert first["from"]["deviceId"] and first["to"] == {"phoneNumber": CALLER}
    assert call.call_log[0]["direction"] == "Outbound" and call.call_log[0]["duration"] == 61


async def test_extension_filter_sees_its_own_legs_only(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook
) -> None:
    other = next(e for e in rc_sim.world.extension_ids() if e != rc_sim.extension_id)
    await subscribe(http, hook, f"/restapi/v1.0/account/~/extension/{other}/telephony/sessions")
    await rc_sim.call("answered", caller=CALLER, extension_id="~")
    assert hook.seen == []
    await rc_sim.call("ivr_answered", caller=CALLER, extension_id=other)
    codes = [e["body"]["parties"][0]["status"]["code"] for e in hook.seen]
    assert codes == ["Setup", "Proceeding", "Answered", "Disconnected"]
    assert {e["event"] for e in hook.seen} == {
        f"/restapi/v1.0/account/{rc_sim.account_id}/extension/{other}/telephony/sessions"
    }


async def test_out_of_order_and_duplicated(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook
) -> None:
    await subscribe(http, hook, ACCOUNT_CALLS)
    call = await rc_sim.call(
        "answered", caller=CALLER, extension_id="~", shuffle_seed=3, duplicate=2
    )
    sequences = [e["body"]["sequence"] for e in hook.seen]
    assert len(sequences) == len(call.bodies) + 2
    assert set(sequences) == {b["sequence"] for b in call.bodies}
    assert sequences != sorted(sequences)
    assert len({e["uuid"] for e in hook.seen}) == len(hook.seen)  # fresh uuid per delivery


async def test_unpaced_call_is_back_dated(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook, clock: FakeClock
) -> None:
    await subscribe(http, hook, ACCOUNT_CALLS)
    before = clock.now()
    call = await rc_sim.call("answered", caller=CALLER, extension_id="~", talk=30, pace=False)
    assert clock.now() == before
    last = moment(call.bodies[-1]["eventTime"]).timestamp()
    assert last == pytest.approx(before, abs=0.01)
    assert moment(call.bodies[0]["eventTime"]).timestamp() < before - 30


async def test_unknown_scenario(rc_sim: RingCentralSimulator) -> None:
    with pytest.raises(ValueError, match="unknown call scenario"):
        await rc_sim.call("conference", caller=CALLER, extension_id="~")
