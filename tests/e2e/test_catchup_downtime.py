"""Downtime loses nothing (issue #9, first "Done when"; DESIGN §3.10): `python -m bot serve`
is killed (SIGKILL); meanwhile RingCentral records an SMS, a voicemail, a fax and a missed
call, and no delivery reaches the bridge (the simulator's attempts fail, and it blacklists
the subscription); the bridge is started again: each is posted exactly once, marked late,
and nothing posted before the stop is posted again.

The server runs as a subprocess, as deployed; the simulators run in a child process of
their own (`bot.sim.Simulators`). Every wait has a deadline; every process is ended.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.sim import CHANNEL, ServerProcess, Simulators
from tests.e2e.test_crash_recovery import SUBSCRIBED_WITHIN, until

pytestmark = pytest.mark.slow

BRIDGE_CONFIG = (
    f'[[routes]]\nevents = ["sms", "voicemail", "fax", "missed_call"]\nchannel = "{CHANNEL}"\n'
)
TEXTER = "+16505550199"
CALLER = "+14155550123"
STARTED_WITHIN = 20.0  # for the first catch-up to set its cursors
POSTED_WITHIN = 60.0  # after the restart: the passes, then Slack's pace of 1 a second
SETTLE = 2.0  # seconds to keep watching for a second post


@dataclass
class Down:
    sims: Simulators
    server: ServerProcess

    def cursors(self) -> list[str]:
        path = self.server.database_path
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
                return [row[0] for row in conn.execute("SELECT source FROM cursors")]
        except sqlite3.OperationalError:  # not made yet
            return []

    async def posts(self) -> list[dict[str, Any]]:
        """Every top-level message's metadata payload, in the channel."""
        return [
            (m.get("metadata") or {}).get("event_payload") or {}
            for m in await self.sims.slack_messages(CHANNEL)
        ]

    async def subscribed(self) -> str:
        address = self.server.url + "/ringcentral/webhook"

        async def active() -> str | None:
            for sub in await self.sims.rc_subscriptions():
                if sub["address"] == address and sub["status"] == "Active":
                    return str(sub["id"])
            return None

        return await until("an Active subscription", active, SUBSCRIBED_WITHIN)


@pytest.fixture
async def down() -> AsyncIterator[Down]:
    sims = Simulators()
    server: ServerProcess | None = None
    try:
        info = await sims.start()
        server = ServerProcess(
            info, public_url=True, extra_env={"BRIDGE_CONFIG": BRIDGE_CONFIG, "LOG_LEVEL": "INFO"}
        )
        await server.start()
        yield Down(sims, server)
    finally:
        if server is not None:
            await server.kill()
            await server.close()
        await sims.close()


async def test_what_happened_while_the_bridge_was_down_is_posted_once_late(down: Down) -> None:
    first = await down.subscribed()

    async def cursors_set() -> list[str] | None:
        found = await asyncio.to_thread(down.cursors)
        return found if len(found) == 2 else None  # messages and calls of the one extension

    await until("the first catch-up's cursors", cursors_set, STARTED_WITHIN)
    before = await down.sims.rc_incoming_sms(TEXTER, "before the stop")

    async def live_posted() -> bool:
        return [p.get("item") for p in await down.posts()] == [before["id"]]

    await until("the live SMS in Slack", live_posted, POSTED_WITHIN)
    await down.server.kill()

    # Two seconds on: the calls below (each began a second before it was recorded) are
    # after the cursors' floor, so they are news, not history.
    await asyncio.sleep(2.0)
    lost = {
        "sms": await down.sims.rc_event(
            "incoming_sms", from_number="+14155550177", text="are you open today?"
        ),
        "voicemail": await down.sims.rc_event(
            "incoming_voicemail", from_number=CALLER, duration=1, transcript="call me back"
        ),
        "fax": await down.sims.rc_event("incoming_fax", from_number=CALLER, pages=1),
        "missed_call": await down.sims.rc_event(
            "call", scenario="missed", caller=CALLER, ring=1.0, pace=False
        ),
    }
    subs = {s["id"]: s["status"] for s in await down.sims.rc_subscriptions()}
    assert subs[first] == "Blacklisted", subs  # the attempts failed: none reached the bridge

    await down.server.start()

    async def all_posted() -> list[dict[str, Any]] | None:
        payloads = await down.posts()
        found = {str(p.get("item", "")).split(":")[0] for p in payloads}
        return payloads if set(lost.values()) <= found else None

    await until("every lost item in Slack", all_posted, POSTED_WITHIN)
    await asyncio.sleep(SETTLE)  # a duplicate would come now, if at all
    payloads = await down.posts()

    per_item = Counter(str(p["item"]).split(":")[0] for p in payloads)
    assert all(count == 1 for count in per_item.values()), per_item
    assert per_item[before["id"]] == 1  # posted before the stop, not again
    late = [p for p in payloads if p.get("late") is True]
    late_items = {str(p["item"]).split(":")[0] for p in late}
    assert set(lost.values()) <= late_items
    # The voicemail's own call went to voicemail: a missed call as well (DESIGN §3.7).
    assert len(late) == len(lost) + 1, late
    assert not [p for p in payloads if p.get("late") is not True and p["item"] != before["id"]]
    subs = {s["id"]: s["status"] for s in await down.sims.rc_subscriptions()}
    assert first not in subs and list(subs.values()) == ["Active"], subs  # replaced
    log = down.server.log_text()
    assert "catch-up recovered" in log
