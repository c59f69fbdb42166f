"""Auto reply (DESIGN §3.12) through the real server between both simulators: a live missed
call from a mobile number of the home country gets the first matching route's text, from
the number it called, once per caller per day (account time zone: US/Pacific; the
FakeClock starts on Wednesday 2026-01-01 at 16:00 there) across routes and processes,
shown in the missed call's thread with its receipt; never to an extension, one of our
numbers, an anonymous or foreign caller, a landline, an opted-out number, a number an
earlier text failed for as a landline, a recovered call, or from a number the service
user cannot text from (the admin channel is told, once)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import AdminConfig, BridgeConfig
from bot.server import ADMIN
from bot.sim import RingCentralSimulator
from bot.store.schema import AutoReply
from tests.bridge import CALLS, CHANNEL, TEXTS, Bridge, running_bridge
from tests.databases import fresh_database
from tests.integration.test_catchup import leading

CALLER = "+14155550123"  # a US number phonenumbers types FIXED_LINE_OR_MOBILE
OTHER_CALLER = "+14155550177"
OUR_LINE = "+16505550101"  # the service user's own number, with SmsSender
NO_SMS_LINE = "+16505550111"  # the service user's second line: no SmsSender
COLLEAGUE = "+16505550102"  # extension 102's direct number
FIRST_TEXT = "Sorry we missed your call; we'll text you back shortly."
SECOND_TEXT = "The second route's words: never sent while the first matches."
ADMIN_CHANNEL = "C0ADMIN"
DAY = 24 * 3600.0


def config() -> BridgeConfig:
    return BridgeConfig.model_validate(
        {
            "routes": [
                {"events": ["missed_call"], "channel": CALLS, "auto_reply": FIRST_TEXT},
                {"events": ["missed_call"], "channel": CHANNEL, "auto_reply": SECOND_TEXT},
                {"events": ["sms"], "channel": TEXTS},
            ],
            "admin": AdminConfig(channel=ADMIN_CHANNEL),
        }
    )


@pytest.fixture
async def bridge(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Bridge]:
    """The bridge with `config()`, subscribed, its admin channel there."""
    database = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, config(), database_url=database) as running:
        running.slack.add_channel(ADMIN_CHANNEL, "ringbridge-admin", member=True)
        await running.subscribe()
        yield running


async def missed_call(bridge: Bridge, caller: str, *, to: str = OUR_LINE) -> None:
    """A missed call, its post, and what follows it (its auto reply, that text's moves)."""
    rc = bridge.rc
    await rc.call("missed", caller=caller, extension_id=rc.extension_id, to_number=to, pace=False)
    await bridge.dispatch(horizon=10)
    await rc.settle_texts()
    await bridge.dispatch(horizon=10)


def texts_to(bridge: Bridge, number: str) -> list[dict[str, Any]]:
    """The texts the bridge asked RingCentral to send to `number` (the send's body)."""
    sent = [r.json for r in bridge.rc.requests_to(r"/sms$", "POST")]
    return [body for body in sent if any(to["phoneNumber"] == number for to in body["to"])]


def notes(bridge: Bridge, channel: str) -> list[dict[str, Any]]:
    """The auto-reply notes in the threads of `channel`'s missed calls."""
    found = []
    for parent in bridge.channel(channel):
        for message in bridge.slack.thread(channel, parent["ts"])[1:]:
            if (message.get("metadata") or {}).get("event_type") == "ringbridge_auto_reply":
                found.append(message)
    return found


def reactions(message: dict[str, Any]) -> list[str]:
    return [r["name"] for r in message.get("reactions", [])]


def thread_texts(bridge: Bridge, channel: str) -> str:
    return "\n".join(
        json.dumps(m.get("blocks")) + str(m.get("text"))
        for parent in bridge.channel(channel)
        for m in bridge.slack.thread(channel, parent["ts"])[1:]
    )


async def outcomes(bridge: Bridge) -> list[str | None]:
    async with bridge.engine.connect() as conn:
        return list(await conn.scalars(select(AutoReply.outcome).order_by(AutoReply.id)))


async def test_once_per_caller_per_day_across_routes_shown_with_its_receipt(
    bridge: Bridge, clock: FakeClock
) -> None:
    await missed_call(bridge, CALLER)

    (sent,) = texts_to(bridge, CALLER)
    assert (sent["from"]["phoneNumber"], sent["text"]) == (OUR_LINE, FIRST_TEXT)
    # Shown in the first route's post's thread, with the text and its receipt: the
    # simulated carrier delivered it, and the change told the bridge.
    (note,) = notes(bridge, CALLS)
    assert "Auto reply" in note["text"] and FIRST_TEXT in json.dumps(note["blocks"])
    assert reactions(note) == ["white_check_mark"]
    assert notes(bridge, CHANNEL) == []  # the second route posts, but gives no text

    # A second missed call the same day: posted in both channels, no second text.
    clock.advance(3600)
    await missed_call(bridge, CALLER)
    assert len(bridge.channel(CALLS)) == 2 and len(bridge.channel(CHANNEL)) == 2
    assert len(texts_to(bridge, CALLER)) == 1
    assert len(notes(bridge, CALLS)) == 1

    # The next day (account time zone) the caller gets it again.
    clock.advance(DAY)
    await missed_call(bridge, CALLER)
    assert len(texts_to(bridge, CALLER)) == 2
    assert len(notes(bridge, CALLS)) == 2
    assert await outcomes(bridge) == ["sent", "already_today", "sent"]
    # The notes kept Slack's pace with the posts (one message a second per channel).
    assert [c for c in bridge.slack.calls("chat.postMessage") if c.status == 429] == []


async def test_two_processes_on_one_database_text_a_caller_once(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    database = await fresh_database(tmp_path)
    async with (
        running_bridge(rc_sim, clock, config(), database_url=database) as first,
        running_bridge(rc_sim, clock, config(), database_url=database) as second,
    ):
        await first.subscribe()
        # Two missed calls from one caller, stored and posted by the first; then both
        # processes judge their auto replies side by side.
        for _ in range(2):
            await rc_sim.call("missed", caller=CALLER, extension_id=rc_sim.extension_id,
                              to_number=OUR_LINE, pace=False)  # fmt: skip
        await first.arrived()
        ingest = first.notifications.dispatcher
        await ingest._deliveries()
        await ingest._quiet_calls()
        await ingest.poster.run_once()
        await ingest.poster.run_once()
        clock.advance(5)
        steps = [b.notifications.dispatcher.auto_replies for b in (first, second)]
        for step in steps:
            assert step is not None
            step.batch = 1  # each process takes one of the two calls
        claimed = await asyncio.gather(*(s.run_once() for s in steps if s is not None))
        assert claimed == [1, 1]
        await first.dispatch(horizon=10)
        await second.dispatch(horizon=10)
        assert len(texts_to(first, CALLER)) == 1
        assert sorted(map(str, await outcomes(first))) == ["already_today", "sent"]


async def test_never_to_extensions_our_numbers_anonymous_foreign_or_landline_callers(
    bridge: Bridge,
) -> None:
    never = {
        "102": "extension",  # a colleague dialling from their extension
        COLLEAGUE: "own_number",  # one of the account's numbers (the directory's)
        "anonymous": "anonymous",
        "+33612345678": "foreign",  # a French mobile: not the home country
        "+18885550142": "not_mobile",  # toll-free: no mobile, no text
    }
    for caller in never:
        await missed_call(bridge, caller)
    assert len(bridge.channel(CALLS)) == len(never)
    assert bridge.rc.requests_to(r"/sms$", "POST") == []
    assert notes(bridge, CALLS) == []
    assert await outcomes(bridge) == list(never.values())


async def test_never_to_an_opted_out_caller_and_start_opts_back_in(
    bridge: Bridge, rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    await rc_sim.incoming_sms(rc_sim.extension_id, CALLER, "STOP", to_number=OUR_LINE)
    await bridge.dispatch(horizon=10)
    await missed_call(bridge, CALLER)
    assert texts_to(bridge, CALLER) == []

    await rc_sim.incoming_sms(rc_sim.extension_id, CALLER, "start", to_number=OUR_LINE)
    await bridge.dispatch(horizon=10)
    clock.advance(DAY)
    await missed_call(bridge, CALLER)
    assert len(texts_to(bridge, CALLER)) == 1
    assert await outcomes(bridge) == ["opted_out", "sent"]


async def test_a_text_that_failed_opted_out_or_as_a_landline_stops_later_auto_replies(
    bridge: Bridge, rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    rc_sim.sms_outcome(CALLER, "landline")  # SendingFailed, SMS-UP-410
    rc_sim.sms_outcome(OTHER_CALLER, "opted_out")  # SendingFailed, SMS-RC-413 (STOP elsewhere)
    await missed_call(bridge, CALLER)
    await missed_call(bridge, OTHER_CALLER)
    assert len(texts_to(bridge, CALLER)) == len(texts_to(bridge, OTHER_CALLER)) == 1
    # The failures are shown in the missed calls' threads, in words.
    assert [reactions(n) for n in notes(bridge, CALLS)] == [["warning"], ["warning"]]
    said = thread_texts(bridge, CALLS)
    assert "cannot receive texts" in said and "opted out" in said

    clock.advance(DAY)  # a new day: remembered, not tried again
    await missed_call(bridge, CALLER)
    await missed_call(bridge, OTHER_CALLER)
    assert len(texts_to(bridge, CALLER)) == len(texts_to(bridge, OTHER_CALLER)) == 1
    assert await outcomes(bridge) == ["sent", "sent", "landline", "opted_out"]


async def test_no_sms_sender_on_the_called_number_never_texts_and_tells_the_admin_once(
    bridge: Bridge, rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    await missed_call(bridge, CALLER, to=NO_SMS_LINE)
    await missed_call(bridge, OTHER_CALLER, to=NO_SMS_LINE)
    desk = bridge.server.app[ADMIN]
    await desk.settle()
    await desk.run_once()
    await desk.run_once()

    assert bridge.rc.requests_to(r"/sms$", "POST") == []
    (told,) = bridge.slack.messages(ADMIN_CHANNEL)
    said = json.dumps(told.get("blocks")) + str(told.get("text"))
    assert "Auto reply cannot text from" in said and "SmsSender" in said
    assert await outcomes(bridge) == ["no_sms_sender", "no_sms_sender"]

    # The admin gives the line SmsSender; an hour on (what the bridge knows of the
    # account is read hourly) the caller, not texted today, gets it from that line.
    rc_sim.world.set_number_features(NO_SMS_LINE, ("CallerId", "SmsSender"))
    clock.advance(3600)
    await missed_call(bridge, CALLER, to=NO_SMS_LINE)
    (sent,) = texts_to(bridge, CALLER)
    assert sent["from"]["phoneNumber"] == NO_SMS_LINE
    await desk.settle()
    await desk.run_once()
    (told,) = bridge.slack.messages(ADMIN_CHANNEL)
    assert "Resolved" in json.dumps(told.get("blocks")) + str(told.get("text"))


async def test_a_recovered_missed_call_gets_no_auto_reply(
    bridge: Bridge, rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    subscription = await bridge.subscribe()
    catchup = bridge.notifications.catchup
    async with leading(bridge):  # PostgreSQL: this process catches up
        await catchup.run_due()  # the cursors start now
        rc_sim.delete_subscription(subscription)  # as if the bridge were down
        clock.advance(120)
        await rc_sim.call("missed", caller=CALLER, extension_id=rc_sim.extension_id,
                          to_number=OUR_LINE, pace=False)  # fmt: skip
        report = await catchup.catch_up("a test")
    await bridge.dispatch(horizon=10)

    assert len(report.recovered) == 1 and len(bridge.channel(CALLS)) == 1
    assert texts_to(bridge, CALLER) == []
    assert await outcomes(bridge) == []
