"""The Slack simulator, driven by slack_sdk's real AsyncWebClient over loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import Clock as SignatureClock
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.clock import FakeClock
from bot.sim.slack import DEFAULT_SCOPES, SlackSimulator, slack_encode

TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[SlackSimulator]:
    s = SlackSimulator(token=TOKEN, signing_secret=SECRET, clock=clock)
    s.add_channel("C0CALLS", "calls", member=True)
    s.add_channel("C0TEXTS", "texts")  # public, bot not in it
    s.add_channel("C0SECRET", "secret", private=True)
    s.add_channel("C0OLD", "old", member=True, archived=True)
    s.add_user("U0ALICE", "alice", real_name="Alice Liddell", display_name="alice")
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


# -- auth and encodings ----------------------------------------------------------------------


async def test_auth_test_reports_identity_and_scopes(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    response = await client.auth_test()
    assert (response["user_id"], response["bot_id"], response["team_id"]) == (
        "U0BOT",
        "B0BOT",
        "T0SIM",
    )
    assert "chat:write" in response.headers["x-oauth-scopes"].split(",")
    assert sim.calls("auth.test")[0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_missing_and_wrong_tokens(sim: SlackSimulator) -> None:
    async with aiohttp.ClientSession() as session:
        anonymous = AsyncWebClient(base_url=sim.api_url, session=session)
        wrong = AsyncWebClient(token="xoxb-wrong", base_url=sim.api_url, session=session)
        assert await error_of(anonymous.auth_test()) == "not_authed"
        with pytest.raises(SlackApiError) as info:
            await wrong.auth_test()
    assert info.value.response.status_code == 200  # errors are HTTP 200 + ok:false
    assert info.value.response.data == {"ok": False, "error": "invalid_auth"}


async def test_json_form_and_query_arguments_merge_alike(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    await client.api_call(
        "chat.postMessage", json={"channel": "C0CALLS", "text": "t", "blocks": blocks}
    )
    await client.api_call(
        "chat.postMessage",
        data={"channel": "C0CALLS", "text": "t", "blocks": json.dumps(blocks)},
    )
    await client.api_call(
        "chat.postMessage",
        params={"channel": "C0CALLS", "text": "t", "blocks": json.dumps(blocks)},
    )
    # Bolt's per-request client adds team_id; merged with the JSON body and ignored.
    await client.api_call(
        "chat.postMessage",
        params={"team_id": "T0SIM"},
        json={"channel": "C0CALLS", "text": "t", "blocks": blocks},
    )
    calls = sim.calls("chat.postMessage")
    assert all(c.ok for c in calls)
    assert [{k: c.params[k] for k in ("channel", "text", "blocks")} for c in calls] == [
        {"channel": "C0CALLS", "text": "t", "blocks": blocks}
    ] * 4
    assert calls[3].params["team_id"] == "T0SIM"
    assert [m["blocks"] for m in sim.messages("C0CALLS")] == [blocks] * 4


async def test_scopes_are_configurable(clock: FakeClock) -> None:
    without = tuple(s for s in DEFAULT_SCOPES if s != "reactions:write")
    refusing = SlackSimulator(token=TOKEN, clock=clock, scopes=without)
    refusing.add_channel("C1", member=True)
    async with refusing.serve(), aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=TOKEN, base_url=refusing.api_url, session=session)
        posted = await client.chat_postMessage(channel="C1", text="x")
        react = client.reactions_add(channel="C1", timestamp=posted["ts"], name="eyes")
        assert await error_of(react) == "missing_scope"  # a scope the token lacks: refused

    sim = SlackSimulator(token=TOKEN, clock=clock)
    sim.add_channel("C1", member=True)
    async with sim.serve(), aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=TOKEN, base_url=sim.api_url, session=session)
        posted = await client.chat_postMessage(channel="C1", text="x")
        await client.reactions_add(channel="C1", timestamp=posted["ts"], name="eyes")
        assert (
            await error_of(client.reactions_add(channel="C1", timestamp=posted["ts"], name="eyes"))
            == "already_reacted"
        )
    assert sim.messages("C1")[0]["reactions"][0]["users"] == ["U0BOT"]


# -- messages ----------------------------------------------------------------------------------


async def test_post_update_thread_and_permalink(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(
        channel="C0CALLS", text="Missed call", unfurl_links=False, unfurl_media=False
    )
    assert posted["channel"] == "C0CALLS" and posted["message"]["bot_id"] == "B0BOT"
    assert sim.calls("chat.postMessage")[0].params["unfurl_links"] is False
    reply = await client.chat_postMessage(channel="C0CALLS", text="r", thread_ts=posted["ts"])
    await client.chat_update(channel="C0CALLS", ts=posted["ts"], text="Handled by <@U0ALICE>")
    assert [m["text"] for m in sim.messages("C0CALLS")] == ["Handled by <@U0ALICE>"]
    thread = sim.thread("C0CALLS", posted["ts"])
    assert [m["ts"] for m in thread] == [posted["ts"], reply["ts"]]
    assert thread[0]["reply_count"] == 1
    link = await client.chat_getPermalink(channel="C0CALLS", message_ts=reply["ts"])
    assert link["permalink"].endswith(f"?thread_ts={posted['ts']}&cid=C0CALLS")
    replies = await client.conversations_replies(channel="C0CALLS", ts=posted["ts"])
    assert [m["ts"] for m in replies["messages"]] == [posted["ts"], reply["ts"]]
    assert await error_of(client.chat_update(channel="C0CALLS", ts="1.000001", text="x")) == (
        "message_not_found"
    )


async def test_ephemeral_user_and_views(sim: SlackSimulator, client: AsyncWebClient) -> None:
    sent = await client.chat_postEphemeral(channel="C0CALLS", user="U0ALICE", text="only you")
    assert sim.ephemerals("C0CALLS", "U0ALICE")[0]["ts"] == sent["message_ts"]
    user = await client.users_info(user="U0ALICE")
    assert user["user"]["profile"]["real_name"] == "Alice Liddell"
    assert await error_of(client.users_info(user="U0NOBODY")) == "user_not_found"
    info = await client.conversations_info(channel="C0CALLS")
    assert info["channel"]["is_member"] is True
    home = {"type": "home", "blocks": [{"type": "divider"}]}
    await client.views_publish(user_id="U0ALICE", view=home)
    assert sim.home_view("U0ALICE") is not None
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Send SMS"}, "blocks": []}
    trigger = sim.new_trigger_id()
    opened = await client.views_open(trigger_id=trigger, view=modal)
    assert opened["view"]["id"].startswith("V")
    assert await error_of(client.views_open(trigger_id=trigger, view=modal)) == (
        "exchanged_trigger_id"
    )


async def test_membership_not_in_channel_then_join(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    assert await error_of(client.chat_postMessage(channel="C0TEXTS", text="x")) == (
        "not_in_channel"
    )
    assert await error_of(client.conversations_history(channel="C0TEXTS")) == "not_in_channel"
    assert await error_of(client.chat_postMessage(channel="C0SECRET", text="x")) == (
        "channel_not_found"
    )
    assert await error_of(client.chat_postMessage(channel="C0NOPE", text="x")) == (
        "channel_not_found"
    )
    assert await error_of(client.chat_postMessage(channel="C0OLD", text="x")) == "is_archived"
    joined = await client.conversations_join(channel="C0TEXTS")
    assert joined["channel"]["is_member"] is True
    again = await client.conversations_join(channel="C0TEXTS")
    assert again["warning"] == "already_in_channel"
    await client.chat_postMessage(channel="#texts", text="now it works")
    assert sim.messages("C0TEXTS")[0]["text"] == "now it works"


async def test_metadata_round_trip_and_history_paging(
    client: AsyncWebClient, clock: FakeClock
) -> None:
    metadata = {"event_type": "ringcentral_sms", "event_payload": {"rc_uuid": "u-1", "item": "7"}}
    for n in range(5):
        await client.chat_postMessage(channel="C0CALLS", text=f"m{n}", metadata=metadata)
        clock.advance(1)
    plain = await client.conversations_history(channel="C0CALLS", limit=2)
    assert [m["text"] for m in plain["messages"]] == ["m4", "m3"]
    assert "metadata" not in plain["messages"][0]
    assert plain["has_more"] is True
    rest = await client.conversations_history(
        channel="C0CALLS",
        limit=10,
        cursor=plain["response_metadata"]["next_cursor"],
        include_all_metadata=True,
    )
    assert [m["text"] for m in rest["messages"]] == ["m2", "m1", "m0"]
    assert rest["messages"][0]["metadata"] == metadata
    window = await client.conversations_history(
        channel="C0CALLS", oldest=plain["messages"][1]["ts"], latest=plain["messages"][0]["ts"]
    )
    assert window["messages"] == []  # both ends exclusive unless inclusive=true
    bad = {"event_type": "x"}
    assert await error_of(client.chat_postMessage(channel="C0CALLS", text="t", metadata=bad)) == (
        "invalid_metadata_schema"
    )


# -- Slack's refusals (reference §4.1) ---------------------------------------------------------


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize(
    "blocks",
    [
        [section("x")] * 51,
        [section("x" * 3001)],
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "a",
                        "text": {"type": "plain_text", "text": "b" * 76},
                    }
                ],
            }
        ],
        [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": f"a{i}",
                        "text": {"type": "plain_text", "text": "b"},
                        "value": "v" * 2001 if i == 0 else "v",
                    }
                    for i in range(26)
                ],
            }
        ],
    ],
    ids=["51-blocks", "section-3001", "header-151", "button-76", "value-2001-and-26-elements"],
)
async def test_invalid_blocks_are_refused(
    sim: SlackSimulator, client: AsyncWebClient, blocks: list[dict[str, Any]]
) -> None:
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0CALLS", text="t", blocks=blocks)
    assert info.value.response["error"] == "invalid_blocks"
    assert all("json-pointer:/blocks" in e for e in info.value.response["errors"])
    assert sim.messages("C0CALLS") == []


async def test_limits_at_the_edge_are_accepted(client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C0CALLS", text="t", blocks=[section("x" * 3000)] * 50)


async def test_no_text_and_truncation(sim: SlackSimulator, client: AsyncWebClient) -> None:
    # (through api_call: chat_postMessage itself warns before sending a message without text)
    no_text = client.api_call("chat.postMessage", json={"channel": "C0CALLS", "text": ""})
    assert await error_of(no_text) == "no_text"
    long = await client.chat_postMessage(channel="C0CALLS", text="y" * 40_001)
    assert long["response_metadata"]["warnings"] == ["message_truncated"]
    assert len(sim.messages("C0CALLS")[0]["text"]) == 40_000


# -- faults ------------------------------------------------------------------------------------


async def test_429_retry_after_is_honoured_by_the_sdk_handler(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    sim.fail("chat.postMessage", status=429, retry_after=0)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0CALLS", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "0"
    assert info.value.response["error"] == "ratelimited"

    sim.fail("chat.postMessage", status=429, retry_after=0)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    await client.chat_postMessage(channel="C0CALLS", text="x")
    assert [c.status for c in sim.calls("chat.postMessage")] == [429, 429, 200]


async def test_server_errors_and_injected_codes(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    sim.fail("*", status=503, times=2)
    sim.fail("users.info", error="user_not_visible")
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            await client.auth_test()
        assert info.value.response.status_code == 503
    assert await error_of(client.users_info(user="U0ALICE")) == "user_not_visible"
    await client.users_info(user="U0ALICE")


async def test_channel_pace_enforced_on_the_fake_clock(clock: FakeClock) -> None:
    sim = SlackSimulator(token=TOKEN, clock=clock, channel_pace=(1.0, 2))
    sim.add_channel("C1", member=True)
    async with sim.serve(), aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=TOKEN, base_url=sim.api_url, session=session)
        await client.chat_postMessage(channel="C1", text="1")
        await client.chat_postMessage(channel="C1", text="2")
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel="C1", text="3")
        assert info.value.response.headers["Retry-After"] == "1"
        clock.advance(1)
        await client.chat_postMessage(channel="C1", text="3")
    assert sim.max_posts_in("C1", window=1.0) == 2


# -- files -------------------------------------------------------------------------------------


async def test_files_upload_v2_into_a_thread(sim: SlackSimulator, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C0CALLS", text="Fax from +1 650 555 0100")
    uploaded = await client.files_upload_v2(
        content=b"%PDF-1.4 fake",
        filename="fax.pdf",
        title="Fax",
        channel="C0CALLS",
        thread_ts=parent["ts"],
        initial_comment="New fax",
    )
    file_id = uploaded["file"]["id"]
    assert sim.files()[file_id].content == b"%PDF-1.4 fake"
    thread = sim.thread("C0CALLS", parent["ts"])
    assert thread[1]["files"][0]["id"] == file_id and thread[1]["text"] == "New fax"
    assert sim.calls("files.getUploadURLExternal")[0].params["length"] == "13"
    assert await error_of(
        client.files_upload_v2(content=b"x", filename="a", channel="C0TEXTS")
    ) == ("not_in_channel")


# -- response_url ------------------------------------------------------------------------------


async def test_response_url_allows_five_posts(sim: SlackSimulator, clock: FakeClock) -> None:
    url = sim.response_url(channel_id="C0CALLS", user_id="U0ALICE")
    webhook = AsyncWebhookClient(url)
    answers = [(await webhook.send(text=f"r{n}")) for n in range(6)]
    assert [(a.status_code, a.body) for a in answers] == [(200, "ok")] * 5 + [(404, "used_url")]
    assert [p.body["text"] for p in sim.responses(url)][:5] == [f"r{n}" for n in range(5)]
    assert len(sim.ephemerals("C0CALLS", "U0ALICE")) == 5
    late = sim.response_url(channel_id="C0CALLS")
    clock.advance(30 * 60 + 1)
    assert (await AsyncWebhookClient(late).send(text="late")).body == "expired_url"


async def test_response_url_in_channel_and_replace_original(
    sim: SlackSimulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C0CALLS", text="Missed call")
    url = sim.response_url(channel_id="C0CALLS", user_id="U0ALICE", message_ts=posted["ts"])
    await AsyncWebhookClient(url).send(text="Handled by <@U0ALICE>", replace_original=True)
    await AsyncWebhookClient(url).send(text="Calling back", response_type="in_channel")
    assert [m["text"] for m in sim.messages("C0CALLS")] == [
        "Handled by <@U0ALICE>",
        "Calling back",
    ]


# -- the inbound side --------------------------------------------------------------------------


def test_slack_encode() -> None:
    assert slack_encode("Tom & Jerry <3 > 2") == "Tom &amp; Jerry &lt;3 &gt; 2"
    assert slack_encode("ask @alice", mentions={"@alice": "U0ALICE"}) == "ask <@U0ALICE>"
    assert (
        slack_encode("see docs", links={"docs": "https://x.example/?a=1&b=2"})
        == "see <https://x.example/?a=1&amp;b=2|docs>"
    )
    assert slack_encode("go to https://x.example/a.", autolink=True) == (
        "go to <https://x.example/a>."
    )
    assert slack_encode("<!channel> in #general", channels={"#general": "C1"}) == (
        "&lt;!channel&gt; in <#C1|general>"
    )


def test_signature_accepted_by_slack_sdk(sim: SlackSimulator) -> None:
    body = "token=x&command=%2Fsms&text=hi"
    now = int(time.time())
    headers = sim.sign(body, now)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert not verifier.is_valid(
        body.replace("hi", "ho"), headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert not SignatureVerifier("other").is_valid(body, str(now), headers["X-Slack-Signature"])


@pytest.fixture
async def app_url() -> AsyncIterator[tuple[str, list[web.Request], list[bytes]]]:
    """A stand-in app that records what the simulator sends it."""
    seen: list[web.Request] = []
    bodies: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request)
        bodies.append(await request.read())
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events", seen, bodies
    await runner.cleanup()


async def test_send_command_encodes_and_signs(
    sim: SlackSimulator, app_url: tuple[str, list[web.Request], list[bytes]]
) -> None:
    url, seen, bodies = app_url
    delivery = await sim.send_command(
        url, "/sms", "+14155550123 Tom & Jerry <3", user_id="U0ALICE", channel_id="C0CALLS"
    )
    assert delivery.status == 200
    form = {k: v[0] for k, v in parse_qs(bodies[0].decode()).items()}
    assert form["text"] == "+14155550123 Tom &amp; Jerry &lt;3"
    assert form["command"] == "/sms" and form["response_url"] == delivery.response_url
    assert seen[0].content_type == "application/x-www-form-urlencoded"
    ts = seen[0].headers["X-Slack-Request-Timestamp"]
    assert SignatureVerifier(SECRET, clock=_At(int(ts))).is_valid(
        bodies[0], ts, seen[0].headers["X-Slack-Signature"]
    )


async def test_send_block_action_and_message_event(
    sim: SlackSimulator,
    client: AsyncWebClient,
    app_url: tuple[str, list[web.Request], list[bytes]],
) -> None:
    url, _, bodies = app_url
    button = {
        "type": "button",
        "action_id": "mark_handled",
        "value": "uuid-1|7",
        "text": {"type": "plain_text", "text": "Mark handled"},
    }
    posted = await client.chat_postMessage(
        channel="C0CALLS",
        text="Missed call",
        blocks=[{"type": "actions", "block_id": "acts", "elements": [button]}],
        metadata={"event_type": "ringcentral_missed_call", "event_payload": {"item": "7"}},
    )
    await sim.send_block_action(
        url, action_id="mark_handled", channel_id="C0CALLS", message_ts=posted["ts"]
    )
    payload = json.loads(parse_qs(bodies[0].decode())["payload"][0])
    assert payload["actions"][0]["value"] == "uuid-1|7"
    assert payload["actions"][0]["block_id"] == "acts"
    assert "metadata" not in payload["message"]
    with pytest.raises(ValueError, match="no element"):
        await sim.send_block_action(
            url, action_id="nope", channel_id="C0CALLS", message_ts=posted["ts"]
        )
    await sim.send_message(url, channel_id="C0CALLS", text="Sure & thanks", thread_ts=posted["ts"])
    envelope = json.loads(bodies[1])
    assert envelope["type"] == "event_callback"
    assert envelope["event"]["text"] == "Sure &amp; thanks"
    assert envelope["event"]["thread_ts"] == posted["ts"]
    assert sim.thread("C0CALLS", posted["ts"])[1]["user"] == "U0ALICE"


class _At(SignatureClock):
    """A slack_sdk signature Clock frozen at one instant."""

    def __init__(self, at: int) -> None:
        self.at = at

    def now(self) -> float:
        return float(self.at)


async def test_a_real_bolt_app_accepts_what_the_simulator_sends() -> None:
    """Bolt verifies signatures on wall time, so this simulator keeps the wall clock."""
    sim = SlackSimulator(token=TOKEN, signing_secret=SECRET)
    sim.add_channel("C0CALLS", "calls", member=True)
    async with sim.serve(), aiohttp.ClientSession() as session:
        bolt = AsyncApp(
            client=AsyncWebClient(token=TOKEN, base_url=sim.api_url, session=session),
            signing_secret=SECRET,
        )

        @bolt.command("/sms")
        async def sms(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
            await ack(f"got {command['text']}")
            await respond(text="sent", response_type="in_channel")

        app = web.Application()

        async def events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await bolt.async_dispatch(await to_bolt_request(request))
            )

        app.router.add_post("/slack/events", events)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
        try:
            delivery = await sim.send_command(url, "/sms", "a & b", channel_id="C0CALLS")
            for _ in range(300):  # respond() runs after the ack, in Bolt's background task
                if sim.responses(delivery.response_url):
                    break
                await asyncio.sleep(0.01)
            forged = await sim.post_signed(
                url, b"x=1", "application/x-www-form-urlencoded", timestamp=int(time.time()) - 301
            )
        finally:
            await runner.cleanup()
    assert (delivery.status, delivery.body) == (200, "got a &amp; b")
    assert forged.status == 401
    assert sim.calls("auth.test")[0].params["team_id"] == "T0SIM"
    assert [m["text"] for m in sim.messages("C0CALLS")] == ["sent"]
