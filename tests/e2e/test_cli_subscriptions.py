"""`python -m bot subscriptions list | sync | delete ID` as an admin runs it: a subprocess
against the RingCentral simulator, with a small webhook endpoint answering the handshake."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sim.ringcentral import RingCentralSimulator
from bot.store import SubscriptionStore

ROUTES = '[[routes]]\nevents = ["sms", "voicemail"]\nchannel = "C0123TEXTS"\n'


@dataclass
class Run:
    code: int
    out: str
    err: str


async def handshake(request: web.Request) -> web.Response:
    """The creation handshake only (reference §2.2): echo Validation-Token, JSON, 200."""
    return web.Response(
        headers={
            "Validation-Token": request.headers.get("Validation-Token", ""),
            "Content-Type": "application/json",
        }
    )


@pytest.fixture
async def public_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/ringcentral/webhook", handshake)
    app.router.add_post("/someone-else", handshake)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Cli:
    sim: RingCentralSimulator
    engine: AsyncEngine
    env: dict[str, str]

    async def __call__(self, *args: str, **env: str) -> Run:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args,
            env={**self.env, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        run = Run(process.returncode, out.decode(), err.decode())
        assert "Traceback" not in run.err, run.err
        assert self.sim.jwt not in run.out + run.err
        return run

    @property
    def store(self) -> SubscriptionStore:
        return SubscriptionStore(self.engine)


@pytest.fixture
def cli(rc_sim: RingCentralSimulator, engine: AsyncEngine, public_url: str) -> Cli:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "RINGCENTRAL_SERVER_URL": rc_sim.server_url,
        "RINGCENTRAL_MEDIA_URL": rc_sim.media_url,
        "RINGCENTRAL_CLIENT_ID": rc_sim.client_id,
        "RINGCENTRAL_CLIENT_SECRET": rc_sim.client_secret,
        "RINGCENTRAL_JWT": rc_sim.jwt,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PUBLIC_URL": public_url,
        "BRIDGE_CONFIG": ROUTES,
    }
    return Cli(rc_sim, engine, env)


async def test_sync_creates_the_subscription_and_says_so(
    cli: Cli, rc_sim: RingCentralSimulator, public_url: str
) -> None:
    run = await cli("subscriptions", "sync")

    assert run.code == 0, run.err
    [sub] = rc_sim.subscriptions.values()
    assert run.out.splitlines() == [
        f"created subscription {sub.id} at {public_url}/ringcentral/webhook: 3 event filters, "
        f"active until {run.out.split('active until ')[1].strip()}"
    ]
    ext = f"/restapi/v1.0/account/{rc_sim.account_id}/extension/{rc_sim.extension_id}"
    assert sub.event_filters == [
        f"{ext}/voicemail",
        f"{ext}/message-store/instant?type=SMS",
        f"{ext}/message-store",
    ]
    (record,) = await cli.store.all()
    assert record.id == sub.id and record.verification_token == sub.verification_token
    assert sub.verification_token not in run.out + run.err

    again = await cli("subscriptions", "sync")

    assert again.code == 0, again.err
    assert again.out.startswith(f"subscription {sub.id} is active until ")
    assert list(rc_sim.subscriptions) == [sub.id]


async def test_list_shows_id_status_expiry_and_filters_marking_ours(
    cli: Cli, rc_sim: RingCentralSimulator, public_url: str
) -> None:
    assert (await cli("subscriptions", "sync")).code == 0
    [ours] = rc_sim.subscriptions
    body = {
        "eventFilters": ["/restapi/v1.0/account/~/extension/~/fax?direction=Inbound"],
        "deliveryMode": {"transportType": "WebHook", "address": f"{public_url}/someone-else"},
    }
    made = await cli("api", "POST", "/restapi/v1.0/subscription", "-d", json.dumps(body))
    theirs = json.loads(made.out)["id"]
    rc_sim.blacklist(theirs, "Read timed out")

    run = await cli("subscriptions", "list")

    assert run.code == 0, run.err
    lines = run.out.splitlines()
    head = lines.index(next(line for line in lines if line.startswith(ours)))
    assert lines[head].startswith(f"{ours}  Active  expires 2026-01-08 00:00:")
    assert lines[head].endswith("  [ours]")
    assert lines[head + 1] == f"  address: {public_url}/ringcentral/webhook"
    assert f"  filter: {rc_sim.subscriptions[ours].event_filters[0]}" in lines
    other = lines.index(next(line for line in lines if line.startswith(theirs)))
    assert lines[other].startswith(f"{theirs}  Blacklisted  expires ")
    assert "[ours]" not in lines[other]
    assert lines[other + 1 : other + 4] == [
        f"  address: {public_url}/someone-else",
        "  blacklisted: Read timed out",
        f"  filter: /restapi/v1.0/account/{rc_sim.account_id}/extension/"
        f"{rc_sim.extension_id}/fax?direction=Inbound",
    ]


async def test_sync_replaces_a_blacklisted_subscription(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    assert (await cli("subscriptions", "sync")).code == 0
    [old] = rc_sim.subscriptions
    rc_sim.blacklist(old, "Webhook responses with code: [500]")

    run = await cli("subscriptions", "sync")

    assert run.code == 0, run.err
    [new] = rc_sim.subscriptions
    assert run.out.splitlines()[0] == (
        f"deleted subscription {old}: Blacklisted (Webhook responses with code: [500])"
    )
    assert run.out.splitlines()[1].startswith(f"created subscription {new} at ")
    assert [r.id for r in await cli.store.all()] == [new]


async def test_delete_removes_it_at_ringcentral_and_in_the_database(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    assert (await cli("subscriptions", "sync")).code == 0
    [sub_id] = rc_sim.subscriptions

    run = await cli("subscriptions", "delete", sub_id)

    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        f"deleted subscription {sub_id} at RingCentral and its verification token in the database"
    ]
    assert not rc_sim.subscriptions
    assert await cli.store.all() == []
    assert (await cli("subscriptions", "list")).out == "no subscriptions\n"


async def test_delete_of_an_unknown_id_prints_ringcentrals_refusal_and_exits_1(cli: Cli) -> None:
    run = await cli("subscriptions", "delete", "4d3c2b1a-0000-4000-8000-000000000000")

    assert run.code == 1
    assert run.out == ""
    assert run.err.startswith("error: CMN-102: ")


async def test_list_when_ringcentral_refuses_exits_1(cli: Cli) -> None:
    run = await cli("subscriptions", "list", RINGCENTRAL_JWT="not-a-jwt")

    assert run.code == 1
    assert run.out == ""
    assert run.err.splitlines()[-1] == "error: OAU-140: Invalid resource owner credentials"


async def test_sync_without_public_url_is_bad_configuration(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    del cli.env["PUBLIC_URL"]

    run = await cli("subscriptions", "sync")

    assert run.code == 2
    assert run.err.splitlines() == [
        "ringbridge: PUBLIC_URL is not set: the webhook address is PUBLIC_URL + "
        "/ringcentral/webhook"
    ]
    assert not rc_sim.requests


async def test_sync_names_an_unknown_extension_and_exits_2(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    config = ROUTES + '[ringcentral]\nextensions = ["101", "909"]\n'

    run = await cli("subscriptions", "sync", BRIDGE_CONFIG=config)

    assert run.code == 2
    assert run.err.splitlines() == [
        "ringbridge: [ringcentral].extensions: no extension numbered 909 in this RingCentral "
        "account"
    ]
    assert not rc_sim.subscriptions


@pytest.mark.parametrize("args", [["subscriptions"], ["subscriptions", "delete"]])
async def test_bad_usage_exits_2(cli: Cli, rc_sim: RingCentralSimulator, args: list[str]) -> None:
    run = await cli(*args)

    assert run.code == 2
    assert not rc_sim.requests
