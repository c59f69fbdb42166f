"""Both simulators in a child process (`bot.sim.Simulators`), driven over the pipe: what
the crash, durability and soak tests and the benchmarks rely on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sim import CHANNEL, ServerProcess, Simulators

pytestmark = pytest.mark.asyncio(loop_scope="module")  # one child process for the module


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sims() -> AsyncIterator[Simulators]:
    async with Simulators() as started:
        yield started


@pytest_asyncio.fixture(loop_scope="module")
async def slack(sims: Simulators) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(
            token=sims.info.slack_bot_token, base_url=sims.info.slack_api_url, session=session
        )


async def test_slack_faults_and_what_slack_holds(sims: Simulators, slack: AsyncWebClient) -> None:
    await sims.slack_fail("chat.postMessage", status=500, store=True)
    with pytest.raises(SlackApiError) as failed:
        await slack.chat_postMessage(channel=CHANNEL, text="stored, then 500")
    assert failed.value.response.status_code == 500
    await slack.chat_postMessage(channel=CHANNEL, text="then fine")

    texts = [m["text"] for m in await sims.slack_messages(CHANNEL)]
    assert texts[-2:] == ["stored, then 500", "then fine"]
    calls = await sims.slack_calls("chat.postMessage")
    assert [(c.status, c.ok) for c in calls[-2:]] == [(500, False), (200, True)]
    log = await sims.slack_post_log()
    assert [(p["status"], p["channel"]) for p in log[-2:]] == [(500, CHANNEL), (200, CHANNEL)]


async def test_ringcentral_events_requests_and_secrets(sims: Simulators) -> None:
    info = sims.info
    async with httpx.AsyncClient(base_url=info.rc_server_url) as http:
        token = await http.post(
            "/restapi/oauth/token",
            auth=(info.rc_client_id, info.rc_client_secret),
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": info.rc_jwt,
            },
        )
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]

    sms = await sims.rc_incoming_sms("+14155550123", "hello")
    assert sms["id"] and sms["extension_id"]
    assert await sims.rc_event("incoming_fax", from_number="+14155550124")

    log = await sims.rc_request_log()
    assert [(r["method"], r["group"], r["status"]) for r in log] == [("POST", "Auth", 200)]
    secrets = set(await sims.secrets())
    assert {info.rc_client_secret, info.rc_jwt, access, info.slack_bot_token} <= secrets
    assert info.slack_signing_secret in secrets


async def test_a_failed_operation_is_raised_here_and_the_child_keeps_serving(
    sims: Simulators,
) -> None:
    with pytest.raises(RuntimeError, match="unknown RingCentral event"):
        await sims.rc_event("earthquake")
    with pytest.raises(RuntimeError, match="KeyError"):
        await sims.slack_messages("C0NOWHERE")
    assert await sims.rc_subscriptions() == []


async def test_closed_simulators_answer_nothing() -> None:
    sims = Simulators()
    await sims.start()
    url = sims.info.slack_api_url
    await sims.close()
    with pytest.raises(RuntimeError, match="not started"):
        await sims.slack_calls()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.post(f"{url}auth.test")


async def test_a_server_that_exits_at_start_is_reported_at_once(sims: Simulators) -> None:
    server = ServerProcess(sims.info, extra_env={"DATABASE_URL": "nowhere://at-all"})
    try:
        # The exit ends the wait (RuntimeError); waiting out /healthz would be a TimeoutError.
        with pytest.raises(RuntimeError, match="exited with 2") as failed:
            await server.start()
    finally:
        await server.close()
    assert "DATABASE_URL" in str(failed.value)  # its log says why


async def test_slack_paces_each_channel_as_slack_does(
    sims: Simulators, slack: AsyncWebClient
) -> None:
    # SimOptions.slack_channel_pace: on by default, with Slack's numbers (1 a second, a
    # burst of 2), so the bridges of the e2e and soak tests meet Slack's 429s.
    await sims.slack_add_channels(["C0PACE"])
    statuses = []
    for text in ("1", "2", "3", "4"):
        try:
            await slack.chat_postMessage(channel="C0PACE", text=text)
            statuses.append(200)
        except SlackApiError as refused:
            statuses.append(refused.response.status_code)
            assert refused.response.headers["Retry-After"] == "1"
    # Past the burst of 2 a post is refused, unless a whole second went by on a busy host.
    assert statuses[:2] == [200, 200] and 429 in statuses


async def test_permission_scope_and_deletion_controls_over_the_pipe(
    sims: Simulators, slack: AsyncWebClient
) -> None:
    got: list[dict[str, Any]] = []

    async def events(request: web.Request) -> web.Response:
        got.append(json.loads(await request.read()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/slack/events", events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        await sims.slack_subscribe_events(
            f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events", delays=(0.0,)
        )
        await sims.slack_add_channels(["C0DELETE"])
        posted = await slack.chat_postMessage(channel="C0DELETE", text="parent")
        assert await sims.slack_delete_message("C0DELETE", posted["ts"]) == 200
        assert [e["event"]["deleted_ts"] for e in got] == [posted["ts"]]
    finally:
        await runner.cleanup()

    await sims.slack_remove_scopes("files:read")
    assert "files:read" not in (await slack.auth_test()).headers["x-oauth-scopes"].split(",")

    info = sims.info
    async with httpx.AsyncClient(base_url=info.rc_server_url) as http:
        await sims.rc_remove_app_permissions("RingOut")
        await sims.rc_set_service_user_admin(False)
        token = await http.post(
            "/restapi/oauth/token",
            auth=(info.rc_client_id, info.rc_client_secret),
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": info.rc_jwt,
            },
        )
        assert "RingOut" not in token.json()["scope"].split(" ")
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        company = await http.get("/restapi/v1.0/account/~/call-log")
        assert company.json()["errors"][0]["errorCode"] == "CMN-408"
        await sims.rc_set_service_user_admin(True)
        assert (await http.get("/restapi/v1.0/account/~/call-log")).status_code == 200
