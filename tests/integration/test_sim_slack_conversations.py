"""The Slack simulator's conversations as Slack keeps them: conversations.list's paging,
DMs (conversations.open), scopes (`x-oauth-scopes`, `missing_scope`), channels the bot may
not post to, and the per-channel posting pace with Slack's numbers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import FakeClock
from bot.sim import DEFAULT_SCOPES, SLACK_CHANNEL_PACE, SlackSimulator
from tests.bridge import CALLS, Bridge

TOKEN = "xoxb-test-token"


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[SlackSimulator]:
    s = SlackSimulator(token=TOKEN, clock=clock)
    s.add_channel("C01", "general", member=True)
    s.add_channel("C02", "random")  # public, the bot is not in it
    s.add_channel("C03", "secret", private=True)  # private, the bot is not in it
    s.add_channel("C04", "team", private=True, member=True)
    s.add_channel("C05", "old", member=True, archived=True)
    s.add_channel("C06", "calls", member=True, members={"U0BOB"})
    s.add_user("U0ALICE", "alice")
    s.add_user("U0BOB", "bob")
    s.add_user("U0OTHERBOT", "otherbot", is_bot=True)
    async with s.serve():
        yield s


@pytest.fixture
async def client(sim: SlackSimulator) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=TOKEN, base_url=sim.api_url, session=session)


async def failure(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as info:
        await call
    data: dict[str, Any] = info.value.response.data  # type: ignore[assignment]
    return data


async def every_page(client: AsyncWebClient, **args: Any) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = await client.conversations_list(cursor=cursor, **args)
        pages.append([c["name"] for c in page["channels"]])
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            return pages


# -- conversations.list -----------------------------------------------------------------------


async def test_list_pages_before_it_filters(client: AsyncWebClient) -> None:
    # Slack fills a page and then drops what the filters exclude: short pages, even empty
    # ones, come with a cursor; only an empty cursor ends the list.
    pages = await every_page(client, types="public_channel", limit=2, exclude_archived=True)
    assert pages == [["general", "random"], [], ["calls"]]
    assert await every_page(client, limit=100) == [["general", "random", "old", "calls"]]


async def test_list_types_and_what_the_bot_may_see(client: AsyncWebClient) -> None:
    listed = await client.conversations_list(types="public_channel,private_channel", limit=1000)
    by_name = {c["name"]: c for c in listed["channels"]}
    assert sorted(by_name) == ["calls", "general", "old", "random", "team"]  # not "secret"
    assert by_name["team"]["is_private"] and by_name["team"]["is_member"]
    assert by_name["random"]["is_member"] is False
    assert by_name["old"]["is_archived"] is True
    assert (await failure(client.conversations_list(types="nonsense")))["error"] == (
        "invalid_types"
    )


async def test_list_needs_the_scope_of_each_type(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    sim.remove_scopes("groups:read")
    refused = await failure(client.conversations_list(types="public_channel,private_channel"))
    assert (refused["error"], refused["needed"]) == ("missing_scope", "groups:read")
    assert "groups:read" not in refused["provided"].split(",")
    assert (await client.conversations_list(types="public_channel"))["ok"]


# -- DMs ------------------------------------------------------------------------------------


async def test_a_dm_is_opened_once_and_posted_into(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    # Without im:write Slack refuses to open a DM.
    sim.remove_scopes("im:write")
    refused = await failure(client.conversations_open(users="U0ALICE"))
    assert (refused["error"], refused["needed"]) == ("missing_scope", "im:write")

    sim.scopes = (*DEFAULT_SCOPES, "im:read")
    assert {"im:write", "im:history"} <= set(sim.scopes)  # the manifest's (DESIGN §2)
    opened = await client.conversations_open(users="U0ALICE")
    dm = opened["channel"]["id"]
    assert dm.startswith("D") and "already_open" not in opened.data
    again = await client.conversations_open(users="U0ALICE", return_im=True)
    assert again["channel"]["id"] == dm and again["already_open"] is True
    assert again["channel"]["is_im"] is True and again["channel"]["user"] == "U0ALICE"

    await client.chat_postMessage(channel=dm, text="Your text could not be sent")
    assert [m["text"] for m in sim.messages(dm)] == ["Your text could not be sent"]
    history = await client.conversations_history(channel=dm)
    assert history["messages"][0]["text"] == "Your text could not be sent"
    ims = await client.conversations_list(types="im")
    assert [(c["id"], c["user"]) for c in ims["channels"]] == [(dm, "U0ALICE")]

    assert (await failure(client.conversations_open(users="U0NOBODY")))["error"] == (
        "user_not_found"
    )
    assert (await failure(client.conversations_open(users="U0OTHERBOT")))["error"] == (
        "cannot_dm_bot"
    )
    assert (await failure(client.api_call("conversations.open")))["error"] == (
        "users_list_not_supplied"
    )


# -- scopes --------------------------------------------------------------------------------------


async def test_auth_test_reports_the_scopes_and_methods_check_them(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    ok = await client.auth_test()
    assert ok.headers["x-oauth-scopes"].split(",") == list(DEFAULT_SCOPES)

    sim.remove_scopes("chat:write", "channels:history")
    ok = await client.auth_test()
    assert "chat:write" not in ok.headers["x-oauth-scopes"].split(",")
    refused = await failure(client.chat_postMessage(channel="C01", text="x"))
    assert (refused["error"], refused["needed"]) == ("missing_scope", "chat:write")
    assert refused["provided"] == ",".join(sim.scopes)
    refused = await failure(client.conversations_history(channel="C01"))
    assert refused["needed"] == "channels:history"
    assert (await client.conversations_info(channel="C01"))["ok"]  # channels:read is kept


# -- channels the bot may not post to -------------------------------------------------------


async def test_channels_the_bot_cannot_use(client: AsyncWebClient) -> None:
    async def error(call: Any) -> str:
        return str((await failure(call))["error"])

    assert await error(client.chat_postMessage(channel="C05", text="x")) == "is_archived"
    assert await error(client.conversations_join(channel="C05")) == "is_archived"
    assert await error(client.chat_postMessage(channel="C03", text="x")) == "channel_not_found"
    # A bot cannot join a private channel; it must be invited.
    assert await error(client.conversations_join(channel="C03")) == (
        "method_not_supported_for_channel_type"
    )
    assert await error(client.chat_postMessage(channel="C02", text="x")) == "not_in_channel"
    assert await error(client.chat_postEphemeral(channel="C06", user="U0ALICE", text="x")) == (
        "user_not_in_channel"
    )
    assert (await client.chat_postEphemeral(channel="C06", user="U0BOB", text="x"))["ok"]


# -- pacing ------------------------------------------------------------------------------------


async def test_slacks_channel_pace_on_the_apps_clock(clock: FakeClock) -> None:
    app_clock = FakeClock(start=clock.now())
    sim = SlackSimulator(
        token=TOKEN, clock=clock, channel_pace=SLACK_CHANNEL_PACE, pace_clock=app_clock
    )
    sim.add_channel("C1", member=True)
    sim.add_channel("C2", member=True)
    async with sim.serve(), aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=TOKEN, base_url=sim.api_url, session=session)
        for text in ("1", "2"):  # a short burst is allowed
            await client.chat_postMessage(channel="C1", text=text)
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel="C1", text="3")
        assert info.value.response.status_code == 429
        assert info.value.response.headers["Retry-After"] == "1"
        await client.chat_postMessage(channel="C2", text="another channel")  # its own pace
        clock.advance(5)  # the simulator's own clock does not count
        with pytest.raises(SlackApiError):
            await client.chat_postMessage(channel="C1", text="3")
        app_clock.advance(1)
        await client.chat_postMessage(channel="C1", text="3")
        with pytest.raises(SlackApiError):  # one a second, sustained
            await client.chat_postMessage(channel="C1", text="4")


async def test_the_tests_bridge_meets_slacks_pace(bridge: Bridge) -> None:
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(
            token=bridge.slack.tokens[0], base_url=bridge.slack.api_url, session=session
        )
        await client.chat_postMessage(channel=CALLS, text="1")
        await client.chat_postMessage(channel=CALLS, text="2")
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel=CALLS, text="3")
        assert info.value.response.status_code == 429
        bridge.clock.advance(1)  # the pace counts the bridge's time
        await client.chat_postMessage(channel=CALLS, text="3")
