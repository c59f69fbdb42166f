"""The Slack simulator's public fault injection (`SlackSimulator.fail`) and its signed sender
used alone (`SlackSender`), as tests and benchmarks drive them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import FakeClock
from bot.sim import SlackSender, SlackSimulator

TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[SlackSimulator]:
    s = SlackSimulator(token=TOKEN, signing_secret=SECRET, clock=clock)
    s.add_channel("C0CALLS", "calls", member=True)
    s.add_channel("C0TEXTS", "texts", member=True)
    s.add_channel("C0OUT", "out")  # the bot is not in it: posts are refused
    async with s.serve():
        yield s


@pytest.fixture
async def client(sim: SlackSimulator) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=TOKEN, base_url=sim.api_url, session=session)


async def status_of(client: AsyncWebClient, channel: str, text: str) -> int:
    try:
        await client.chat_postMessage(channel=channel, text=text)
    except SlackApiError as err:
        return int(err.response.status_code)
    return 200


async def test_a_channel_fault_fails_only_that_channel(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    sim.fail("chat.postMessage", status=500, times=2, channel="C0TEXTS")

    assert await status_of(client, "C0CALLS", "calls") == 200
    assert await status_of(client, "C0TEXTS", "one") == 500
    assert await status_of(client, "#texts", "by name") == 500  # the same channel
    assert await status_of(client, "C0TEXTS", "three") == 200  # two times only

    assert [m["text"] for m in sim.messages("C0TEXTS")] == ["three"]
    assert [m["text"] for m in sim.messages("C0CALLS")] == ["calls"]


async def test_store_then_fail_keeps_the_message_and_answers_the_failure(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    sim.fail("chat.postMessage", status=503, store=True)

    assert await status_of(client, "C0CALLS", "kept") == 503
    assert [m["text"] for m in sim.messages("C0CALLS")] == ["kept"]  # Slack did the work
    (call,) = sim.calls("chat.postMessage")
    assert (call.status, call.ok) == (503, False)
    assert await status_of(client, "C0CALLS", "next") == 200  # once


async def test_store_then_fail_waits_for_a_call_that_succeeds(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    """Work Slack refused stored nothing: the fault stays for the next call that works."""
    sim.fail("chat.postMessage", status=500, store=True)

    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C0OUT", text="refused")
    assert refused.value.response["error"] == "not_in_channel"
    assert await status_of(client, "C0CALLS", "kept") == 500
    assert [m["text"] for m in sim.messages("C0CALLS")] == ["kept"]


async def test_a_fault_changed_while_pending_changes_what_comes_next(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    fault = sim.fail("chat.postMessage", status=500, times=None, channel="C0CALLS")
    assert await status_of(client, "C0CALLS", "lost") == 500
    fault.store = True
    assert await status_of(client, "C0CALLS", "kept") == 500
    assert [m["text"] for m in sim.messages("C0CALLS")] == ["kept"]
    sim.clear_faults()
    assert await status_of(client, "C0CALLS", "fine") == 200


async def test_disconnect_drops_the_connection_without_an_answer(
    sim: SlackSimulator,
) -> None:
    sim.fail("chat.postMessage", status=500, store=True, disconnect=True)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            await session.post(
                f"{sim.api_url}chat.postMessage",
                json={"channel": "C0CALLS", "text": "in the dark"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
    assert [m["text"] for m in sim.messages("C0CALLS")] == ["in the dark"]
    assert [c.ok for c in sim.calls("chat.postMessage")] == [False]


def test_a_fault_needs_a_sensible_shape() -> None:
    sim = SlackSimulator()
    with pytest.raises(ValueError, match="error code"):
        sim.fail("users.info")  # ok:false without an error
    with pytest.raises(ValueError, match="times"):
        sim.fail("users.info", error="user_not_found", times=0)


# -- the sender alone ------------------------------------------------------------------------


@pytest.fixture
async def app() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A stand-in app that records what it is sent."""
    seen: list[tuple[dict[str, str], bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.read()))
        return web.json_response({"text": "ok"})

    application = web.Application()
    application.router.add_post("/slack/events", handler)
    runner = web.AppRunner(application)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events", seen
    await runner.cleanup()


async def test_a_sender_alone_signs_commands_with_a_given_response_url(
    app: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, seen = app
    async with SlackSender(SECRET) as sender:
        answer = await sender.send_command(
            url, "/sms", "+14155550123 Tom & Jerry", response_url="http://127.0.0.1:1/r/1"
        )
        with pytest.raises(RuntimeError, match="response_url"):
            await sender.send_command(url, "/sms", "no response_url")

    assert answer.status == 200 and answer.json() == {"text": "ok"}
    assert answer.response_url == "http://127.0.0.1:1/r/1"
    ((headers, body),) = seen
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert form["text"] == "+14155550123 Tom &amp; Jerry"
    assert form["response_url"] == "http://127.0.0.1:1/r/1"
    ts = headers["X-Slack-Request-Timestamp"]
    assert abs(int(ts) - time.time()) < 60  # the wall clock, as Slack's
    assert SignatureVerifier(SECRET).is_valid(body, ts, headers["X-Slack-Signature"])
    assert not SignatureVerifier("other").is_valid(body, ts, headers["X-Slack-Signature"])


async def test_a_sender_outside_its_block_refuses_to_send() -> None:
    sender = SlackSender(SECRET)
    request = sender.command_request("/sms", "hi", response_url="http://127.0.0.1:1/r/1")
    with pytest.raises(RuntimeError, match="async with"):
        await sender.post("http://127.0.0.1:1/slack/events", request)
