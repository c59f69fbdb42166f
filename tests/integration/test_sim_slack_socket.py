"""The Slack simulator's Socket Mode, driven by hand over loopback: the tokens
`apps.connections.open` takes, `hello`, envelopes and Slack's 3 s for their acks, retries,
connections sharing the traffic, `disconnect`, and the limit of 10 connections."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sim import SlackSender, SlackSimulator

Ws = aiohttp.ClientWebSocketResponse


@pytest.fixture
async def sim() -> AsyncIterator[SlackSimulator]:
    slack = SlackSimulator()
    slack.add_channel("C0GENERAL", "general", member=True)
    slack.socket.ack_within = 0.3  # Slack's 3 s, shortened where a test waits it out
    async with slack.serve():
        yield slack


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


async def open_url(sim: SlackSimulator, session: aiohttp.ClientSession, token: str) -> str:
    client = AsyncWebClient(base_url=sim.api_url, session=session)
    return str((await client.apps_connections_open(app_token=token))["url"])


async def connect(sim: SlackSimulator, session: aiohttp.ClientSession) -> tuple[Ws, dict[str, Any]]:
    ws = await session.ws_connect(await open_url(sim, session, sim.app_token))
    return ws, await ws.receive_json()


async def ack_next(ws: Ws, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read the next envelope and ack it (with `payload`)."""
    envelope = await ws.receive_json()
    answer: dict[str, Any] = {"envelope_id": envelope["envelope_id"]}
    if payload is not None:
        answer["payload"] = payload
    await ws.send_str(json.dumps(answer))
    return dict(envelope)


async def slack_error(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


# -- apps.connections.open -------------------------------------------------------------------


async def test_only_an_app_level_token_opens_a_connection(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    url = await open_url(sim, session, sim.app_token)
    assert url.startswith("ws://127.0.0.1:") and "/link/?ticket=" in url and "app_id=A0SIM" in url

    client = AsyncWebClient(base_url=sim.api_url, session=session)
    bot = client.apps_connections_open(app_token=sim.tokens[0])
    assert await slack_error(bot) == "not_allowed_token_type"
    assert await slack_error(client.apps_connections_open(app_token="xapp-1-x")) == "invalid_auth"
    as_bot = AsyncWebClient(token=sim.app_token, base_url=sim.api_url, session=session)
    assert await slack_error(as_bot.auth_test()) == "not_allowed_token_type"


async def test_an_app_token_without_connections_write_is_missing_a_scope(
    session: aiohttp.ClientSession,
) -> None:
    sim = SlackSimulator(app_token_scopes=("authorizations:read",))
    async with sim.serve():
        client = AsyncWebClient(base_url=sim.api_url, session=session)
        with pytest.raises(SlackApiError) as info:
            await client.apps_connections_open(app_token=sim.app_token)

    assert info.value.response["error"] == "missing_scope"
    assert info.value.response["needed"] == "connections:write"


async def test_a_url_opens_one_connection_only(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    url = await open_url(sim, session, sim.app_token)
    first = await session.ws_connect(url)
    assert (await first.receive_json())["type"] == "hello"

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(url)
    assert refused.value.status == 401
    await first.close()


async def test_hello_counts_the_apps_connections(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    first, hello = await connect(sim, session)
    second, again = await connect(sim, session)

    assert hello["num_connections"] == 1
    assert again["num_connections"] == 2
    assert again["debug_info"]["approximate_connection_time"] > 0
    assert again["connection_info"] == {"app_id": "A0SIM"}
    await first.close()
    await second.close()


# -- envelopes ------------------------------------------------------------------------------


async def test_a_slash_command_travels_as_an_envelope_and_its_ack_answers(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    ws, _ = await connect(sim, session)

    sending = asyncio.create_task(sim.send_command(sim.socket_mode_url, "/sms", "+1 415 hi & <b>"))
    envelope = await ack_next(ws, {"text": "on it"})
    delivery = await sending

    assert envelope["type"] == "slash_commands"
    assert envelope["accepts_response_payload"] is True
    assert (envelope["retry_attempt"], envelope["retry_reason"]) == (0, "")
    payload = envelope["payload"]
    assert payload["command"] == "/sms"
    assert payload["text"] == "+1 415 hi &amp; &lt;b&gt;"  # Slack's encoding, as over HTTP
    assert payload["response_url"] == delivery.response_url
    assert delivery.status == 200
    assert delivery.json() == {"text": "on it"}
    assert delivery.seconds_to_ack is not None and delivery.seconds_to_ack < 0.3
    await ws.close()


async def test_a_command_not_acked_in_time_is_not_sent_again(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    ws, _ = await connect(sim, session)

    delivery = await sim.send_command(sim.socket_mode_url, "/sms", "hello")
    first = await ws.receive_json()
    await ws.send_str(json.dumps({"envelope_id": first["envelope_id"]}))  # too late
    await asyncio.sleep(0.05)

    assert (delivery.status, delivery.attempts) == (408, 1)
    assert sim.socket.late_acks == [first["envelope_id"]]
    await ws.close()


async def test_an_event_not_acked_is_sent_again_three_times(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    ws, _ = await connect(sim, session)

    delivery = await sim.send_event(sim.socket_mode_url, {"type": "app_home_opened"})
    envelopes = [await ws.receive_json() for _ in range(4)]

    assert delivery.status == 408
    assert delivery.attempts == 4
    assert [(e["retry_attempt"], e["retry_reason"]) for e in envelopes] == [
        (0, ""), (1, "timeout"), (2, "timeout"), (3, "timeout"),
    ]  # fmt: skip
    assert {e["payload"]["event_id"] for e in envelopes} == {delivery.sent["event_id"]}
    assert all(e["type"] == "events_api" and not e["accepts_response_payload"] for e in envelopes)
    await ws.close()


async def test_an_event_acked_on_its_retry_counts_both_tries(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    ws, _ = await connect(sim, session)

    sending = asyncio.create_task(sim.send_event(sim.socket_mode_url, {"type": "app_home_opened"}))
    ignored = await ws.receive_json()
    retried = await ack_next(ws)
    delivery = await sending

    assert (delivery.status, delivery.attempts) == (200, 2)
    assert retried["retry_attempt"] == 1
    assert retried["envelope_id"] != ignored["envelope_id"]
    await ws.close()


async def test_a_click_carries_its_payload_and_no_answer_in_the_ack(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    ws, _ = await connect(sim, session)

    sending = asyncio.create_task(
        sim.send_block_action(
            sim.socket_mode_url, action_id="mark_handled", channel_id="C0GENERAL", value="v"
        )
    )
    envelope = await ack_next(ws, {"text": "ignored: block actions answer elsewhere"})
    delivery = await sending

    assert envelope["type"] == "interactive"
    assert envelope["accepts_response_payload"] is False
    assert envelope["payload"]["type"] == "block_actions"
    assert envelope["payload"]["actions"][0]["value"] == "v"
    assert (delivery.status, delivery.body) == (200, "")
    await ws.close()


async def test_envelopes_take_turns_over_the_apps_connections(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    connections = [(await connect(sim, session))[0] for _ in range(2)]
    seen = [0, 0]

    async def answer(index: int) -> None:
        while True:
            await ack_next(connections[index])
            seen[index] += 1

    answering = [asyncio.create_task(answer(i)) for i in range(2)]
    for _ in range(6):
        assert (await sim.send_command(sim.socket_mode_url, "/sms", "x")).status == 200

    assert seen == [3, 3]
    for task in answering:
        task.cancel()
    for ws in connections:
        await ws.close()


async def test_without_a_connection_nothing_is_delivered(sim: SlackSimulator) -> None:
    delivery = await sim.send_command(sim.socket_mode_url, "/sms", "anyone?")

    assert delivery.status == 503


async def test_a_sender_alone_has_no_socket_and_raw_bodies_go_over_http_only(
    sim: SlackSimulator,
) -> None:
    async with SlackSender("secret") as sender:
        with pytest.raises(RuntimeError, match="Socket Mode"):
            await sender.send_command(sim.socket_mode_url, "/sms", "x", response_url="http://x/")
    with pytest.raises(ValueError, match="over HTTP"):
        await sim.post_signed(sim.socket_mode_url, b"a=b", "application/x-www-form-urlencoded")


# -- disconnects and limits -----------------------------------------------------------------


@pytest.mark.parametrize("reason", ["refresh_requested", "warning", "link_disabled"])
async def test_disconnect_tells_every_connection_then_closes_it(
    sim: SlackSimulator, session: aiohttp.ClientSession, reason: str
) -> None:
    ws, _ = await connect(sim, session)

    assert await sim.socket.disconnect(reason, close_after=0.1) == 1
    message = await ws.receive_json()
    closing = await ws.receive()

    assert message["type"] == "disconnect"
    assert message["reason"] == reason
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert sim.socket.open_connections() == []


async def test_a_told_connection_gets_no_more_envelopes(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    old, _ = await connect(sim, session)
    await sim.socket.disconnect("warning", close_after=5)
    new, _ = await connect(sim, session)

    sending = asyncio.create_task(sim.send_command(sim.socket_mode_url, "/sms", "x"))
    await ack_next(new)

    assert (await sending).status == 200
    assert (await old.receive_json())["type"] == "disconnect"  # and nothing after it
    await old.close()
    await new.close()


async def test_the_eleventh_connection_is_refused_as_too_many(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    ten = [(await connect(sim, session))[0] for _ in range(10)]

    eleventh = await session.ws_connect(await open_url(sim, session, sim.app_token))
    refused = await eleventh.receive_json()
    closing = await eleventh.receive()

    assert (refused["type"], refused["reason"]) == ("disconnect", "too_many_websockets")
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert len(sim.socket.open_connections()) == 10
    for ws in ten:
        await ws.close()


async def test_drop_loses_connections_without_a_word(
    sim: SlackSimulator, session: aiohttp.ClientSession
) -> None:
    ws, _ = await connect(sim, session)

    assert sim.socket.drop() == 1
    lost = await ws.receive()

    assert lost.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
