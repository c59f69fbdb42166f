"""The simulator's sent texts live on after RingCentral's 200, as real ones do: Queued, then
Sent and Delivered, or a documented failure code per number; each move a message-store
change of the sender's mailbox that carries counts, never the ids of updated messages."""

from __future__ import annotations

import httpx
import pytest

from bot.ringcentral.models import parse_event
from bot.ringcentral.models.events import MessageStoreEvent
from bot.sim.ringcentral import RingCentralSimulator
from tests.integration.test_sim_events import EXT, Hook, hook, http, subscribe

__all__ = ["hook", "http"]  # fixtures

TO = "+14155550123"
OTHER = "+14155550188"
OUTBOUND = f"{EXT}/message-store?type=SMS&direction=Outbound"


def sender(rc: RingCentralSimulator) -> str:
    return rc.world.numbers_with_feature(rc.extension_id, "SmsSender")[0]


async def send(http: httpx.AsyncClient, frm: str, *to: str) -> str:
    resp = await http.post(
        f"{EXT}/sms",
        json={"from": {"phoneNumber": frm}, "to": [{"phoneNumber": n} for n in to], "text": "hi"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["messageStatus"] == "Queued"
    return str(resp.json()["id"])


async def record(http: httpx.AsyncClient, message_id: str) -> dict[str, object]:
    resp = await http.get(f"{EXT}/message-store/{message_id}")
    assert resp.status_code == 200
    body: dict[str, object] = resp.json()
    return body


async def test_a_text_moves_from_queued_to_delivered_with_a_change_per_move(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook
) -> None:
    await subscribe(http, hook, OUTBOUND)
    message_id = await send(http, sender(rc_sim), TO)

    await rc_sim.settle_texts()

    found = await record(http, message_id)
    assert found["messageStatus"] == "Delivered"
    assert "deliveryErrorCode" not in found
    changes = [parse_event(raw) for raw in hook.raw]
    assert all(isinstance(c, MessageStoreEvent) for c in changes)
    counts = [
        (c.type, c.new_count, c.updated_count)
        for e in changes
        if isinstance(e, MessageStoreEvent)
        for c in e.body.changes
    ]
    assert counts == [("SMS", 1, 0), ("SMS", 0, 1), ("SMS", 0, 1)]  # created, Sent, Delivered
    # Updates carry counts only: which text changed is for the reader to find out.
    assert all("newMessageIds" not in c for e in hook.seen[1:] for c in e["body"]["changes"])


@pytest.mark.parametrize(
    ("fate", "status", "code"),
    [
        ("opted_out", "SendingFailed", "SMS-RC-413"),
        ("landline", "SendingFailed", "SMS-UP-410"),
        ("carrier_rejected", "DeliveryFailed", "SMS-CAR-431"),
        ("no_report", "DeliveryFailed", "SMS-CAR-104"),
        ("silent", "Sent", None),
    ],
)
async def test_a_recipient_decides_how_a_text_ends(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, fate: str, status: str, code: str | None
) -> None:
    rc_sim.sms_outcome(TO, fate)
    message_id = await send(http, sender(rc_sim), TO)

    await rc_sim.settle_texts()

    found = await record(http, message_id)
    assert (found["messageStatus"], found.get("deliveryErrorCode")) == (status, code)


async def test_a_number_not_registered_for_business_texting_fails_every_text(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    rc_sim.set_texting_registration(sender(rc_sim), None)
    message_id = await send(http, sender(rc_sim), TO)

    await rc_sim.settle_texts()

    found = await record(http, message_id)
    assert (found["messageStatus"], found["deliveryErrorCode"]) == ("SendingFailed", "SMS-UP-414")


async def test_a_group_text_has_a_status_per_recipient(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    rc_sim.sms_outcome(OTHER, "opted_out")
    message_id = await send(http, sender(rc_sim), TO, OTHER)

    await rc_sim.settle_texts()

    found = await record(http, message_id)
    to = found["to"]
    assert isinstance(to, list)
    assert {p["phoneNumber"]: p["messageStatus"] for p in to} == {
        TO: "Delivered",
        OTHER: "SendingFailed",
    }
    assert found["messageStatus"] == "SendingFailed"  # SPEC MessageStatusEnum's rule


async def test_a_group_mms_marks_our_number_as_the_target(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient, hook: Hook
) -> None:
    await subscribe(http, hook, f"{EXT}/message-store/instant?type=SMS")
    ours = sender(rc_sim)

    await rc_sim.incoming_sms("~", TO, "hi all", to_number=ours, others=[OTHER])

    (event,) = hook.events("instant")
    to = event["body"]["to"]
    assert to[0]["phoneNumber"] == OTHER  # to[0] is not ours
    assert [p["phoneNumber"] for p in to if p.get("target")] == [ours]


async def test_a_batched_read_is_json_only_when_asked_for(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    ids = [await send(http, sender(rc_sim), TO), await send(http, sender(rc_sim), OTHER)]
    path = f"{EXT}/message-store/{','.join(ids)}"

    plain = await http.get(path)
    asked = await http.get(path, headers={"Accept": "application/vnd.ringcentral.multipart+json"})

    assert plain.status_code == asked.status_code == 207
    assert plain.headers["content-type"].startswith("multipart/mixed; boundary=")
    assert [str(p["body"]["id"]) for p in asked.json()] == ids


async def test_stop_opts_a_texter_out_and_start_back_in(
    rc_sim: RingCentralSimulator, http: httpx.AsyncClient
) -> None:
    await rc_sim.incoming_sms(rc_sim.extension_id, TO, " Stop ")
    refused = await send(http, sender(rc_sim), TO)
    await rc_sim.settle_texts()
    found = await record(http, refused)
    assert (found["messageStatus"], found["deliveryErrorCode"]) == ("SendingFailed", "SMS-RC-413")

    await rc_sim.incoming_sms(rc_sim.extension_id, TO, "START")
    delivered = await send(http, sender(rc_sim), TO)
    await rc_sim.settle_texts()
    assert (await record(http, delivered))["messageStatus"] == "Delivered"
