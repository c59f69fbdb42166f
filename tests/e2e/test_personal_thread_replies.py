"""A connected person's thread replies (DESIGN §3.9 "thread replies (where the thread's
number is theirs) use their own session and numbers", §3.8 receipts read "with the identity
that sent them"): the real server between both simulators; the RingCentral simulator
records whose token each request carried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import FakeClock
from bot.config import BridgeConfig, PermissionsConfig, RingCentralConfig
from bot.server import ENGINE
from bot.sim.ringcentral import RingCentralSimulator
from bot.store.schema import Outbound, SlackEvent
from tests.bridge import ROUTES, TEXTS, USER, Bridge, running_bridge
from tests.databases import fresh_database
from tests.integration.test_thread_replies import _parts, _png

from .test_personal_connect import DANA_NUMBER, KEY, connect, dana, dm

CUSTOMER = "+14155550123"
# The service user's extension and Dana's are both watched: her number's texts get threads.
WATCHED = ROUTES.model_copy(update={"ringcentral": RingCentralConfig(extensions=["101", "102"])})


@asynccontextmanager
async def dana_connected(
    rc_sim: RingCentralSimulator,
    clock: FakeClock,
    tmp_path: Path,
    config: BridgeConfig = WATCHED,
) -> AsyncIterator[Bridge]:
    """The bridge, subscribed, with Alice connected as Dana (extension 102)."""
    url = await fresh_database(tmp_path)
    async with running_bridge(
        rc_sim, clock, config, database_url=url, ringbridge_secret_key=KEY
    ) as running:
        rc_sim.register_redirect_uri(str(running.server.make_url("/ringcentral/oauth/callback")))
        await running.subscribe()
        await connect(running, dana(rc_sim))
        yield running


@pytest.fixture
async def bridge(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Bridge]:
    async with dana_connected(rc_sim, clock, tmp_path) as running:
        yield running


def service_number(bridge: Bridge) -> str:
    return bridge.rc.world.numbers_with_feature(bridge.rc.extension_id, "SmsSender")[0]


async def reply_in_thread(
    bridge: Bridge, company: str, typed: str, **kwargs: Any
) -> dict[str, Any]:
    """The customer texts `company` (its extension's), Alice replies in the thread (with
    `kwargs`: files…); her reply as Slack has it once the dispatcher has done its work."""
    owner = bridge.rc.world.extension_of_number(company)
    assert owner is not None
    await bridge.rc.incoming_sms(owner, CUSTOMER, "are you open?", to_number=company)
    await bridge.dispatch()
    parent = next(m for m in bridge.channel(TEXTS) if company[-4:] in str(m))
    await bridge.slack.send_message(
        bridge.events_url, channel_id=TEXTS, text=typed, thread_ts=parent["ts"], **kwargs
    )
    await bridge.settle()
    await bridge.dispatch(horizon=0)
    return next(m for m in bridge.slack.thread(TEXTS, parent["ts"]) if m.get("user") == USER)


def reactions(bridge: Bridge, message: dict[str, Any]) -> list[str]:
    found = next(m for m in bridge.slack.thread(TEXTS, message["thread_ts"])
                 if m["ts"] == message["ts"])  # fmt: skip
    return [r["name"] for r in found.get("reactions", [])]


def sends(bridge: Bridge) -> list[tuple[str | None, str, int]]:
    """(whose token, from which number, RingCentral's status) of every SMS asked for."""
    return [
        (r.owner, r.json["from"]["phoneNumber"], r.status)
        for r in bridge.rc.requests_to(r"/sms$", "POST")
        if r.json is not None
    ]


def status_reads(bridge: Bridge, message_id: str) -> list[str | None]:
    """Whose token read the status of the text `message_id`."""
    return [
        r.owner
        for r in bridge.rc.requests_to(r"/message-store/\d+(,\d+)*$", "GET")
        if message_id in r.path.rsplit("/", 1)[-1].split(",")
    ]


async def texts_sent(bridge: Bridge) -> list[Outbound]:
    async with AsyncSession(bridge.server.app[ENGINE]) as db:
        return list((await db.scalars(select(Outbound))).all())


async def outcome(bridge: Bridge, ts: str) -> str | None:
    async with bridge.server.app[ENGINE].connect() as db:
        return (await db.scalars(select(SlackEvent.outcome).where(SlackEvent.ts == ts))).first()


async def test_a_reply_in_their_numbers_thread_goes_from_their_number_on_their_session(
    bridge: Bridge,
) -> None:
    rc = bridge.rc

    reply = await reply_in_thread(bridge, DANA_NUMBER, "Yes, until 6")

    assert sends(bridge) == [(dana(rc), DANA_NUMBER, 200)]
    assert reactions(bridge, reply) == ["outbox_tray"]
    # Its receipt is read with her session (the text is in her mailbox), then shown.
    await rc.settle_texts()
    await bridge.dispatch(horizon=20)
    assert reactions(bridge, reply) == ["white_check_mark"]
    (sent,) = await texts_sent(bridge)
    assert sent.identity.startswith("person:") and sent.message_id is not None
    reads = status_reads(bridge, sent.message_id)
    assert reads and set(reads) == {dana(rc)}


async def test_a_thread_of_a_number_that_is_not_theirs_goes_on_the_shared_session(
    bridge: Bridge,
) -> None:
    rc = bridge.rc

    reply = await reply_in_thread(bridge, service_number(bridge), "On my way")

    assert sends(bridge) == [(rc.extension_id, service_number(bridge), 200)]
    assert reactions(bridge, reply) == ["outbox_tray"]


async def test_a_refused_session_sends_nothing_and_tells_them_to_reconnect(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    dms_before = len(dm(bridge))
    rc.end_sessions_of(dana(rc))  # a password change: RingCentral ends her sessions

    reply = await reply_in_thread(bridge, DANA_NUMBER, "Yes, until 6")

    # Not on the shared session either: from no number at all.
    assert sends(bridge) == []
    told = [str(m["text"]) for m in bridge.slack.ephemerals(TEXTS, USER)]
    assert any("connection has ended" in t and "/ringcentral connect" in t for t in told), told
    assert "warning" in reactions(bridge, reply)
    assert await outcome(bridge, reply["ts"]) == "session_ended"
    # …and told once in a DM that she is disconnected.
    said = [m for m in dm(bridge)[dms_before:] if "connection has ended" in m["text"]]
    assert len(said) == 1
    await bridge.dispatch()  # nothing left to retry
    assert sends(bridge) == []


async def test_a_connected_person_the_shared_permissions_refuse_still_texts_as_themselves(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    config = WATCHED.model_copy(update={"permissions": PermissionsConfig(sms=["U0NOBODY"])})
    async with dana_connected(rc_sim, clock, tmp_path, config) as bridge:
        theirs = await reply_in_thread(bridge, DANA_NUMBER, "Yes, until 6")
        shared = await reply_in_thread(bridge, service_number(bridge), "On my way")

        assert sends(bridge) == [(dana(rc_sim), DANA_NUMBER, 200)]
        assert "lock" not in reactions(bridge, theirs)
        assert "lock" in reactions(bridge, shared)  # the team's number: `[permissions] sms`


async def test_an_sms_sent_as_a_person_has_its_status_read_with_their_session(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    rc_sim.service_user_admin = False  # its permissions reach its own mailbox only
    async with dana_connected(rc_sim, clock, tmp_path, ROUTES) as bridge:
        delivery = await bridge.command("/sms", f"{CUSTOMER} are you coming?")
        await rc_sim.settle_texts()
        await bridge.dispatch(horizon=20)

        assert sends(bridge) == [(dana(rc_sim), DANA_NUMBER, 200)]
        assert "Delivered to" in str(bridge.replies(delivery)[-1]["text"])
        refused = [r for r in rc_sim.requests_to(r"/message-store/", "GET") if r.status == 403]
        assert refused == []


async def test_a_persons_texts_are_not_read_by_another_once_they_disconnect(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    reply = await reply_in_thread(bridge, DANA_NUMBER, "Yes, until 6")
    await bridge.command("/ringcentral", "disconnect")

    await rc.settle_texts()
    await bridge.dispatch(horizon=20)

    (sent,) = await texts_sent(bridge)
    assert sent.state == "done"
    assert status_reads(bridge, str(sent.message_id)) == []
    assert reactions(bridge, reply) == ["outbox_tray"]  # where it was: no report read


async def test_a_send_whose_answer_was_lost_is_found_in_their_mailbox_not_texted_again(
    bridge: Bridge,
) -> None:
    """RingCentral took her text but its answer failed: the retry looks in the mailbox of
    the session that sent it (hers), finds it, and sends nothing (exactly once)."""
    rc = bridge.rc
    rc.fail(r"/sms$", status=503, store=True)

    reply = await reply_in_thread(bridge, DANA_NUMBER, "Did this arrive?")
    await bridge.dispatch()  # the retry, after its backoff

    assert sends(bridge) == [(dana(rc), DANA_NUMBER, 503)]
    assert await outcome(bridge, reply["ts"]) == "texted"
    looked = rc.requests_to(r"/message-store$", "GET")
    assert looked and {r.owner for r in looked} == {dana(rc)}


async def test_files_in_their_numbers_thread_go_as_mms_from_their_number(bridge: Bridge) -> None:
    """Her number's MMS feature is read with her session (the shared one lists only the
    service user's numbers)."""
    png = _png()

    reply = await reply_in_thread(
        bridge, DANA_NUMBER, "Here is the map", files=[("map.png", png, "image/png")]
    )

    (sent,) = bridge.rc.requests_to(r"/sms$", "POST")
    assert sent.owner == dana(bridge.rc)
    parts = _parts(sent.headers, sent.body)
    assert parts[0][2]["from"] == {"phoneNumber": DANA_NUMBER}
    assert parts[1:] == [("image/png", "map.png", png)]
    assert reactions(bridge, reply) == ["outbox_tray"]
