"""The daily digest (DESIGN §3.12): one message per channel at the earliest `digest` of its
routes (the account's time zone), summing up what was posted there since the previous
digest; once per day whatever the processes and restarts; a bridge that starts within the
hour after the time sends it late, a later one skips the day.

The simulated account's zone is US/Pacific; the FakeClock starts at 2026-01-01T00:00Z, a
Wednesday 16:00 there. The digests here are at 17:30 there: 01:30Z.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import FakeClock
from bot.config import BridgeConfig, Route
from bot.sim import RingCentralSimulator, check_blocks
from bot.slack.render import MARK_HANDLED_ACTION, TAKE_IT_ACTION
from tests.bridge import CALLS, TEXTS, USER, Bridge, running_bridge
from tests.databases import fresh_database
from tests.integration.test_notifications import readable
from tests.integration.test_workflow_take_it import click

CALLER = "+14155550123"
OTHER_CALLER = "+14155550177"
TEXTER = "+14155550188"
BOB = "U0BOB"
DIGEST_AT = datetime(2026, 1, 1, 1, 30, tzinfo=UTC)  # 17:30 US/Pacific, the first day


def _config(*extra: Route) -> BridgeConfig:
    return BridgeConfig(
        routes=[
            Route.model_validate(
                {"events": ["missed_call", "voicemail"], "channel": CALLS, "digest": "17:30"}
            ),
            Route.model_validate({"events": ["sms"], "channel": CALLS, "digest": "18:00"}),
            *extra,
        ]
    )


@asynccontextmanager
async def _bridge(
    rc_sim: RingCentralSimulator, clock: FakeClock, database: str, config: BridgeConfig
) -> AsyncIterator[Bridge]:
    async with running_bridge(rc_sim, clock, config, database_url=database) as bridge:
        await bridge.subscribe()
        bridge.slack.add_user(BOB, "bob", real_name="Bob Example")
        yield bridge


def _to(clock: FakeClock, moment: datetime) -> None:
    clock.advance(moment.timestamp() - clock.now())


def digests(bridge: Bridge, channel: str = CALLS) -> list[dict[str, Any]]:
    return [
        m for m in bridge.channel(channel) if m["metadata"]["event_type"] == "ringbridge_digest"
    ]


def _of(bridge: Bridge, kind: str, channel: str = CALLS) -> list[dict[str, Any]]:
    return [
        m for m in bridge.channel(channel) if m["metadata"]["event_type"] == f"ringcentral_{kind}"
    ]


async def _permalink(bridge: Bridge, channel: str, ts: str) -> str:
    """What Slack itself gives as the message's link."""
    slack = AsyncWebClient(token=bridge.slack.tokens[0], base_url=bridge.slack.api_url)
    answer = await slack.chat_getPermalink(channel=channel, message_ts=ts)
    return str(answer["permalink"])


async def test_the_digest_comes_at_its_time_once_with_the_counts_since_the_last(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    database = await fresh_database(tmp_path)
    async with _bridge(rc_sim, clock, database, _config()) as bridge:
        ext = bridge.rc.extension_id
        await bridge.rc.call("missed", caller=CALLER, extension_id=ext, from_name="<!channel>")
        await bridge.rc.call("missed", caller=OTHER_CALLER, extension_id=ext)
        await bridge.rc.call("voicemail", caller=CALLER, extension_id=ext)
        await bridge.rc.incoming_sms(ext, TEXTER, "are you open?")
        await bridge.rc.incoming_sms(ext, TEXTER, "hello?")
        await bridge.rc.incoming_sms(ext, OTHER_CALLER, "call me")
        await bridge.dispatch()
        first, second, went_to_voicemail = _of(bridge, "missed_call")
        (voicemail,) = _of(bridge, "voicemail")
        texter, other = _of(bridge, "sms")
        await click(bridge, TAKE_IT_ACTION, USER, ts=first["ts"])
        await click(bridge, MARK_HANDLED_ACTION, BOB, ts=second["ts"])
        await click(bridge, TAKE_IT_ACTION, BOB, ts=texter["ts"])
        await click(bridge, MARK_HANDLED_ACTION, BOB, ts=other["ts"])
        await bridge.dispatch()

        _to(clock, DIGEST_AT - timedelta(seconds=1))  # not before its time
        await bridge.dispatch(horizon=0)
        assert digests(bridge) == []
        clock.advance(1)
        await bridge.dispatch()

        (digest,) = digests(bridge)
        assert check_blocks(digest["blocks"]) == []
        shown = readable(digest)
        assert "*Missed calls:* 3 (2 still open, 1 handled)" in shown
        assert "*Voicemails:* 1 (1 still open)" in shown
        assert "*Texts:* 2 conversations, 3 messages (1 still open)" in shown
        assert f"<@{USER}>: 1 missed call" in shown
        assert f"<@{BOB}>: 1 conversation" in shown
        assert "*Still open (4):*" in shown
        for message in (first, went_to_voicemail, voicemail, texter):
            link = await _permalink(bridge, CALLS, message["ts"])
            assert f"<{link}|" in shown
        assert await _permalink(bridge, CALLS, second["ts"]) not in shown  # handled
        assert "<!channel>" not in shown  # a caller's name stays text
        assert "&lt;!channel&gt;" in shown
        assert digest["metadata"]["event_payload"] == {"day": "2025-12-31"}

        # Home's counts of the day are of notifications: the digest is none.
        await bridge.slack.open_home(bridge.events_url, USER)
        await bridge.settle()
        home = bridge.slack.home_view(USER)
        assert home is not None
        assert "*Today, for the team:* 3 missed calls" in str(home["blocks"])
        assert "digest" not in str(home["blocks"])

        # Once: more passes in the hour after add nothing.
        clock.advance(600)
        await bridge.dispatch()
        clock.advance(3000)
        await bridge.dispatch()
        assert len(digests(bridge)) == 1

        # The next day counts only what came since.
        await bridge.rc.call("missed", caller=OTHER_CALLER, extension_id=ext)
        await bridge.dispatch()
        _to(clock, DIGEST_AT + timedelta(days=1))
        await bridge.subscribe()
        await bridge.dispatch()
        _, later = digests(bridge)
        shown = readable(later)
        assert "*Missed calls:* 1 (1 still open, 0 handled)" in shown
        assert "*Voicemails:* 0 (0 still open)" in shown
        assert "*Texts:* 0 conversations, 0 messages (0 still open)" in shown
        assert "Who took what" not in shown
        assert later["metadata"]["event_payload"] == {"day": "2026-01-01"}


async def test_two_bridges_on_one_database_and_restarts_never_double_it(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    database = await fresh_database(tmp_path)
    async with (
        _bridge(rc_sim, clock, database, _config()) as one,
        _bridge(rc_sim, clock, database, _config()) as two,
    ):
        await one.rc.call("missed", caller=CALLER, extension_id=one.rc.extension_id)
        await one.dispatch()
        _to(clock, DIGEST_AT)
        # Both look at the same moment, side by side; then each posts what it holds.
        await asyncio.gather(
            one.notifications.dispatcher.step(), two.notifications.dispatcher.step()
        )
        await asyncio.gather(one.dispatch(), two.dispatch())
        made = digests(one) + digests(two)
        assert len(made) == 1
        assert "*Missed calls:* 1 (1 still open, 0 handled)" in readable(made[0])

    # A restart within the hour after finds it made.
    clock.advance(1200)
    async with _bridge(rc_sim, clock, database, _config()) as three:
        await three.dispatch()
        assert digests(three) == []


async def test_a_digest_composed_before_a_crash_is_posted_once_after_the_restart(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    database = await fresh_database(tmp_path)
    async with _bridge(rc_sim, clock, database, _config()) as before:
        await before.rc.call("missed", caller=CALLER, extension_id=before.rc.extension_id)
        await before.dispatch()
        _to(clock, DIGEST_AT)
        digester = before.notifications.dispatcher.digests
        assert digester is not None
        assert await digester.run_once() == 1  # composed; the process ends before posting
        assert digests(before) == []
    clock.advance(60)
    async with _bridge(rc_sim, clock, database, _config()) as after:
        await after.dispatch()
        (digest,) = digests(after)
        assert "*Missed calls:* 1 (1 still open, 0 handled)" in readable(digest)


@pytest.mark.parametrize(
    ("started", "sent"), [(timedelta(minutes=59), True), (timedelta(minutes=61), False)]
)
async def test_a_bridge_started_after_the_time_sends_it_within_the_hour_else_skips_the_day(
    rc_sim: RingCentralSimulator,
    clock: FakeClock,
    tmp_path: Path,
    started: timedelta,
    sent: bool,
) -> None:
    database = await fresh_database(tmp_path)
    _to(clock, DIGEST_AT + started)
    async with _bridge(rc_sim, clock, database, _config()) as bridge:
        await bridge.dispatch()
        assert len(digests(bridge)) == (1 if sent else 0)

        # The next day's comes either way, at its time.
        _to(clock, DIGEST_AT + timedelta(days=1))
        await bridge.subscribe()
        await bridge.dispatch()
        assert len(digests(bridge)) == (2 if sent else 1)
        assert digests(bridge)[-1]["metadata"]["event_payload"] == {"day": "2026-01-01"}


async def test_the_earliest_digest_of_a_channels_routes_wins_and_each_channel_has_its_own(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    database = await fresh_database(tmp_path)
    texts = Route.model_validate({"events": ["sms"], "channel": TEXTS, "digest": "18:00"})
    async with _bridge(rc_sim, clock, database, _config(texts)) as bridge:
        await bridge.rc.incoming_sms(bridge.rc.extension_id, TEXTER, "are you open?")
        await bridge.dispatch()

        _to(clock, DIGEST_AT)  # 17:30: the calls channel's routes say 17:30 and 18:00
        await bridge.dispatch()
        (calls,) = digests(bridge, CALLS)
        assert "*Texts:* 1 conversation, 1 message (1 still open)" in readable(calls)
        assert digests(bridge, TEXTS) == []

        _to(clock, DIGEST_AT + timedelta(minutes=30))  # 18:00
        await bridge.dispatch()
        assert len(digests(bridge, CALLS)) == 1
        (own,) = digests(bridge, TEXTS)
        assert "*Texts:* 1 conversation, 1 message (1 still open)" in readable(own)


async def test_on_the_day_dst_begins_the_digest_keeps_its_local_time(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    # US/Pacific moves to PDT on Sunday 2026-03-08: 17:30 is 01:30Z the day before and
    # 00:30Z after (a fixed offset, RingCentral's `bias`, would say 01:30Z both days).
    _to(clock, datetime(2026, 3, 7, 20, 0, tzinfo=UTC))
    database = await fresh_database(tmp_path)
    async with _bridge(rc_sim, clock, database, _config()) as bridge:
        _to(clock, datetime(2026, 3, 8, 1, 30, tzinfo=UTC))
        await bridge.dispatch()
        assert [d["metadata"]["event_payload"]["day"] for d in digests(bridge)] == ["2026-03-07"]

        _to(clock, datetime(2026, 3, 9, 0, 29, 59, tzinfo=UTC))
        await bridge.dispatch(horizon=0)
        assert len(digests(bridge)) == 1
        clock.advance(1)
        await bridge.dispatch()
        days = [d["metadata"]["event_payload"]["day"] for d in digests(bridge)]
        assert days == ["2026-03-07", "2026-03-08"]


async def test_a_digest_slack_took_but_whose_answer_was_lost_is_not_posted_again(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    database = await fresh_database(tmp_path)
    async with _bridge(rc_sim, clock, database, _config()) as bridge:
        _to(clock, DIGEST_AT)
        bridge.slack.fail("chat.postMessage", status=500, store=True, channel=CALLS)
        await bridge.dispatch()
        (digest,) = digests(bridge)
        assert len(bridge.slack.calls("chat.postMessage")) == 1  # found by its metadata
        assert "Nothing was posted here since the last digest." in readable(digest)
