"""The Slack simulator's Events API: a deleted message raises `message_deleted`, a reply to
a deleted thread parent lands at the top level without an error, and an event the app does
not take within 3 s (or answers non-2xx) is retried as Slack retries it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import FakeClock
from bot.sim import EventRetries, SlackSimulator
from tests.bridge import TEXTS, Bridge

TOKEN = "xoxb-test-token"
CHANNEL = "C0TEXTS"
# Slack's 3 retries without the waits; a timeout no busy test host reaches by accident.
FAST = EventRetries(delays=(0.0, 0.0, 0.0), timeout=10.0)


@dataclass
class App:
    """A loopback Events API endpoint; `answers` are taken in order (then 200): a status,
    or ("slow", seconds) before a 200, or ("no-retry", status)."""

    url: str = ""
    answers: list[Any] = field(default_factory=list)
    got: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    def retry_headers(self) -> list[tuple[str | None, str | None]]:
        return [(h.get("X-Slack-Retry-Num"), h.get("X-Slack-Retry-Reason")) for h, _ in self.got]


async def serve_app() -> App:
    app = App()

    async def handle(request: web.Request) -> web.Response:
        app.got.append((dict(request.headers), json.loads(await request.read())))
        answer = app.answers.pop(0) if app.answers else 200
        if isinstance(answer, tuple) and answer[0] == "slow":
            await asyncio.sleep(answer[1])
            return web.Response()
        if isinstance(answer, tuple) and answer[0] == "no-retry":
            return web.Response(status=answer[1], headers={"X-Slack-No-Retry": "1"})
        return web.Response(status=answer)

    web_app = web.Application()
    web_app.router.add_post("/slack/events", handle)
    app.runner = web.AppRunner(web_app, access_log=None)
    await app.runner.setup()
    await web.TCPSite(app.runner, "127.0.0.1", 0).start()
    app.url = f"http://127.0.0.1:{app.runner.addresses[0][1]}/slack/events"
    return app


@pytest.fixture
async def app() -> AsyncIterator[App]:
    served = await serve_app()
    yield served
    assert served.runner is not None
    await served.runner.cleanup()


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[SlackSimulator]:
    s = SlackSimulator(token=TOKEN, clock=clock)
    s.add_channel(CHANNEL, "texts", member=True)
    s.add_channel("C0ELSE", "elsewhere")  # the bot is not in it
    s.add_user("U0ALICE", "alice")
    async with s.serve():
        yield s


@pytest.fixture
async def client(sim: SlackSimulator) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=TOKEN, base_url=sim.api_url, session=session)


async def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


# -- a deleted thread parent ------------------------------------------------------------------


async def test_a_reply_to_a_deleted_parent_lands_at_the_top_level_without_an_error(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="SMS from +1 212 555 0142")
    first = await client.chat_postMessage(channel=CHANNEL, text="first", thread_ts=parent["ts"])
    assert first["message"]["thread_ts"] == parent["ts"]

    deleted = await client.chat_delete(channel=CHANNEL, ts=parent["ts"])
    assert (deleted["channel"], deleted["ts"]) == (CHANNEL, parent["ts"])

    later = await client.chat_postMessage(channel=CHANNEL, text="later", thread_ts=parent["ts"])
    assert later["ok"] and "thread_ts" not in later["message"]
    assert [m["text"] for m in sim.messages(CHANNEL)] == ["later"]  # a loose top-level one
    assert await error_of(client.conversations_replies(channel=CHANNEL, ts=parent["ts"])) == (
        "thread_not_found"
    )
    # A reply given as thread_ts names its thread, whose parent is gone: top level too.
    again = await client.chat_postMessage(channel=CHANNEL, text="again", thread_ts=first["ts"])
    assert "thread_ts" not in again["message"]
    never = await client.chat_postMessage(channel=CHANNEL, text="x", thread_ts="1700000000.000001")
    assert "thread_ts" not in never["message"]


async def test_chat_delete_deletes_only_the_bots_own_messages(
    sim: SlackSimulator, client: AsyncWebClient, app: App
) -> None:
    sim.subscribe_events(app.url)
    person = await sim.send_message(app.url, channel_id=CHANNEL, text="mine")
    ts = person.sent["event"]["ts"]
    assert await error_of(client.chat_delete(channel=CHANNEL, ts=ts)) == "cant_delete_message"
    assert await error_of(client.chat_delete(channel=CHANNEL, ts="1.000001")) == (
        "message_not_found"
    )
    sim.remove_scopes("chat:write")
    assert await error_of(client.chat_delete(channel=CHANNEL, ts=ts)) == "missing_scope"


async def test_a_deleted_message_raises_message_deleted_to_the_subscribed_app(
    sim: SlackSimulator, client: AsyncWebClient, app: App
) -> None:
    sim.subscribe_events(app.url)
    parent = await client.chat_postMessage(
        channel=CHANNEL,
        text="SMS",
        metadata={"event_type": "ringcentral_sms", "event_payload": {"item": "1"}},
    )
    await client.chat_delete(channel=CHANNEL, ts=parent["ts"])
    (delivery,) = await sim.events_delivered()

    assert delivery.status == 200 and delivery.retries == ()
    (headers, envelope) = app.got[-1]
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    event = envelope["event"]
    assert event["type"] == "message" and event["subtype"] == "message_deleted"
    assert event["hidden"] is True and event["channel"] == CHANNEL
    assert event["deleted_ts"] == parent["ts"] and event["ts"] == event["event_ts"] != parent["ts"]
    assert event["channel_type"] == "channel"
    assert event["previous_message"]["ts"] == parent["ts"]
    assert event["previous_message"]["text"] == "SMS"
    assert "metadata" not in event["previous_message"]
    assert headers["X-Slack-Signature"].startswith("v0=")


async def test_a_person_deleting_a_message_raises_the_event_too(
    sim: SlackSimulator, client: AsyncWebClient, app: App
) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="SMS")
    assert await sim.delete_message(CHANNEL, parent["ts"]) is None  # nobody subscribed
    assert app.got == []

    sim.subscribe_events(app.url)
    again = await client.chat_postMessage(channel=CHANNEL, text="SMS again")
    delivery = await sim.delete_message(CHANNEL, again["ts"])
    assert delivery is not None and delivery.status == 200
    assert app.got[-1][1]["event"]["deleted_ts"] == again["ts"]
    assert sim.messages(CHANNEL) == []


async def test_no_event_from_a_channel_the_bot_is_not_in_or_not_subscribed_to(
    sim: SlackSimulator, client: AsyncWebClient, app: App
) -> None:
    sim.subscribe_events(app.url, bot_events=("message.groups",))
    parent = await client.chat_postMessage(channel=CHANNEL, text="SMS")
    await client.chat_delete(channel=CHANNEL, ts=parent["ts"])
    sim.subscribe_events(app.url)
    person = await sim.send_message(app.url, channel_id="C0ELSE", text="hello")
    await sim.delete_message("C0ELSE", person.sent["event"]["ts"])
    await sim.events_delivered()
    assert [e["event"].get("subtype") for _, e in app.got] == [None]  # only the message itself


# -- Events API retries -----------------------------------------------------------------------


def test_the_default_schedule_is_slacks() -> None:
    retries = EventRetries()
    assert retries.delays == (0.0, 60.0, 300.0) and retries.timeout == 3.0


async def test_a_failed_event_is_retried_with_its_number_and_reason(
    sim: SlackSimulator, app: App
) -> None:
    sim.event_retries = FAST
    app.answers = [500, 503]

    delivery = await sim.send_message(app.url, channel_id=CHANNEL, text="Running late")

    assert (delivery.status, delivery.failure) == (500, "http_error")
    assert [(r.status, r.failure) for r in delivery.retries] == [(503, "http_error"), (200, "")]
    assert app.retry_headers() == [(None, None), ("1", "http_error"), ("2", "http_error")]
    ids = {e["event_id"] for _, e in app.got}
    assert len(ids) == 1  # the same event each time


async def test_an_event_is_retried_at_most_three_times(sim: SlackSimulator, app: App) -> None:
    sim.event_retries = FAST
    app.answers = [500, 500, 500, 500, 500]

    delivery = await sim.send_message(app.url, channel_id=CHANNEL, text="x")

    assert len(delivery.retries) == 3
    assert [n for n, _ in app.retry_headers()] == [None, "1", "2", "3"]


async def test_a_slow_ack_is_retried_without_waiting_for_it(sim: SlackSimulator, app: App) -> None:
    sim.event_retries = EventRetries(delays=(0.0,), timeout=0.5)
    app.answers = [("slow", 3.0)]
    started = asyncio.get_running_loop().time()

    delivery = await sim.send_message(app.url, channel_id=CHANNEL, text="x")

    assert (delivery.status, delivery.failure) == (0, "http_timeout")
    assert app.retry_headers() == [(None, None), ("1", "http_timeout")]
    assert asyncio.get_running_loop().time() - started < 2.8  # the retry did not wait


async def test_no_retry_when_the_app_asks_for_none(sim: SlackSimulator, app: App) -> None:
    sim.event_retries = FAST
    app.answers = [("no-retry", 500)]

    delivery = await sim.send_message(app.url, channel_id=CHANNEL, text="x")

    assert delivery.status == 500 and delivery.retries == ()
    assert len(app.got) == 1


async def test_an_app_that_is_down_gets_connection_failed_retries(sim: SlackSimulator) -> None:
    sim.event_retries = FAST
    down = await serve_app()
    assert down.runner is not None
    await down.runner.cleanup()

    delivery = await sim.send_message(down.url, channel_id=CHANNEL, text="x")

    assert [d.failure for d in (delivery, *delivery.retries)] == ["connection_failed"] * 4


async def test_retries_may_go_to_another_process(sim: SlackSimulator, app: App) -> None:
    other = await serve_app()
    try:
        sim.event_retries = EventRetries(delays=(0.0, 0.0, 0.0), timeout=10.0, urls=(other.url,))
        app.answers = [500]

        await sim.send_message(app.url, channel_id=CHANNEL, text="x")

        assert len(app.got) == 1
        assert other.retry_headers() == [("1", "http_error")]
        assert other.got[0][1]["event_id"] == app.got[0][1]["event_id"]
    finally:
        assert other.runner is not None
        await other.runner.cleanup()


async def test_retries_wait_on_the_simulators_clock(
    sim: SlackSimulator, app: App, clock: FakeClock
) -> None:
    sim.event_retries = EventRetries(timeout=10.0)  # Slack's schedule: now, 1 min, 5 min
    app.answers = [500, 500, 500]
    before = clock.now()

    await sim.send_message(app.url, channel_id=CHANNEL, text="x")

    assert clock.now() - before == pytest.approx(360.0)


async def test_a_retry_can_be_sent_by_hand(sim: SlackSimulator, app: App) -> None:
    delivery = await sim.send_message(app.url, channel_id=CHANNEL, text="x")
    retried = await sim.resend_event(app.url, delivery.sent, retry=(2, "http_timeout"))
    assert retried.status == 200
    assert app.retry_headers() == [(None, None), ("2", "http_timeout")]
    assert app.got[0][1] == app.got[1][1]


async def test_delete_original_through_a_response_url_raises_the_event_too(
    sim: SlackSimulator, client: AsyncWebClient, app: App
) -> None:
    sim.subscribe_events(app.url)
    posted = await client.chat_postMessage(channel=CHANNEL, text="Missed call")
    url = sim.response_url(channel_id=CHANNEL, user_id="U0ALICE", message_ts=posted["ts"])
    async with aiohttp.ClientSession() as http, http.post(url, json={"delete_original": True}):
        pass
    (delivery,) = await sim.events_delivered()
    assert delivery.sent["event"]["deleted_ts"] == posted["ts"]
    assert sim.messages(CHANNEL) == []


async def test_the_tests_bridge_is_subscribed_to_slacks_events(bridge: Bridge) -> None:
    parent = await bridge.slack.send_message(bridge.events_url, channel_id=TEXTS, text="hi")
    delivery = await bridge.slack.delete_message(TEXTS, parent.sent["event"]["ts"])
    assert delivery is not None and delivery.status == 200 and delivery.retries == ()


# -- a person's files and edits ---------------------------------------------------------------


async def _get(url: str, token: str | None) -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as answer:
        return answer.status, answer.headers.get("Content-Type", ""), await answer.read()


async def test_a_shared_file_is_a_file_share_event_served_only_to_the_bot_token(
    sim: SlackSimulator, app: App
) -> None:
    shared = await sim.send_message(
        app.url, channel_id=CHANNEL, text="look", files=[("a.png", b"\x89PNG-ish", "image/png")]
    )
    event = shared.sent["event"]
    assert event["subtype"] == "file_share"
    (file,) = event["files"]
    assert file["mimetype"] == "image/png" and file["user"] == "U0ALICE"

    assert await _get(file["url_private_download"], TOKEN) == (200, "image/png", b"\x89PNG-ish")
    # Without the bot token, or with a token lacking files:read: Slack's sign-in page.
    for token in (None, "xoxb-someone-else"):
        status, kind, _ = await _get(file["url_private_download"], token)
        assert (status, kind.split(";")[0]) == (200, "text/html")
    sim.remove_scopes("files:read")
    assert (await _get(file["url_private"], TOKEN))[1].startswith("text/html")


async def test_check_file_info_files_are_read_with_files_info(
    sim: SlackSimulator, client: AsyncWebClient, app: App
) -> None:
    shared = await sim.send_message(
        app.url, channel_id=CHANNEL, text="", files=[("v.vcf", b"BEGIN:VCARD", "text/vcard")],
        check_file_info=True,
    )  # fmt: skip
    (file,) = shared.sent["event"]["files"]
    assert file["file_access"] == "check_file_info" and "url_private" not in file

    info = (await client.files_info(file=file["id"]))["file"]
    assert info["name"] == "v.vcf" and info["url_private_download"]
    assert await error_of(client.files_info(file="F0NOPE")) == "file_not_found"
    sim.remove_scopes("files:read")
    assert await error_of(client.files_info(file=file["id"])) == "missing_scope"


async def test_an_edit_raises_message_changed_with_both_versions(
    sim: SlackSimulator, app: App
) -> None:
    sim.subscribe_events(app.url)
    parent = await sim.send_message(app.url, channel_id=CHANNEL, text="parent")
    reply = await sim.send_message(
        app.url, channel_id=CHANNEL, text="5 pm", thread_ts=parent.sent["event"]["ts"],
        broadcast=True,
    )  # fmt: skip
    assert reply.sent["event"]["subtype"] == "thread_broadcast"
    ts = reply.sent["event"]["ts"]

    delivered = await sim.edit_message(CHANNEL, ts, "6 pm & later")

    assert delivered is not None and delivered.status == 200
    event = app.got[-1][1]["event"]
    assert event["subtype"] == "message_changed"
    assert (event["previous_message"]["text"], event["message"]["text"]) == (
        "5 pm",
        "6 pm &amp; later",
    )
    assert event["message"]["ts"] == ts and event["message"]["edited"]["user"] == "U0ALICE"
