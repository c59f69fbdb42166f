"""The team's hours (DESIGN §3.12): outside `hours`, a route with an `after_hours_channel`
posts there; `hours = "ringcentral"` follows the account's business hours, read from
RingCentral at start. The simulated account's zone is US/Pacific; the FakeClock starts at
2026-01-01T00:00Z, a Wednesday 16:00 there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import BridgeConfig, ConfigError, Route
from bot.sim import RingCentralSimulator
from tests.bridge import CALLS, CHANNEL, Bridge, running_bridge
from tests.databases import fresh_database

CALLER = "+14155550123"
AFTER_HOURS = CHANNEL


def _config(hours: str) -> BridgeConfig:
    return BridgeConfig(
        routes=[
            Route.model_validate(
                {
                    "events": ["missed_call"],
                    "channel": CALLS,
                    "hours": hours,
                    "after_hours_channel": AFTER_HOURS,
                }
            )
        ]
    )


async def _missed_call(bridge: Bridge) -> None:
    await bridge.rc.call("missed", caller=CALLER, extension_id=bridge.rc.extension_id)
    await bridge.dispatch()


def _kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m["metadata"]["event_type"]) for m in messages]


async def test_a_missed_call_outside_the_hours_lands_in_the_after_hours_channel(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    database = await fresh_database(tmp_path)
    async with running_bridge(
        rc_sim, clock, _config("Mon-Fri 09:00-17:00"), database_url=database
    ) as bridge:
        await bridge.subscribe()
        await _missed_call(bridge)  # Wednesday 16:00: in
        assert _kinds(bridge.channel(CALLS)) == ["ringcentral_missed_call"]
        assert bridge.channel(AFTER_HOURS) == []

        clock.advance(3600)  # 17:00 and after: out (the end is not included)
        await _missed_call(bridge)
        assert len(bridge.channel(CALLS)) == 1
        assert _kinds(bridge.channel(AFTER_HOURS)) == ["ringcentral_missed_call"]


async def test_a_range_across_midnight_belongs_to_the_day_it_starts(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    database = await fresh_database(tmp_path)
    # Wednesday 22:00 to Thursday 02:00; the clock moves to Thursday 01:00.
    clock.advance(9 * 3600)
    async with running_bridge(
        rc_sim, clock, _config("Wed 22:00-02:00"), database_url=database
    ) as bridge:
        await bridge.subscribe()
        await _missed_call(bridge)
        assert _kinds(bridge.channel(CALLS)) == ["ringcentral_missed_call"]
        assert bridge.channel(AFTER_HOURS) == []


async def test_ringcentral_hours_follow_the_accounts_business_hours(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    rc_sim.business_hours = {"wednesday": [("09:00", "15:30")]}  # closed at 16:00
    database = await fresh_database(tmp_path)
    async with running_bridge(
        rc_sim, clock, _config("ringcentral"), database_url=database
    ) as bridge:
        await bridge.subscribe()
        await _missed_call(bridge)
        assert bridge.channel(CALLS) == []
        assert _kinds(bridge.channel(AFTER_HOURS)) == ["ringcentral_missed_call"]
    assert rc_sim.requests_to(r"/business-hours$", "GET")


async def test_ringcentral_hours_refused_stop_the_start_with_one_clear_line(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    rc_sim.set_admin(rc_sim.extension_id, False)  # an ordinary user reads no company rules
    database = await fresh_database(tmp_path)
    with pytest.raises(ConfigError, match="ReadCompanyAnsweringRules") as raised:
        async with running_bridge(rc_sim, clock, _config("ringcentral"), database_url=database):
            pass
    assert "\n" not in str(raised.value)
