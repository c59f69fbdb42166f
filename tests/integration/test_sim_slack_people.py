"""The Slack simulator's people: emails only with users:read.email, users.lookupByEmail,
user groups, members who are guests, deactivated, bots or of another organisation, and
the Home tab's `app_home_opened` (DESIGN §3.9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import FakeClock
from bot.sim.slack import SlackSimulator

TOKEN = "xoxb-test-token"


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[SlackSimulator]:
    s = SlackSimulator(token=TOKEN, clock=clock)
    s.add_user("U0DANA", "dana", real_name="Dana Whitfield", email="D.Whitfield@Example.com")
    s.add_user("U0GUEST", "gus", email="gus@example.com", guest=True)
    s.add_user("U0GONE", "gone", email="gone@example.com", deleted=True)
    s.add_user("U0OTHER", "olga", email="olga@other.example", other_org=True)
    s.add_user("U0BOTTY", "botty", is_bot=True, email="bot@example.com")
    s.add_usergroup("S0SALES", "sales", ["U0DANA"])
    s.add_usergroup("S0OLD", "old", ["U0GUEST"], disabled=True)
    async with s.serve():
        yield s


@pytest.fixture
async def client(sim: SlackSimulator) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=TOKEN, base_url=sim.api_url, session=session)


async def error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


async def test_profile_email_only_with_the_email_scope(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    user = (await client.users_info(user="U0DANA"))["user"]
    assert user["profile"]["email"] == "D.Whitfield@Example.com"
    sim.remove_scopes("users:read.email")
    user = (await client.users_info(user="U0DANA"))["user"]
    assert "email" not in user["profile"]  # left out, not refused


async def test_lookup_by_email_ignores_case_and_needs_its_scope(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    found = await client.users_lookupByEmail(email="d.whitfield@example.com")
    assert found["user"]["id"] == "U0DANA"
    missing = await error_of(client.users_lookupByEmail(email="nobody@example.com"))
    assert missing.response["error"] == "users_not_found"
    assert (await error_of(client.users_lookupByEmail(email="bot@example.com"))).response[
        "error"
    ] == "users_not_found"  # bots have no email
    sim.remove_scopes("users:read.email")
    refused = await error_of(client.users_lookupByEmail(email="d.whitfield@example.com"))
    assert refused.response["error"] == "missing_scope"
    assert refused.response["needed"] == "users:read.email"


async def test_lookup_finds_guests_deactivated_and_other_orgs_with_their_flags(
    client: AsyncWebClient,
) -> None:
    """The strict reading: the caller must look at the flags itself."""
    guest = (await client.users_lookupByEmail(email="gus@example.com"))["user"]
    gone = (await client.users_lookupByEmail(email="gone@example.com"))["user"]
    other = (await client.users_lookupByEmail(email="olga@other.example"))["user"]
    assert guest["is_restricted"] is True
    assert gone["deleted"] is True
    assert other["team_id"] != "T0SIM"


async def test_user_groups(sim: SlackSimulator, client: AsyncWebClient) -> None:
    groups = (await client.usergroups_list(include_users=True))["usergroups"]
    assert [(g["id"], g["handle"], g["users"]) for g in groups] == [
        ("S0SALES", "sales", ["U0DANA"])
    ]
    everything = (await client.usergroups_list(include_disabled=True))["usergroups"]
    assert {g["id"] for g in everything} == {"S0SALES", "S0OLD"}
    assert "users" not in everything[0]
    assert (await client.usergroups_users_list(usergroup="S0SALES"))["users"] == ["U0DANA"]
    for group in ("S0NOPE", "S0OLD"):
        refused = await error_of(client.usergroups_users_list(usergroup=group))
        assert refused.response["error"] == "no_such_subteam"
    sim.remove_scopes("usergroups:read")
    assert (await error_of(client.usergroups_list())).response["error"] == "missing_scope"


async def test_no_dm_with_a_deactivated_member(client: AsyncWebClient) -> None:
    refused = await error_of(client.conversations_open(users="U0GONE"))
    assert refused.response["error"] == "user_disabled"
    assert (await client.conversations_open(users="U0DANA"))["channel"]["id"].startswith("D")


async def test_app_home_opened_reaches_the_app(sim: SlackSimulator) -> None:
    events: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        events.append((await request.json())["event"])
        return web.Response()

    app = web.Application()
    app.router.add_post("/slack/events", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
        delivery = await sim.open_home(url, "U0DANA")
        assert delivery.status == 200
    finally:
        await runner.cleanup()
    (event,) = events
    assert event["type"] == "app_home_opened"
    assert (event["user"], event["tab"]) == ("U0DANA", "home")
    assert event["channel"].startswith("D")
    assert "view" not in event  # nothing published yet
