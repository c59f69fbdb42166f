"""The admin channel (DESIGN §3.10, RELIABILITY R7) through the real server between both
simulators: one Slack message per problem, updated rather than repeated, marked resolved
when the next check passes; the problems the bridge finds (a refused JWT, a blacklisted
subscription, disabled filters, dead letters and the channel they died in, a missing
scope, what a catch-up recovered) and `/healthz` meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.bridge.admin import AdminDesk
from bot.clock import FakeClock
from bot.config import AdminConfig, BridgeConfig, RingCentralConfig, Route
from bot.ringcentral import AuthError
from bot.server import ADMIN, METRICS
from bot.sim import RingCentralSimulator
from bot.store.admin import AdminReports
from bot.store.deadletters import DeadLetters
from tests.bridge import ROUTES, TEXTS, Bridge, listening, running_bridge
from tests.conftest import fresh_database

ADMIN_CHANNEL = "C0ADMIN"
CALLER = "+14155550123"
SECRET_TEXT = "my card number is 4111 1111 1111 1111"


def with_admin(config: BridgeConfig = ROUTES) -> BridgeConfig:
    return config.model_copy(update={"admin": AdminConfig(channel=ADMIN_CHANNEL)})


@pytest.fixture
async def admin_bridge(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Bridge]:
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, with_admin(), database_url=url) as running:
        running.slack.add_channel(ADMIN_CHANNEL, "ringbridge-admin", member=True)
        await running.subscribe()
        yield running


def desk(bridge: Bridge) -> AdminDesk:
    return bridge.server.app[ADMIN]


async def look(bridge: Bridge) -> None:
    """One look of the desk, after the reports observers handed it."""
    await desk(bridge).settle()
    await desk(bridge).run_once()


def admin_messages(bridge: Bridge) -> list[dict[str, Any]]:
    return bridge.slack.messages(ADMIN_CHANNEL)


def text_of(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks")) + message.get("text", "")


async def health(bridge: Bridge) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(str(bridge.server.make_url("/healthz"))) as resp,
    ):
        return resp.status, await resp.json()


def grants(bridge: Bridge, grant: str, outcome: str = "invalid_grant") -> float:
    """Token requests of `grant` RingCentral answered with `outcome`."""
    registry = bridge.server.app[METRICS].registry
    labels = {"grant": grant, "outcome": outcome}
    return registry.get_sample_value("ringbridge_ringcentral_token_grants_total", labels) or 0


# -- R7: the JWT grant refused ------------------------------------------------------------


async def test_a_refused_jwt_is_one_message_no_sign_in_loop_and_resolved_by_the_next_try(
    admin_bridge: Bridge,
) -> None:
    bridge = admin_bridge
    rc = bridge.rc
    rc.revoke_jwt()  # in the developer console

    await bridge.command("/sms", "list")
    await look(bridge)
    # A refused refresh led to one JWT login, which was refused: one message.
    assert (grants(bridge, "refresh_token"), grants(bridge, "jwt")) == (1, 1)
    (message,) = admin_messages(bridge)
    assert "refused the bridge's sign-in" in text_of(message)
    assert "needs_reauth" in text_of(message) and rc.jwt not in text_of(message)

    # Meanwhile deliveries are still stored, /healthz says degraded (never 503), and no
    # second JWT attempt is made within 5 minutes, however much is asked.
    await rc.incoming_sms(rc.extension_id, CALLER, "still stored")
    for _ in range(5):
        await bridge.command("/sms", "list")
        with contextlib.suppress(AuthError):  # as the dispatcher's loop does: next step
            await bridge.notifications.dispatcher.step()
        bridge.clock.advance(50)
        await look(bridge)
    status, body = await health(bridge)
    assert (status, body["status"], body["ringcentral_auth"]) == (200, "degraded", "needs_reauth")
    assert body["queue_depth"] + body["posts_pending"] == 1  # stored, waiting
    assert body["admin_problems"] == 1
    assert grants(bridge, "jwt") == 1
    assert len(admin_messages(bridge)) == 1

    # A new JWT: the next attempt (5 minutes after the last) passes, and says so.
    logins = grants(bridge, "jwt", "ok")
    rc.restore_jwt()
    bridge.clock.advance(60)
    await look(bridge)
    assert (grants(bridge, "jwt"), grants(bridge, "jwt", "ok")) == (1, logins + 1)
    (message,) = admin_messages(bridge)
    assert "Resolved" in text_of(message) and "works again" in text_of(message)
    assert len(bridge.slack.calls("chat.update")) == 1
    await bridge.dispatch()
    assert bridge.channel(TEXTS)[0]["text"].endswith("still stored")
    status, body = await health(bridge)
    assert (status, body["status"], body["admin_problems"]) == (200, "ok", 0)


async def test_reports_are_kept_when_slack_fails_and_shown_once_it_answers(
    admin_bridge: Bridge,
) -> None:
    bridge = admin_bridge
    bridge.slack.fail("chat.postMessage", status=500, channel=ADMIN_CHANNEL, times=2)
    await desk(bridge).problem("test", "A test problem", "with <!channel> in it")
    await look(bridge)
    assert admin_messages(bridge) == []
    for _ in range(3):
        bridge.clock.advance(30)
        await look(bridge)
    (message,) = admin_messages(bridge)
    assert "&lt;!channel&gt;" in text_of(message) and "<!channel>" not in text_of(message)


async def test_a_restart_updates_the_same_message(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, with_admin(), database_url=url) as first:
        first.slack.add_channel(ADMIN_CHANNEL, "ringbridge-admin", member=True)
        await desk(first).problem("test", "A problem", "seen by the first process")
        await look(first)
        (posted,) = admin_messages(first)
        ts = posted["ts"]
        # The same database, as a restarted or second process sees it.
        await desk(first).problem("test", "A problem", "seen by the first process")
        await look(first)
        assert len(first.slack.calls("chat.postMessage")) == 1  # no repeat of the same news
    async with running_bridge(rc_sim, clock, with_admin(), database_url=url) as second:
        second.slack.add_channel(ADMIN_CHANNEL, "ringbridge-admin", member=True)
        second.slack.workspace.channels[ADMIN_CHANNEL].messages.append(dict(posted))
        await desk(second).resolved("test", "gone")
        await look(second)
        assert second.slack.calls("chat.postMessage") == []
        (update,) = second.slack.calls("chat.update")
        assert update.params["ts"] == ts


# -- the subscription ---------------------------------------------------------------------


async def test_a_blacklisted_subscription_is_reported_with_what_was_done_then_resolved(
    admin_bridge: Bridge,
) -> None:
    bridge = admin_bridge
    (old,) = bridge.rc.subscriptions
    bridge.rc.blacklist(old, "the test: deliveries failing")
    await bridge.notifications.subscriptions.sync()
    await look(bridge)
    (message,) = admin_messages(bridge)
    text = text_of(message)
    assert "stopped delivering" in text and old in text and "created" in text

    await bridge.notifications.subscriptions.sync()  # the next round: all is well
    await look(bridge)
    (message,) = admin_messages(bridge)
    assert "Resolved" in text_of(message)


async def test_disabled_filters_are_kept_reported_once_and_not_recreated_every_round(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    rc_sim.service_user_admin = False  # its permissions reach its own extension only
    config = with_admin(
        ROUTES.model_copy(update={"ringcentral": RingCentralConfig(extensions=["101", "102"])})
    )
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, config, database_url=url) as bridge:
        bridge.slack.add_channel(ADMIN_CHANNEL, "ringbridge-admin", member=True)
        manager = bridge.notifications.subscriptions
        await manager.sync()
        (sub,) = rc_sim.subscriptions.values()
        assert sub.disabled_filters  # RingCentral disabled ext. 102's (SUB-405)
        for _ in range(4):  # an hour of rounds
            clock.advance(15 * 60)
            lines = await manager.sync()
            assert not any("deleted" in line or "created" in line for line in lines), lines
        assert list(rc_sim.subscriptions) == [sub.id]
        await look(bridge)
        (message,) = admin_messages(bridge)
        assert "does not deliver" in text_of(message) and "SUB-405" in text_of(message)

        clock.advance(24 * 3600)  # once a day the disabled filters are tried again
        lines = await manager.sync()
        assert any("trying the disabled filters again" in line for line in lines)
        assert sub.id not in rc_sim.subscriptions and len(rc_sim.subscriptions) == 1
        await look(bridge)
        assert len(admin_messages(bridge)) == 1


# -- dead letters, channels, scopes, catch-up -----------------------------------------------


async def test_dead_letters_and_the_channel_are_reported_without_the_text_then_resolved(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    config = with_admin(BridgeConfig(routes=[Route(events=["sms"], channel="C0GONE")]))
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, config, database_url=url) as bridge:
        bridge.slack.add_channel(ADMIN_CHANNEL, "ringbridge-admin", member=True)
        await bridge.subscribe()
        await rc_sim.incoming_sms(rc_sim.extension_id, CALLER, SECRET_TEXT)
        await bridge.dispatch()
        await look(bridge)
        messages = admin_messages(bridge)
        texts = [text_of(m) for m in messages]
        assert len(messages) == 2
        assert any("1 item could not be delivered" in t and "channel_not_found" in t
                   for t in texts)  # fmt: skip
        assert any("cannot post to C0GONE" in t for t in texts)
        assert not any("4111" in t for t in texts)

        # Fixed (the channel exists now) and replayed: both problems resolved.
        bridge.slack.add_channel("C0GONE", "gone", member=True)
        letters = DeadLetters(bridge.engine)
        replayed = await letters.replay(
            await letters.all_ids(), now=datetime.fromtimestamp(bridge.clock.now(), UTC)
        )
        assert replayed
        await bridge.dispatch()
        bridge.clock.advance(120)
        await look(bridge)
        assert len(bridge.channel("C0GONE")) == 1
        assert all("Resolved" in text_of(m) for m in admin_messages(bridge))
        assert len(admin_messages(bridge)) == 2


async def test_a_missing_scope_is_reported_with_the_feature_it_turns_off(
    admin_bridge: Bridge,
) -> None:
    bridge = admin_bridge
    bridge.slack.remove_scopes("reactions:write")
    await desk(bridge).check_scopes()
    await look(bridge)
    (message,) = admin_messages(bridge)
    assert "reactions:write" in text_of(message) and "receipts" in text_of(message)
    reports = await AdminReports(bridge.engine).all(open_only=True)
    assert [r.key for r in reports] == ["scope:reactions:write"]


async def test_what_a_catch_up_recovered_is_told(admin_bridge: Bridge) -> None:
    bridge = admin_bridge
    catchup = bridge.notifications.catchup
    leadership = catchup.leadership  # PostgreSQL: passes run in the leading process only
    assert leadership is None or await leadership.check()
    try:
        await catchup.catch_up("start")  # cursors set to now
        (sub,) = bridge.rc.subscriptions
        bridge.rc.blacklist(sub)
        bridge.clock.advance(120)
        await bridge.rc.incoming_sms(bridge.rc.extension_id, CALLER, SECRET_TEXT)
        await catchup.catch_up("the test")
    finally:
        if leadership is not None:
            await leadership.release()
    await look(bridge)
    (message,) = admin_messages(bridge)
    assert "Catch-up recovered 1 item " in text_of(message) and "1 sms" in text_of(message)
    assert "4111" not in text_of(message)


async def test_socket_mode_link_disabled_is_told_in_the_admin_channel(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    url = await fresh_database(tmp_path)
    async with running_bridge(
        rc_sim, clock, with_admin(), socket_mode=True, database_url=url
    ) as bridge:
        bridge.slack.add_channel(ADMIN_CHANNEL, "ringbridge-admin", member=True)
        await bridge.slack.socket.disconnect("link_disabled")
        reports = AdminReports(bridge.engine)
        for _ in range(500):
            if (report := await reports.get("slack_socket")) is not None:
                break
            await asyncio.sleep(0.01)
        assert report is not None and report.is_open
        await look(bridge)
        (message,) = admin_messages(bridge)
        assert "Socket Mode" in text_of(message) and "link_disabled" in text_of(message)


async def test_the_websocket_subscription_s_disabled_filters_are_told_too(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    rc_sim.service_user_admin = False
    config = with_admin(
        ROUTES.model_copy(update={"ringcentral": RingCentralConfig(extensions=["101", "102"])})
    )
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, config, public_url=None, database_url=url) as bridge:
        bridge.slack.add_channel(ADMIN_CHANNEL, "ringbridge-admin", member=True)
        async with listening(bridge):
            pass
        await look(bridge)
        (message,) = admin_messages(bridge)
        assert "does not deliver" in text_of(message) and "SUB-405" in text_of(message)


async def test_an_admin_channel_named_by_name_is_looked_up_and_retention_runs_in_the_desk(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> None:
    config = ROUTES.model_copy(update={"admin": AdminConfig(channel="#ringbridge-admin")})
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, config, database_url=url) as bridge:
        bridge.slack.add_channel(ADMIN_CHANNEL, "ringbridge-admin", member=True)
        await desk(bridge).problem("test", "A problem", "told by name")
        await look(bridge)
        (message,) = admin_messages(bridge)
        assert "told by name" in text_of(message)

        retention = bridge.notifications.retention
        assert retention is not None and desk(bridge).retention is retention
        ran: list[object] = []
        original = retention.run_once

        async def counted() -> object:
            ran.append(await original())
            return ran[-1]

        retention.run_once = counted  # type: ignore[method-assign]
        await look(bridge)
        assert ran == []  # not in the first minute
        clock.advance(61)
        await look(bridge)
        assert len(ran) == 1
