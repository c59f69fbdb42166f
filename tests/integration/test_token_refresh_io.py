"""No network I/O inside the token store's transaction (issue #9, item 5).

The real server on SQLite, whose RingCentral session is being renewed while RingCentral's
token endpoint is slow: a webhook delivery must still be stored and answered 200 in its
normal time. Before, the token store held SQLite's write lock across the token request,
and the delivery waited for it (or failed after the busy timeout).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.server import RINGCENTRAL
from bot.sim import RingCentralSimulator
from bot.store.schema import Delivery
from tests.bridge import running_bridge

SLOW = 3.0  # seconds RingCentral's token endpoint takes to answer
NORMAL = 1.0  # a delivery is stored and answered well within this (it takes milliseconds)


async def test_a_delivery_is_stored_and_answered_while_a_token_request_is_in_flight(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/bridge.db"
    async with running_bridge(rc_sim, clock, database_url=url) as bridge:
        await bridge.subscribe()
        rc = bridge.server.app[RINGCENTRAL]
        await rc.auth.access_token()
        clock.advance(3600)  # the session is stale: the next call renews it
        rc_sim.auth_latency = SLOW
        renewing = asyncio.create_task(rc.auth.access_token())
        await asyncio.sleep(0.5)  # real time: the token request is out, RingCentral is slow

        started = time.monotonic()
        await rc_sim.incoming_sms(rc_sim.extension_id, "+14155550123", "while renewing")
        took = time.monotonic() - started

        assert took < NORMAL, f"the delivery waited {took:.2f} s for the token request"
        assert {status for _, _, status in rc_sim.deliveries} == {200}
        assert not renewing.done(), "the token request should still be in flight"
        async with bridge.engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(Delivery)) >= 1
        await renewing
        token_requests = [r for r in rc_sim.requests if r.path == "/restapi/oauth/token"]
        assert [(r.form or {}).get("grant_type") for r in token_requests][-1] == "refresh_token"
