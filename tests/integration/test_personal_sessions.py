"""Personal sessions between processes and over days (DESIGN §3.9): refreshed once when
two processes need it at the same moment, refreshed in the background before the refresh
token runs out, and readable across a key rotation — a key removed ends the connection
(told once), never a crash. Built as `serve` builds them (`bot.server`), against the
RingCentral simulator over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import server
from bot.clock import FakeClock
from bot.config import Settings
from bot.sim.ringcentral import RingCentralSimulator
from bot.slack.personal import PersonalAccounts, SessionEnded

TEAM, USER = "T0SIM", "U0DANA"
DANA_NUMBER = "+16505550102"
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
DAY = 86400.0


def settings_for(rc: RingCentralSimulator, key: str) -> Settings:
    return Settings(
        ringcentral_server_url=rc.server_url,
        ringcentral_media_url=rc.media_url,
        ringcentral_client_id=rc.client_id,
        ringcentral_client_secret=rc.client_secret,
        ringcentral_jwt=rc.jwt,
        public_url="http://127.0.0.1:9",
        ringbridge_secret_key=key,
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def process(
    rc: RingCentralSimulator,
    engine: AsyncEngine,
    http: httpx.AsyncClient,
    clock: FakeClock,
    key: str = OLD,
) -> PersonalAccounts:
    """What one `serve` process builds."""
    settings = settings_for(rc, key)
    shared = server.shared_ringcentral_client(settings, http, engine, clock=clock)
    return server.personal_accounts(settings, http, engine, shared, clock=clock, slack=None)


def dana(rc: RingCentralSimulator) -> str:
    found = rc.world.extension_of_number(DANA_NUMBER)
    assert found is not None
    return found


async def connected(accounts: PersonalAccounts, rc: RingCentralSimulator) -> None:
    """Dana connects (and confirms: without Slack the email cannot be compared)."""
    rc.approve_as(dana(rc))
    link = await accounts.start(TEAM, USER)
    async with httpx.AsyncClient() as browser:
        back = (await browser.get(link)).headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    page = await accounts.finish(query)
    assert page.status == 200, page.message
    assert await accounts.confirm(TEAM, USER) is not None


def refreshes(rc: RingCentralSimulator) -> int:
    grants = rc.requests_to(r"/oauth/token$", "POST")
    return sum(1 for r in grants if r.form and r.form.get("grant_type") == "refresh_token")


async def test_two_processes_refresh_a_persons_session_once(
    rc_sim: RingCentralSimulator, engine: AsyncEngine, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    one, two = process(rc_sim, engine, http, clock), process(rc_sim, engine, http, clock)
    await connected(one, rc_sim)
    await two.acting(TEAM, USER)  # the second process has read the session too
    clock.advance(3600)  # the access token has run out for both
    before = refreshes(rc_sim)

    acting = await asyncio.gather(*(p.acting(TEAM, USER) for p in (one, two, one, two)))

    assert refreshes(rc_sim) - before == 1
    assert all(a.personal for a in acting)
    listing = await acting[1].rc.account.phone_numbers()
    assert DANA_NUMBER in [n.phone_number for n in listing.records]


async def test_the_background_refresh_keeps_a_quiet_person_connected(
    rc_sim: RingCentralSimulator, engine: AsyncEngine, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    accounts = process(rc_sim, engine, http, clock)
    await connected(accounts, rc_sim)
    assert await accounts.refresh_due() == 0  # seven days left: nothing to do

    clock.advance(5.5 * DAY)  # under 48 h left
    await accounts.refresh_due()
    clock.advance(3 * DAY)  # past the first refresh token's seven days

    acting = await accounts.acting(TEAM, USER)
    assert acting.personal
    assert (await acting.rc.account.extension()).id == dana(rc_sim)


async def test_a_new_key_first_still_reads_sessions_sealed_with_the_old(
    rc_sim: RingCentralSimulator, engine: AsyncEngine, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    await connected(process(rc_sim, engine, http, clock, OLD), rc_sim)

    rotated = process(rc_sim, engine, http, clock, f"{NEW},{OLD}")

    assert (await rotated.acting(TEAM, USER)).personal


async def test_a_removed_key_ends_the_connection_once_without_a_crash(
    rc_sim: RingCentralSimulator, engine: AsyncEngine, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    await connected(process(rc_sim, engine, http, clock, OLD), rc_sim)
    only_new = process(rc_sim, engine, http, clock, NEW)

    with pytest.raises(SessionEnded):
        await only_new.acting(TEAM, USER)
    after = await only_new.acting(TEAM, USER)  # told once; then the shared session

    assert not after.personal
    assert only_new.connections is not None
    found = await only_new.connections.get(TEAM, USER)
    assert found is not None and found.state == "disconnected" and found.told
