"""The daily digest in the demo (DESIGN §3.12), on a shortened clock: both channels' routes
have a `digest` a couple of minutes after the demo starts (the account's time zone), and
rather than waiting for it the demo moves the bridge's clock on to that time.

Only the bridge's clock moves (its dispatcher, leases, pace and the digest's own day); the
simulators keep real time, and so do the connections' timers, as in the tests. A jump of
a few minutes stays well inside every token's and subscription's life.
"""

from __future__ import annotations

import asyncio
import time as wall
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.clock import SystemClock
from bot.config import Route
from bot.server import BRIDGE
from bot.sim import RingCentralSimulator

from ._terminal import INDENT, terminal

if TYPE_CHECKING:
    from ._running import Demo

DIGEST_LEAD = timedelta(minutes=2)  # at least this far ahead: the replay comes first
POSTED_WITHIN = 30.0  # real seconds (an upper bound) for the digests to reach Slack once due
POLL = 0.1


class ShiftedClock(SystemClock):
    """The real clock, moved on by every `skip` (the demo's fast-forward)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return wall.time() + self.offset

    def monotonic(self) -> float:
        return wall.monotonic() + self.offset

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - self.monotonic()))

    def skip(self, seconds: float) -> None:
        self.offset += max(0.0, seconds)


def account_zone(rc: RingCentralSimulator) -> ZoneInfo:
    """The simulated account's time zone, as the bridge reads it (regionalSettings)."""
    settings = rc.world.extension_info(rc.extension_id).get("regionalSettings") or {}
    return ZoneInfo(str((settings.get("timezone") or {}).get("name") or "UTC"))


def with_digest(routes: Sequence[Route], zone: ZoneInfo, now: float) -> tuple[list[Route], time]:
    """`routes` with a `digest` at the first whole minute at least DIGEST_LEAD from `now`."""
    soon = datetime.fromtimestamp(now, UTC).astimezone(zone) + DIGEST_LEAD
    at = (soon.replace(second=0, microsecond=0) + timedelta(minutes=1)).time()
    return [route.model_copy(update={"digest": at}) for route in routes], at


async def show_digest(demo: Demo, out: Callable[[str], None]) -> None:
    """Fast-forward the bridge to its digest time, wait for each channel's digest (real
    time, bounded), print them."""
    routes = [r for r in demo.app[BRIDGE].routes if r.digest is not None and r.channel]
    at = min(r.digest for r in routes if r.digest is not None)
    channels = {
        r.channel: demo.slack.workspace.channels[r.channel].name for r in routes if r.channel
    }
    zone = account_zone(demo.rc)
    today = datetime.fromtimestamp(demo.clock.now(), UTC).astimezone(zone)
    moment = datetime.combine(today.date(), at, tzinfo=zone)
    if moment < today:  # the digest falls after midnight
        moment += timedelta(days=1)
    out(f"Fast-forward the bridge's clock to {at:%H:%M} ({zone.key}), the channels' digest time…")
    demo.clock.skip(moment.timestamp() - demo.clock.now())
    deadline = wall.monotonic() + POSTED_WITHIN
    found: dict[str, dict[str, Any]] = {}
    while len(found) < len(channels) and wall.monotonic() < deadline:
        for channel in channels:
            digests = [m for m in demo.slack.messages(channel) if _is_digest(m)]
            if digests:
                found[channel] = digests[0]
        await asyncio.sleep(POLL)
    users = {u.id: u.display_name or u.name for u in demo.slack.workspace.users.values()}
    for channel, name in channels.items():
        out("")
        if channel not in found:
            out(f"No digest in #{name} after {POSTED_WITHIN:.0f} s.")
            continue
        out(f"#{name}: the daily digest")
        out("\n".join(INDENT + line for line in terminal(found[channel], users).splitlines()))
    out("")


def _is_digest(message: dict[str, Any]) -> bool:
    metadata = message.get("metadata")
    return isinstance(metadata, dict) and metadata.get("event_type") == "ringbridge_digest"
