"""RingCentral's webhook deliveries as the simulator makes them: one attempt each, never
redelivered, whatever the bridge answers (down, 5xx, too slow); failures blacklist the
subscription, after which nothing is sent (reference §2.4)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web

from bot.sim.ringcentral import RingCentralSimulator

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SMS = "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS"
CALLER = "+12125550142"


@dataclass
class Bridge:
    """A webhook whose answer to deliveries the test chooses: a status, or `slow` seconds."""

    url: str = ""
    status: int = 200
    slow: float = 0.0
    received: list[str] = field(default_factory=list)  # subjects of the SMS delivered
    runner: web.AppRunner | None = None

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def bridge() -> AsyncIterator[Bridge]:
    hook = Bridge()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        token = request.headers.get("Validation-Token")
        headers = {"Content-Type": "application/json"}
        if token and not body:
            return web.Response(headers={"Validation-Token": token, **headers})
        hook.received.append(json.loads(body)["body"]["subject"])
        await asyncio.sleep(hook.slow)
        return web.Response(status=hook.status, headers=headers)

    app = web.Application()
    app.router.add_post("/hook", handle)
    hook.runner = web.AppRunner(app, access_log=None)
    await hook.runner.setup()
    await web.TCPSite(hook.runner, "127.0.0.1", 0).start()
    hook.url = f"http://127.0.0.1:{hook.runner.addresses[0][1]}/hook"
    yield hook
    await hook.runner.cleanup()


async def subscribe(sim: RingCentralSimulator, address: str) -> str:
    raw = f"{sim.client_id}:{sim.client_secret}".encode()
    async with httpx.AsyncClient(base_url=sim.server_url) as http:
        token = await http.post(
            "/restapi/oauth/token",
            data={"grant_type": JWT_GRANT, "assertion": sim.jwt},
            headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
        )
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        created = await http.post(
            "/restapi/v1.0/subscription",
            json={
                "eventFilters": [SMS],
                "deliveryMode": {"transportType": "WebHook", "address": address},
            },
        )
    assert created.status_code == 200, created.text
    sub_id: str = created.json()["id"]
    return sub_id


async def texts(sim: RingCentralSimulator, *subjects: str) -> None:
    for subject in subjects:
        await sim.incoming_sms(sim.extension_id, CALLER, subject)


@pytest.mark.parametrize("status", [500, 503, 404])
async def test_a_refused_delivery_is_not_sent_again(
    rc_sim: RingCentralSimulator, bridge: Bridge, status: int
) -> None:
    rc_sim.blacklist_after = 10
    sub_id = await subscribe(rc_sim, bridge.url)
    bridge.status = status

    await texts(rc_sim, "one", "two")
    bridge.status = 200
    await texts(rc_sim, "three")
    await asyncio.sleep(0.05)  # a late redelivery would arrive here

    assert bridge.received == ["one", "two", "three"]
    assert [s for _, _, s in rc_sim.deliveries] == [status, status, 200]
    assert rc_sim.subscriptions[sub_id].status == "Active"


async def test_a_slow_answer_is_not_waited_for_nor_sent_again(
    rc_sim: RingCentralSimulator, bridge: Bridge
) -> None:
    rc_sim.webhook_timeout = 0.2
    rc_sim.blacklist_after = 10
    await subscribe(rc_sim, bridge.url)
    bridge.slow = 0.5

    await texts(rc_sim, "slow")
    await asyncio.sleep(0.6)

    assert bridge.received == ["slow"]
    assert [s for _, _, s in rc_sim.deliveries] == [0]  # no answer within the time allowed


async def test_a_bridge_that_is_down_misses_what_came_meanwhile(
    rc_sim: RingCentralSimulator, bridge: Bridge
) -> None:
    rc_sim.blacklist_after = 10
    await subscribe(rc_sim, bridge.url)
    await bridge.stop()

    await texts(rc_sim, "while down")

    assert [s for _, _, s in rc_sim.deliveries] == [0]
    # RingCentral keeps the message: only a read of the message store (catch-up) finds it.
    stored = rc_sim.world.message_store(rc_sim.extension_id, {"messageType": "SMS"})["records"]
    assert "while down" in [m["subject"] for m in stored]


async def test_failures_blacklist_the_subscription_and_then_nothing_is_sent(
    rc_sim: RingCentralSimulator, bridge: Bridge
) -> None:
    sub_id = await subscribe(rc_sim, bridge.url)
    bridge.status = 503

    await texts(rc_sim, "a", "b", "c", "d")

    assert bridge.received == ["a", "b", "c"]  # blacklist_after = 3; "d" is never sent
    sub = rc_sim.subscriptions[sub_id]
    assert sub.status == "Blacklisted"
    assert sub.blacklisted_data is not None
    assert (
        sub.blacklisted_data["reason"]
        == "Webhook responses with code: [503], reason: [Service Unavailable]"
    )
