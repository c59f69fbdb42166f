"""Catch-up through the real server between both simulators (DESIGN §3.10): what RingCentral
recorded while no event reached the bridge is read back (`message-sync`, `call-log-sync`),
posted once, marked late; nothing shown before is shown again; a fresh install posts no
history; the triggers, the second pass, the leader, the economy of a pass.

"No event reached the bridge": the simulator records each item in its stores and sends its
events only to Active subscriptions, so with the subscription blacklisted or deleted
nothing is delivered, as when RingCentral blacklisted it or the bridge was down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.bridge.catchup import SECOND_PASS, Catchup, PassReport
from bot.clock import FakeClock
from bot.config import BridgeConfig, Route
from bot.notices import CallNotice
from bot.sim import RingCentralSimulator
from bot.store import Cursors
from bot.store.schema import CallState, Post
from tests.bridge import CALLS, TEXTS, Bridge, running_bridge
from tests.conftest import fresh_database

CALLER = "+14155550123"
TEXTER = "+14155550188"
OUR_NUMBER = "+16505550100"
NEWCOMER = "+14155550177"  # texts first while the bridge is away: a thread of its own
KINDS_DUE = ["fax", "missed_call", "missed_call", "sms", "voicemail"]  # see downtime()


def late_posts(bridge: Bridge, channel: str) -> list[dict[str, Any]]:
    return [
        m
        for m in bridge.channel(channel)
        if (m.get("metadata") or {}).get("event_payload", {}).get("late") is True
    ]


def items(messages: list[dict[str, Any]]) -> list[str]:
    return [m["metadata"]["event_payload"]["item"] for m in messages]


def catchup(bridge: Bridge) -> Catchup:
    return bridge.notifications.catchup


@asynccontextmanager
async def leading(bridge: Bridge) -> AsyncIterator[Bridge]:
    """This process holds the subscription's leader lock (PostgreSQL: an advisory lock,
    given back after; SQLite: always), as the subscription manager's rounds take it."""
    leadership = catchup(bridge).leadership
    assert leadership is None or await leadership.check()
    try:
        yield bridge
    finally:
        if leadership is not None:
            await leadership.release()


@pytest.fixture
async def bridge(bridge: Bridge) -> AsyncIterator[Bridge]:
    """The suite's bridge (tests/conftest.py), leading."""
    async with leading(bridge) as running:
        yield running


async def started(bridge: Bridge) -> str:
    """Subscribed, and the first pass run: every source's cursor set to now."""
    sub = await bridge.subscribe()
    (report,) = await catchup(bridge).run_due()
    assert report.sources and all(s.started for s in report.sources), report
    return sub


async def downtime(rc: RingCentralSimulator, clock: FakeClock) -> dict[str, str]:
    """Two minutes on, an SMS, a voicemail, a fax and a missed call, recorded by
    RingCentral: the items each should become (message ids; the call's telephony
    session). The call rang for 8 s before it was missed. The voicemail's call is in the
    call log too: a call that went to voicemail is a missed call as well (DESIGN §3.7), so
    five notices are due."""
    clock.advance(120)
    ext = rc.extension_id
    sms = await rc.incoming_sms(ext, NEWCOMER, "are you open today?")
    voicemail = await rc.incoming_voicemail(ext, CALLER, duration=12, transcript="call me")
    fax = await rc.incoming_fax(ext, CALLER, pages=1)
    call = await rc.call("missed", caller=CALLER, extension_id=ext, pace=False)
    return {
        "sms": sms.id,
        "voicemail": voicemail.id,
        "fax": fax.id,
        "missed_call": call.telephony_session_id,
    }


async def test_a_fresh_install_posts_no_history(bridge: Bridge) -> None:
    # The simulated account has a month of calls and messages behind it.
    assert bridge.rc.world.message_store(bridge.rc.extension_id, {})["records"]

    await started(bridge)
    clock = bridge.clock
    clock.advance(SECOND_PASS)
    (second,) = await catchup(bridge).run_due()
    await bridge.dispatch()

    assert second.recovered == [] and not second.errors
    assert bridge.channel(CALLS) == [] and bridge.channel(TEXTS) == []
    cursors = {c.source for c in await Cursors(bridge.engine).all()}
    assert cursors == {f"messages:{bridge.rc.extension_id}", f"calls:{bridge.rc.extension_id}"}


async def test_after_a_blacklisted_subscription_is_replaced_each_item_is_posted_once_late(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    sub = await started(bridge)
    live = await rc.incoming_sms(rc.extension_id, TEXTER, "before the trouble")
    await bridge.dispatch()
    assert items(bridge.channel(TEXTS)) == [live.id]

    rc.blacklist(sub)
    lost = await downtime(rc, bridge.clock)
    assert not any(s.status == "Active" for s in rc.subscriptions.values())
    lines = await bridge.notifications.subscriptions.sync()  # the manager's next round
    assert any("created subscription" in line for line in lines)
    (report,) = await catchup(bridge).run_due()
    await bridge.dispatch()

    assert sorted(n.kind for n in report.recovered) == KINDS_DUE
    texts, calls = bridge.channel(TEXTS), bridge.channel(CALLS)
    assert items(texts) == [live.id, lost["sms"]]  # the live one not again
    assert items(late_posts(bridge, TEXTS)) == [lost["sms"]]
    late_calls = late_posts(bridge, CALLS)
    assert sorted(m["metadata"]["event_type"] for m in late_calls) == [
        "ringcentral_fax",
        "ringcentral_missed_call",
        "ringcentral_missed_call",
        "ringcentral_voicemail",
    ]
    assert len(calls) == 4
    assert any(item.startswith(lost["missed_call"] + ":") for item in items(late_calls))
    assert {lost["voicemail"], lost["fax"]} <= set(items(late_calls))
    for message in [*late_posts(bridge, TEXTS), *late_posts(bridge, CALLS)]:
        assert message["text"].startswith("Arrived late: ")
        assert "Arrived late: happened at <!date^" in str(message["blocks"])

    # Ten minutes later the second pass finds the same records: nothing twice.
    bridge.clock.advance(SECOND_PASS)
    (second,) = await catchup(bridge).run_due()
    await bridge.dispatch()
    assert second.recovered == [] and "second pass" in second.reason
    assert len(bridge.channel(TEXTS)) == 2 and len(bridge.channel(CALLS)) == 4


async def test_a_call_judged_live_is_not_posted_again_and_a_recovered_one_not_judged_live(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    sub = await started(bridge)
    live = await rc.call("missed", caller=CALLER, extension_id=rc.extension_id, pace=False)
    await bridge.dispatch()
    assert len(bridge.channel(CALLS)) == 1

    rc.delete_subscription(sub)
    bridge.clock.advance(120)
    lost = await rc.call("missed", caller=TEXTER, extension_id=rc.extension_id, pace=False)
    report = await catchup(bridge).catch_up("a test")
    await bridge.dispatch()

    assert [n.item.split(":")[0] for n in report.recovered] == [lost.telephony_session_id]
    assert len(bridge.channel(CALLS)) == 2
    async with bridge.engine.connect() as conn:
        judged = set(await conn.scalars(select(CallState.session_id)))
    assert {live.telephony_session_id, lost.telephony_session_id} <= judged
    # Its events arriving late now change nothing: the call was judged for good.
    await bridge.subscribe()
    for body in lost.bodies:
        await rc.notify(
            f"/restapi/v1.0/account/{rc.account_id}/extension/{rc.extension_id}/telephony/sessions",
            body,
        )
    await bridge.dispatch()
    assert len(bridge.channel(CALLS)) == 2


async def test_an_expired_token_is_a_full_sync_from_the_cursor(bridge: Bridge) -> None:
    rc = bridge.rc
    sub = await started(bridge)
    rc.delete_subscription(sub)
    lost = await downtime(rc, bridge.clock)
    rc.expire_sync_tokens()

    report = await catchup(bridge).catch_up("tokens expired")
    await bridge.dispatch()

    assert all(s.full for s in report.sources), report
    assert sorted(n.kind for n in report.recovered) == KINDS_DUE
    assert lost["sms"] in items(late_posts(bridge, TEXTS))
    assert len(late_posts(bridge, CALLS)) == 4 and len(late_posts(bridge, TEXTS)) == 1


async def test_a_message_change_advances_the_token_a_minute_later(bridge: Bridge) -> None:
    rc = bridge.rc
    await started(bridge)
    requests = len(rc.requests_to(r"/message-sync$"))
    await rc.incoming_sms(rc.extension_id, TEXTER, "one")
    await rc.incoming_sms(rc.extension_id, TEXTER, "two")
    await bridge.dispatch()  # live: both posted, and the store changes noted

    assert await catchup(bridge).run_due() == []  # not yet
    bridge.clock.advance(60)
    (report,) = await catchup(bridge).run_due()

    assert [s.source for s in report.sources] == [f"messages:{rc.extension_id}"]
    assert report.recovered == []  # both were shown live
    assert len(rc.requests_to(r"/message-sync$")) == requests + 1  # one ISync for both


async def test_a_steady_pass_costs_one_request_per_source(bridge: Bridge) -> None:
    await started(bridge)
    before = len(bridge.rc.requests)

    report = await catchup(bridge).catch_up("steady")

    made = bridge.rc.requests[before:]
    assert report.requests == len(made) == len(report.sources) == 2
    assert {r.query["syncType"][0] for r in made} == {"ISync"}


async def test_only_the_leader_catches_up(bridge: Bridge) -> None:
    await started(bridge)

    class Follower:
        leading = False

    runner = catchup(bridge)
    runner._leadership = Follower()  # type: ignore[assignment]
    before = len(bridge.rc.requests)
    report = await runner.catch_up("not ours")

    assert report.skipped and len(bridge.rc.requests) == before


@pytest.fixture
async def three_extensions(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Bridge]:
    """Three watched extensions: the call log is read at the account's level."""
    numbers = ["101", "102", "103"]
    config = BridgeConfig(
        routes=[Route(events=["missed_call", "sms"], channel=CALLS)],
        ringcentral={"extensions": numbers},
    )
    async with (
        running_bridge(
            rc_sim, clock, config, database_url=await fresh_database(tmp_path)
        ) as running,
        leading(running),
    ):
        yield running


async def test_several_extensions_read_the_company_call_log_or_each_one_without_permission(
    three_extensions: Bridge,
) -> None:
    bridge, rc = three_extensions, three_extensions.rc
    runner = catchup(bridge)
    assert runner.account_call_log
    sub = await started(bridge)
    rc.delete_subscription(sub)
    watched = list(bridge.notifications.watch.extension_ids)
    bridge.clock.advance(120)
    call = await rc.call("missed", caller=CALLER, extension_id=watched[1], pace=False)

    rc.company_call_log = False
    report = await runner.catch_up("no permission")
    await bridge.dispatch()

    assert not runner.account_call_log
    refused = [s for s in report.sources if s.source == "calls:account"]
    assert [s.error for s in refused] == ["refused"]
    # Each extension's log is new to catch-up: its cursor starts now, nothing recovered.
    assert {s.source for s in report.sources if s.started} == {f"calls:{e}" for e in watched}
    assert report.recovered == []

    bridge.clock.advance(120)
    again = await rc.call("missed", caller=TEXTER, extension_id=watched[2], pace=False)
    second = await runner.catch_up("per extension")
    await bridge.dispatch()
    assert [n.item.split(":")[0] for n in second.recovered] == [again.telephony_session_id]
    assert call.telephony_session_id not in str(bridge.channel(CALLS))


async def test_a_source_that_fails_keeps_its_cursor_and_is_read_again(bridge: Bridge) -> None:
    rc = bridge.rc
    sub = await started(bridge)
    rc.delete_subscription(sub)
    calls = f"calls:{rc.extension_id}"
    calls_before = await Cursors(bridge.engine).get(calls)
    bridge.clock.advance(120)
    call = await rc.call("missed", caller=CALLER, extension_id=rc.extension_id, pace=False)
    rc.fail_next_with_429()  # RingCentral refuses the call log's sync

    first = await catchup(bridge).catch_up("it fails", only={calls})

    assert first.recovered == [] and [s.error for s in first.sources] == ["RateLimited"]
    assert await Cursors(bridge.engine).get(calls) == calls_before

    second = await catchup(bridge).catch_up("again")
    await bridge.dispatch()

    assert [n.session_id for n in second.recovered if isinstance(n, CallNotice)] == [
        call.telephony_session_id
    ]
    after = await Cursors(bridge.engine).get(calls)
    assert after is not None and after.synced_at > calls_before.synced_at
    async with bridge.engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(Post))
    assert count == second.posts == 1


async def test_without_a_subscription_to_keep_catch_up_takes_the_lead_and_runs_its_passes(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    """No PUBLIC_URL: no subscription manager runs to trigger it, so `run()` takes the lead
    itself; the first pass starts the cursors and the second follows 10 min later (the
    fake clock moves as the loop sleeps)."""
    reports: list[PassReport] = []
    two = asyncio.Event()

    async def heard(report: PassReport) -> None:
        reports.append(report)
        if len(reports) == 2:
            two.set()

    async with running_bridge(
        rc_sim, clock, database_url=await fresh_database(tmp_path), public_url=None
    ) as bridge:
        notifications = bridge.notifications
        assert notifications.subscriptions.address is None
        notifications.catchup.on_report = heard
        started_at = clock.monotonic()
        stop = asyncio.Event()
        running = asyncio.create_task(notifications.run(stop))
        try:
            await asyncio.wait_for(two.wait(), 20)
        finally:
            stop.set()
            await asyncio.wait_for(running, 20)

    first, second = reports
    assert first.reason == "start" and all(s.started for s in first.sources)
    assert second.reason == "start, second pass" and second.recovered == []
    assert clock.monotonic() - started_at >= SECOND_PASS
    # No webhook subscription: without PUBLIC_URL, events come over the WebSocket.
    assert all(s.transport == "WebSocket" for s in rc_sim.subscriptions.values())


async def test_a_full_call_log_isync_and_a_long_message_gap_are_read_in_full(
    bridge: Bridge,
) -> None:
    """More than RingCentral answers at once: the call-log ISync comes back with its 250
    (more may exist: a full sync, the older rest from the call log), and a message ISync
    refused for too many changes (MSG-333) becomes a full sync read backwards page by page
    while `olderRecordsExist`."""
    rc, clock = bridge.rc, bridge.clock
    sub = await started(bridge)
    rc.delete_subscription(sub)
    rc.message_isync_limit = 10
    count = 260  # RECORD_LIMIT + 10
    for n in range(count):
        clock.advance(5)
        rc.world.add_call(
            rc.extension_id, direction="Inbound", other_number=CALLER, result="Missed"
        )
        rc.world.add_inbound_sms(rc.extension_id, f"+1415556{n:04d}", OUR_NUMBER, f"n {n}")
    before = len(rc.requests)

    report = await catchup(bridge).catch_up("a long gap")

    made = [r.path.rsplit("/", 1)[-1] + ":" + r.query.get("syncType", ["-"])[0]
            for r in rc.requests[before:]]  # fmt: skip
    messages, calls = report.sources
    assert messages.full and calls.full, report
    assert sum(1 for n in report.recovered if n.kind == "sms") == count
    assert sum(1 for n in report.recovered if n.kind == "missed_call") == count
    assert made.count("message-sync:ISync") == 1 and made.count("message-sync:FSync") >= 2
    assert made.count("call-log-sync:ISync") == 1 and made.count("call-log-sync:FSync") == 1
    assert made.count("call-log:-") >= 1  # the rest, older than the sync's 250
    async with bridge.engine.connect() as conn:
        posts = await conn.scalar(select(func.count()).select_from(Post))
    assert posts == report.posts == 2 * count


async def test_a_text_whose_live_event_waits_in_the_inbox_is_left_to_it_not_posted_late(
    bridge: Bridge,
) -> None:
    """Under load the dispatcher may be seconds behind: a pass that reads the message
    store then finds a text whose live event is stored but not yet dispatched. It is the
    live path's: posted once, not marked late."""
    rc = bridge.rc
    await started(bridge)
    live = await rc.incoming_sms(rc.extension_id, TEXTER, "while the dispatcher is behind")
    bridge.clock.advance(SECOND_PASS)
    (report,) = await catchup(bridge).run_due()  # before the delivery is dispatched
    await bridge.dispatch()

    assert [n.item for n in report.recovered] == []
    assert items(bridge.channel(TEXTS)) == [live.id]
    assert late_posts(bridge, TEXTS) == []
