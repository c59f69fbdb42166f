"""Keep-alive (issue 10): the bridge calls Slack and RingCentral over a few long-lived
connections, not a new TCP connection per call. Both simulators count the connections
their requests came over (`connections.opened`); the first test shows the count tells a
client that reconnects for every call from one that does not."""

from __future__ import annotations

import aiohttp

from bot.bridge.dispatcher import READS
from bot.sim import SlackSimulator
from tests.bridge import TEXTS, Bridge

TEXTS_SENT = 12


async def test_the_simulators_count_a_new_connection_per_call_apart_from_kept_ones() -> None:
    slack = SlackSimulator()
    async with slack.serve():
        for _ in range(5):  # a new session each time: a new connection each time
            async with aiohttp.ClientSession() as once:
                await (await once.post(f"{slack.api_url}api.test")).read()
        assert slack.connections.opened == 5

        async with aiohttp.ClientSession() as kept:
            for _ in range(5):
                await (await kept.post(f"{slack.api_url}api.test")).read()
        assert slack.connections.opened == 6
        assert slack.connections.requests == 10


async def test_a_dozen_texts_reach_slack_over_a_few_kept_connections(bridge: Bridge) -> None:
    live = bridge
    await live.subscribe()
    slack_before = live.slack.connections.opened
    rc_before = live.rc.connections.opened
    rc_requests_before = len(live.rc.requests)

    for i in range(TEXTS_SENT):
        await live.rc.incoming_sms(live.rc.extension_id, f"+1415555{i:04d}", f"text {i}")
    await live.dispatch()

    assert len(live.channel(TEXTS)) == TEXTS_SENT
    slack_calls = len(live.slack.calls())
    assert slack_calls >= TEXTS_SENT
    # slack_sdk without a session opens (and closes) one per call: a dozen or more here.
    assert live.slack.connections.opened - slack_before <= 2, live.slack.connections.opened
    rc_requests = len(live.rc.requests) - rc_requests_before
    assert rc_requests >= TEXTS_SENT / 2  # names looked up (paced: not all of them)
    # Lookups run side by side (at most READS at once: as many connections, on a busy
    # machine where they overlap more), each then kept for the next; a client connecting
    # per call would open one per request, more than that.
    rc_opened = live.rc.connections.opened - rc_before
    assert rc_requests > READS + 1, rc_requests
    assert rc_opened <= READS + 1, (rc_opened, rc_requests)  # and one for the sign-in
