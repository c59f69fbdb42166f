"""Catch-up under faults (RELIABILITY R16, R20; DESIGN §3.10).

R16, in process on a clock the test moves a minute at a time (the subscription manager,
catch-up and RingCentral's simulator all on it; Slack and the dispatcher on wall time):
RingCentral blacklists the subscription during traffic; the manager's next round (every
15 min) finds it, deletes it and makes a new one; catch-up reads back through
`message-sync` what was sent meanwhile: every SMS and voicemail posted once, marked late;
the hook the admin channel will use hears what was recovered. Its figures include the
RingCentral requests of a steady pass (ISync: one per source).

R20, as deployed (`python -m bot serve` in a subprocess, the simulators in another): the
server is killed (SIGKILL) during traffic and stays down for a while (2 min at full size)
while RingCentral records SMS, voicemails (each a call that went to voicemail), faxes and
missed calls, whose deliveries all fail; restarted, every item is posted exactly once,
those of the downtime marked late, and nothing posted before the stop posted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.bridge.catchup import PassReport
from bot.bridge.service import SUBSCRIPTION_CHECK_INTERVAL
from bot.clock import FakeClock
from bot.config import BridgeConfig, Route
from bot.sim import RingCentralSimulator, ServerProcess, Simulators
from bot.store import Cursors
from tests.bridge import Bridge, running_bridge
from tests.conftest import fresh_database

from ._kit import until

pytestmark = pytest.mark.long  # a long real-time run: its own CI step (README)

TEXTS, VOICE = "C0TEXTS", "C0CALLS"
CALLER = "+14155550123"


class SteppedClock(FakeClock):
    """Time moves only when the test moves it; a sleeper wakes once it has passed its
    deadline (FakeClock's sleepers would move it themselves, all at once)."""

    def __init__(self) -> None:
        super().__init__()
        self._tick = asyncio.Event()

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def sleep_until(self, deadline: float) -> None:
        while self.monotonic() < deadline:
            await self._tick.wait()


# -- R16 ------------------------------------------------------------------------------------


@pytest.fixture
async def r16(tmp_path: Path) -> AsyncIterator[tuple[Bridge, SteppedClock]]:
    clock = SteppedClock()
    rc = RingCentralSimulator(clock=clock)
    config = BridgeConfig(
        routes=[
            Route(events=["sms"], channel=TEXTS),
            Route(events=["voicemail", "missed_call"], channel=VOICE),
        ]
    )
    async with (
        rc.serve(),
        running_bridge(rc, clock, config, database_url=await fresh_database(tmp_path)) as b,
    ):
        b.slack.add_channel(TEXTS, "texts", member=True)
        b.slack.add_channel(VOICE, "calls", member=True)
        yield b, clock


async def _settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)  # wall time for the loops to do what the minute brought


async def test_r16_blacklisted_subscription_detected_replaced_and_backfilled(
    r16: tuple[Bridge, SteppedClock], soak: bool, figures: dict[str, Any]
) -> None:
    bridge, clock = r16
    rc = bridge.rc
    lost_count = 10 if soak else 4
    reports: list[PassReport] = []

    async def heard(report: PassReport) -> None:  # the admin channel's hook
        reports.append(report)

    notifications = bridge.notifications
    notifications.catchup.on_report = heard
    stop = asyncio.Event()
    running = asyncio.create_task(notifications.run(stop))
    try:

        async def subscribed() -> str | None:
            active = [s.id for s in rc.subscriptions.values() if s.status == "Active"]
            return active[0] if active else None

        first = await until("the first subscription", subscribed, 30)
        await until("the first pass", lambda: _cursors(bridge), 30)
        live = await rc.incoming_sms(rc.extension_id, "+14155550100", "before the blacklist")
        await until("the live SMS posted", lambda: _posted(bridge, TEXTS, 1), 30)

        clock.advance(120)
        rc.blacklist(first, "the test: deliveries failing")
        blacklisted_at = clock.now()
        delivered = len(rc.deliveries)
        sms_ids, voicemail_ids = [], []
        for n in range(lost_count):
            clock.advance(30)
            if n % 2 == 0:
                sms = await rc.incoming_sms(rc.extension_id, f"+1415555{1000 + n:04d}", f"lost {n}")
                sms_ids.append(sms.id)
            else:
                call = await rc.call(
                    "voicemail", caller=f"+1415555{1000 + n:04d}", extension_id=rc.extension_id,
                    ring=4, talk=6, pace=False,
                )  # fmt: skip
                assert call.voicemail is not None
                voicemail_ids.append(call.voicemail.id)
        assert len(rc.deliveries) == delivered  # nothing is sent to a blacklisted one

        detected_at = None
        for _ in range(30):  # minute by minute, for at most half an hour
            clock.advance(60)
            await _settle()
            if await subscribed() not in (None, first):
                detected_at = clock.now()
                break
        assert detected_at is not None, "the blacklisted subscription was never replaced"
        detected_after = detected_at - blacklisted_at
        assert detected_after <= SUBSCRIPTION_CHECK_INTERVAL

        want_texts = 1 + len(sms_ids)
        want_voice = 2 * len(voicemail_ids)  # each voicemail and its missed call
        # Slack's pace (a post a second per channel) runs on this clock: a second a step.
        for _ in range(600):
            if (
                len(bridge.channel(TEXTS)) >= want_texts
                and len(bridge.channel(VOICE)) >= want_voice
            ):
                break
            clock.advance(1)
            await _settle(0.05)
        await _settle(2.0)

        # The second pass, 10 minutes on, finds nothing new: the steady state's cost.
        before = len(rc.requests)
        for _ in range(11):
            clock.advance(60)
            await _settle()
        second = [r for r in reports if "second pass" in r.reason and r.sources]
        steady = second[-1] if second else None
        sync_requests = [r for r in rc.requests[before:] if r.path.endswith("-sync")]
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 20)

    texts, voice = bridge.channel(TEXTS), bridge.channel(VOICE)
    per_item = Counter(m["metadata"]["event_payload"]["item"] for m in [*texts, *voice])
    late = [m for m in [*texts, *voice] if m["metadata"]["event_payload"].get("late")]
    lost = [i for i in [*sms_ids, *voicemail_ids] if per_item[i] == 0]
    recovered = [n for r in reports for n in r.recovered]
    figures.update(
        lost_items=len(sms_ids) + len(voicemail_ids),
        detected_after_s=detected_after,
        check_interval_s=SUBSCRIPTION_CHECK_INTERVAL,
        recovered=len(recovered),
        lost=len(lost),
        doubled=sum(1 for c in per_item.values() if c > 1),
        marked_late=len(late),
        hook_reports=len(reports),
        steady_pass_requests=steady.requests if steady else None,
        steady_pass_sources=len(steady.sources) if steady else None,
        sync_requests_in_10_min=len(sync_requests),
    )
    assert not lost and all(c == 1 for c in per_item.values()), per_item
    assert per_item[live.id] == 1
    assert len(late) == len(sms_ids) + 2 * len(voicemail_ids)
    assert {n.item for n in recovered} >= {*sms_ids, *voicemail_ids}
    assert steady is not None and steady.recovered == []
    assert steady.requests == len(steady.sources) == 2  # one ISync per source


async def _cursors(bridge: Bridge) -> bool:
    return len(await Cursors(bridge.engine).all()) == 2


async def _posted(bridge: Bridge, channel: str, count: int) -> bool:
    return len(bridge.channel(channel)) >= count


# -- R20 ------------------------------------------------------------------------------------

KINDS = ("sms", "voicemail", "fax", "missed_call")
CHANNELS = {"sms": "C0SOAK000", "voicemail": "C0SOAK001", "fax": "C0SOAK002"}
MISSED = "C0SOAK003"
R20_CONFIG = "\n".join(
    f'[[routes]]\nevents = ["{kind}"]\nchannel = "{channel}"\n'
    for kind, channel in [*CHANNELS.items(), ("missed_call", MISSED)]
)
POSTED_WITHIN = 180.0


def _cursor_count(server: ServerProcess) -> int:
    path = server.database_path
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM cursors").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


async def _record(sims: Simulators, kind: str, n: int) -> str:
    """One item of `kind`; its id: a message's, or a call's telephony session."""
    number = f"+1415556{n:04d}"
    if kind == "sms":
        return await sims.rc_event("incoming_sms", from_number=number, text=f"soak {n}")
    if kind == "fax":
        return await sims.rc_event("incoming_fax", from_number=number, pages=1)
    scenario = "voicemail" if kind == "voicemail" else "missed"
    return await sims.rc_event("call", scenario=scenario, caller=number, ring=1.0, talk=2.0,
                               pace=False)  # fmt: skip


async def test_r20_killed_during_traffic_everything_posted_once_downtime_late(
    soak: bool, figures: dict[str, Any]
) -> None:
    total = 40 if soak else 8
    downtime = 120.0 if soak else 10.0
    sims = Simulators()
    server: ServerProcess | None = None
    try:
        info = await sims.start()
        await sims.slack_add_channels([*CHANNELS.values(), MISSED])
        server = ServerProcess(
            info, public_url=True, extra_env={"BRIDGE_CONFIG": R20_CONFIG, "LOG_LEVEL": "INFO"}
        )
        await server.start()
        running = server

        async def started() -> bool:
            return await asyncio.to_thread(_cursor_count, running) == 2

        await until("the first catch-up", started, 30)
        await asyncio.sleep(2.0)  # every call below begins after the cursors' floor
        before: dict[str, str] = {}  # item -> kind, recorded while the server runs
        during: dict[str, str] = {}  # recorded while it is down
        half = total // 2
        for n in range(half):
            kind = KINDS[n % len(KINDS)]
            before[await _record(sims, kind, n)] = kind
            await asyncio.sleep(0.3)
        await server.kill()  # during traffic: the last items may be in flight
        killed = time.monotonic()
        for n in range(half, total):
            kind = KINDS[n % len(KINDS)]
            during[await _record(sims, kind, n)] = kind
            await asyncio.sleep(downtime / max(1, total - half))
        await asyncio.sleep(max(0.0, downtime - (time.monotonic() - killed)))
        down_for = time.monotonic() - killed
        await server.start()
        restarted = time.monotonic()

        wanted = {**before, **during}
        voicemail_calls = sum(1 for k in wanted.values() if k == "voicemail")

        async def notifications() -> list[dict[str, Any]]:
            # The bridge's own posts (files uploaded into threads carry no metadata).
            return [p for p in await sims.slack_posts() if _payload(p)]

        async def everything() -> list[dict[str, Any]] | None:
            posts = await notifications()
            keys = {_key(p) for p in posts}
            voicemails = sum(1 for p in posts if _kind(p) == "voicemail")
            return posts if set(wanted) <= keys and voicemails >= voicemail_calls else None

        await until("every item posted", everything, POSTED_WITHIN, every=0.5)
        took = time.monotonic() - restarted
        await asyncio.sleep(3.0)  # a duplicate would come now, if at all
        posts = await notifications()
        log = server.log_text()
    finally:
        if server is not None:
            await server.kill()
            await server.close()
        await sims.close()

    per_key = Counter(_key(p) for p in posts)
    voicemails = [p for p in posts if _kind(p) == "voicemail"]
    late_keys = {_key(p) for p in posts if (p.get("metadata") or {}).get("event_payload", {})
                 .get("late")}  # fmt: skip
    lost = [item for item in wanted if per_key[item] == 0]
    doubled = {k: c for k, c in per_key.items() if c > 1}
    not_late = [item for item in during if item not in late_keys]
    figures.update(
        n=total,
        downtime_s=round(down_for, 1),
        recorded_before_kill=len(before),
        recorded_while_down=len(during),
        posts=len(posts),
        lost=len(lost),
        doubled=len(doubled),
        downtime_items_not_marked_late=len(not_late),
        voicemails=len(voicemails),
        posted_within_s=round(took, 1),
        recovered_log_lines=log.count("catch-up recovered"),
    )
    assert not lost, lost
    assert not doubled, doubled
    assert not not_late, not_late
    assert len(voicemails) == voicemail_calls  # one each: their ids are the simulator's


def _payload(post: dict[str, Any]) -> dict[str, Any]:
    return dict((post.get("metadata") or {}).get("event_payload") or {})


def _kind(post: dict[str, Any]) -> str:
    return str((post.get("metadata") or {}).get("event_type", "")).removeprefix("ringcentral_")


def _key(post: dict[str, Any]) -> str:
    """What identifies the recorded item: a message id, or a call's telephony session."""
    return str(_payload(post).get("item", "")).split(":")[0]
