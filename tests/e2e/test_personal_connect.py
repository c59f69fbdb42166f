"""Personal RingCentral accounts end to end (DESIGN §3.9, issue #12): `/ringcentral
connect` → RingCentral's authorize page (the simulator signs the person in) → the
callback → the person's own session; their `/sms` goes out with their own token from their
own number; disconnect revokes; a refused session is told once; no token in clear on disk
or in the log."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.clock import FakeClock
from bot.server import DEPS
from bot.sim.ringcentral import RingCentralSimulator
from bot.slack.render import CALL_BACK_ACTION, TEXT_BACK_ACTION
from tests.bridge import CALLS, USER, Bridge, running_bridge
from tests.databases import fresh_database, postgres_url

DANA_NUMBER = "+16505550102"  # extension 102's own SMS number in the simulator's world
TO = "+14155550123"
KEY = Fernet.generate_key().decode()


@pytest.fixture
async def bridge(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Bridge]:
    async with running_bridge(
        rc_sim, clock, database_url=await fresh_database(tmp_path), ringbridge_secret_key=KEY
    ) as running:
        rc_sim.register_redirect_uri(str(running.server.make_url("/ringcentral/oauth/callback")))
        yield running


def dana(rc: RingCentralSimulator) -> str:
    found = rc.world.extension_of_number(DANA_NUMBER)
    assert found is not None
    return found


def token_requests(rc: RingCentralSimulator) -> int:
    return len(rc.requests_to(r"/restapi/oauth/token$", "POST"))


def dm_channel(bridge: Bridge, user: str = USER) -> str | None:
    channels = bridge.slack.workspace.channels.values()
    found = [c.id for c in channels if c.im_user == user]
    return found[0] if found else None


def dm(bridge: Bridge, user: str = USER) -> list[dict[str, Any]]:
    """The bot's DM with `user`, oldest first."""
    channel = dm_channel(bridge, user)
    return bridge.slack.messages(channel) if channel else []


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button in {message}")


async def authorize_link(bridge: Bridge) -> str:
    delivery = await bridge.command("/ringcentral", "connect")
    (reply,) = bridge.replies(delivery)
    return str(button(reply, "ringcentral_connect")["url"])


async def sign_in(link: str) -> str:
    """The person's browser on RingCentral's authorize page: where it is sent back."""
    async with httpx.AsyncClient() as browser:
        page = await browser.get(link)
    assert page.status_code == 302, page.text
    return page.headers["Location"]


async def open_callback(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as browser:
        return await browser.get(url)


async def connect(bridge: Bridge, extension_id: str) -> httpx.Response:
    """The whole flow, the person confirming at the end (the Slack simulator's profiles
    carry no email, so every connection is held for confirmation)."""
    bridge.rc.approve_as(extension_id)
    page = await open_callback(await sign_in(await authorize_link(bridge)))
    assert page.status_code == 200, page.text
    held = dm(bridge)[-1]
    confirm = button(held, "ringcentral_connect_confirm")
    await bridge.slack.send_block_action(
        bridge.events_url,
        action_id="ringcentral_connect_confirm",
        channel_id=str(dm_channel(bridge)),
        message_ts=held["ts"],
        value=confirm["value"],
    )
    await bridge.settle()
    return page


async def test_the_whole_connect_flow_gives_the_person_their_own_session(bridge: Bridge) -> None:
    rc = bridge.rc
    link = await authorize_link(bridge)
    query = parse_qs(urlsplit(link).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [str(bridge.server.make_url("/ringcentral/oauth/callback"))]

    rc.approve_as(dana(rc))
    back = await sign_in(link)
    page = await open_callback(back)

    assert page.status_code == 200
    assert f"signed in as {rc.world.extension_info(dana(rc))['name']}" in page.text
    (exchange,) = [r for r in rc.requests_to(r"/oauth/token$") if r.form and
                   r.form.get("grant_type") == "authorization_code"]  # fmt: skip
    assert exchange.status == 200  # the simulator checked the verifier against the challenge
    assert exchange.headers["authorization"].startswith("Basic ")
    assert exchange.form is not None and exchange.form["code_verifier"]
    # Held until the person confirms it in Slack: the extension's email is not theirs.
    held = dm(bridge)[-1]
    assert "You connected as" in held["text"]
    assert dana(rc) in {s["owner_id"] for s in rc.sessions() if s["alive"]}
    async with httpx.AsyncClient() as scraper:
        metrics = (await scraper.get(str(bridge.server.make_url("/metrics")))).text
    assert 'grant="authorization_code",outcome="ok"} 1.0' in metrics


async def test_a_state_is_used_once_and_a_forged_one_makes_no_token_request(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    rc.approve_as(dana(rc))
    back = await sign_in(await authorize_link(bridge))
    assert (await open_callback(back)).status_code == 200
    before = token_requests(rc)

    replayed = await open_callback(back)
    parts = urlsplit(back)
    forged_url = back.replace(parse_qs(parts.query)["state"][0], "forged-state")
    forged = await open_callback(forged_url)
    missing = await open_callback(back.split("?")[0] + "?code=abc")

    assert (replayed.status_code, forged.status_code, missing.status_code) == (400, 400, 400)
    assert "already used" in replayed.text
    assert "not made by RingBridge" in forged.text
    assert token_requests(rc) == before


async def test_an_expired_state_is_refused(bridge: Bridge) -> None:
    rc = bridge.rc
    rc.approve_as(dana(rc))
    link = await authorize_link(bridge)
    bridge.clock.advance(601)
    rc_back = await sign_in(link)
    before = token_requests(rc)

    page = await open_callback(rc_back)

    assert page.status_code == 400 and "expired" in page.text
    assert token_requests(rc) == before


async def test_query_text_on_the_page_is_escaped(bridge: Bridge) -> None:
    rc = bridge.rc
    back = await sign_in(await authorize_link(bridge))
    state = parse_qs(urlsplit(back).query)["state"][0]
    evil = "<script>alert(1)</script>"
    url = str(bridge.server.make_url("/ringcentral/oauth/callback"))
    page = await open_callback(
        str(httpx.URL(url, params={"state": state, "error": "x", "error_description": evil}))
    )

    assert page.status_code == 400
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert not [r for r in rc.requests_to(r"/oauth/token$") if r.form and
                r.form.get("grant_type") == "authorization_code"]  # fmt: skip


async def test_another_accounts_user_is_refused_and_their_token_revoked(bridge: Bridge) -> None:
    rc = bridge.rc
    stranger = rc.foreign_user()
    rc.approve_as(stranger)

    page = await open_callback(await sign_in(await authorize_link(bridge)))

    assert page.status_code == 403
    assert "another company" in page.text
    assert [s["alive"] for s in rc.sessions() if s["owner_id"] == stranger] == [False]
    assert rc.requests_to(r"/oauth/revoke$")


async def test_a_refused_sign_in_leaves_an_existing_connection_as_it_was(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    await connect(bridge, dana(rc))
    rc.approve_as(rc.foreign_user())

    page = await open_callback(await sign_in(await authorize_link(bridge)))
    await bridge.command("/sms", f"{TO} still me")

    assert page.status_code == 403
    assert [s["alive"] for s in rc.sessions() if s["owner_id"] == dana(rc)] == [True]
    (sent,) = rc.requests_to(r"/sms$", "POST")
    assert sent.owner == dana(rc)


async def test_a_connected_persons_sms_goes_with_their_token_from_their_number(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    await connect(bridge, dana(rc))

    delivery = await bridge.command("/sms", f"{TO} hi from me")

    (sent,) = rc.requests_to(r"/sms$", "POST")
    assert sent.owner == dana(rc), bridge.reply_text(delivery)
    assert sent.json["from"] == {"phoneNumber": DANA_NUMBER}
    assert "Sent to" in bridge.reply_text(delivery)


async def test_someone_not_connected_still_texts_from_the_shared_number(bridge: Bridge) -> None:
    rc = bridge.rc
    await bridge.command("/sms", f"{TO} hi")

    (sent,) = rc.requests_to(r"/sms$", "POST")
    assert sent.owner == rc.extension_id


async def test_reconnecting_revokes_the_old_session_first(bridge: Bridge) -> None:
    rc = bridge.rc
    await connect(bridge, dana(rc))
    (first,) = [s for s in rc.sessions() if s["owner_id"] == dana(rc)]

    await connect(bridge, dana(rc))

    sessions = {s["session_id"]: s["alive"] for s in rc.sessions() if s["owner_id"] == dana(rc)}
    assert sessions.pop(first["session_id"]) is False
    assert list(sessions.values()) == [True]


async def test_disconnect_revokes_the_session(bridge: Bridge) -> None:
    rc = bridge.rc
    await connect(bridge, dana(rc))

    delivery = await bridge.command("/ringcentral", "disconnect")

    assert "Disconnected" in bridge.reply_text(delivery)
    assert [s["alive"] for s in rc.sessions() if s["owner_id"] == dana(rc)] == [False]
    await bridge.command("/sms", f"{TO} after")
    (sent,) = rc.requests_to(r"/sms$", "POST")
    assert sent.owner == rc.extension_id  # back on the shared session


async def test_a_deactivated_slack_account_is_disconnected(bridge: Bridge) -> None:
    rc = bridge.rc
    await connect(bridge, dana(rc))

    event = {"type": "user_change", "user": {"id": USER, "deleted": True}}
    await bridge.slack.send_event(bridge.events_url, event)
    await bridge.settle()

    assert [s["alive"] for s in rc.sessions() if s["owner_id"] == dana(rc)] == [False]


async def test_app_homes_connect_button_sends_a_link_in_a_dm(bridge: Bridge) -> None:
    await bridge.slack.send_block_action(
        bridge.events_url, action_id="ringcentral_connect", channel_id="C0GENERAL"
    )
    await bridge.settle()

    link = button(dm(bridge)[-1], "ringcentral_connect")["url"]
    assert "/restapi/oauth/authorize?" in link and "code_challenge=" in link


async def test_a_refused_session_is_told_once_and_nothing_goes_on_the_shared_one(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    await connect(bridge, dana(rc))
    dms_before = len(dm(bridge))
    rc.end_sessions_of(dana(rc))  # a password change: RingCentral ends their sessions

    first = await bridge.command("/sms", f"{TO} one")
    second = await bridge.command("/sms", f"{TO} two")

    assert "connection has ended" in bridge.reply_text(first)
    told = [m for m in dm(bridge)[dms_before:] if "connection has ended" in m["text"]]
    assert len(told) == 1
    sent = rc.requests_to(r"/sms$", "POST")
    # The first was not sent on the shared session; the second, after they were told, was.
    assert [(r.owner, r.status) for r in sent][-1] == (rc.extension_id, 200)
    assert [r.json["text"] for r in sent if r.status == 200] == ["two"]
    assert "Sent to" in bridge.reply_text(second)


async def test_status_shows_the_extension_numbers_and_the_phone_select(bridge: Bridge) -> None:
    rc = bridge.rc
    rc.add_forwarding_number(dana(rc), "+14155550199", "Mobile")
    await connect(bridge, dana(rc))

    delivery = await bridge.command("/ringcentral", "status")

    read = bridge.reply_text(delivery)
    assert "Connected as" in read and "ext. 102" in read
    assert "(650) 555-0102" in read
    (reply,) = bridge.replies(delivery)
    accessory = [b.get("accessory") for b in reply["blocks"] if b.get("accessory")]
    assert accessory and accessory[0]["action_id"] == "ringcentral_ringout_from"
    assert "+14155550199" in [o["value"] for o in accessory[0]["options"]]


def _database_bytes(folder: Path) -> bytes:
    """The SQLite file and its write-ahead log, as they are on disk."""
    return b"".join(p.read_bytes() for p in folder.iterdir() if re.match(r"t\.db(-wal)?$", p.name))


async def test_no_token_in_clear_in_the_database_file_or_the_log(
    rc_sim: RingCentralSimulator,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if postgres_url():
        pytest.skip("reads the SQLite file's bytes; PostgreSQL keeps no file here")
    caplog.set_level(logging.DEBUG)
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, database_url=url, ringbridge_secret_key=KEY) as bridge:
        rc_sim.register_redirect_uri(str(bridge.server.make_url("/ringcentral/oauth/callback")))
        await connect(bridge, dana(rc_sim))
        await bridge.command("/sms", f"{TO} hi")
        rc_sim.expire_access_tokens()  # every session refreshes: new tokens stored
        await bridge.command("/sms", f"{TO} again")
        tokens = {
            t
            for s in rc_sim._state.auth.sessions.values()
            for t in (s.access_token, s.refresh_token)
        }
    assert len(tokens) >= 4
    stored = await asyncio.to_thread(_database_bytes, tmp_path)
    assert stored
    logged = caplog.text
    for token in tokens:
        assert token.encode() not in stored
        assert token not in logged


async def test_a_thread_number_that_is_not_theirs_goes_on_the_shared_session(
    bridge: Bridge,
) -> None:
    from bot.slack.commands import sms

    rc = bridge.rc
    await connect(bridge, dana(rc))
    service_number = rc.world.numbers_with_feature(rc.extension_id, "SmsSender")[0]
    said: list[str] = []

    async def say(reply: Any) -> None:
        said.append(reply.text)

    deps = bridge.server.app[DEPS]
    team = bridge.slack.workspace.identity.team_id
    await sms.send(deps, USER, TO, "from the team's number", say, from_number=service_number,
                   team_id=team)  # fmt: skip
    await sms.send(deps, USER, TO, "from my number", say, from_number=DANA_NUMBER, team_id=team)

    owners = [(r.owner, r.json["from"]["phoneNumber"]) for r in rc.requests_to(r"/sms$", "POST")]
    assert owners == [(rc.extension_id, service_number), (dana(rc), DANA_NUMBER)], said


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({}, "must set RINGBRIDGE_SECRET_KEY"),
        ({"ringbridge_secret_key": KEY, "public_url": None, "ringcentral_events": "websocket"},
         "must set PUBLIC_URL or RINGCENTRAL_REDIRECT_URL"),
    ],
)  # fmt: skip
async def test_connect_says_what_the_admin_must_set_when_it_is_off(
    rc_sim: RingCentralSimulator,
    clock: FakeClock,
    tmp_path: Path,
    settings: dict[str, Any],
    says: str,
) -> None:
    url = await fresh_database(tmp_path)
    async with running_bridge(rc_sim, clock, database_url=url, **settings) as bridge:
        delivery = await bridge.command("/ringcentral", "connect")
        page = await open_callback(str(bridge.server.make_url("/ringcentral/oauth/callback")))

    assert says in bridge.reply_text(delivery)
    assert page.status_code == 404


async def test_a_penalty_on_the_shared_session_does_not_stop_a_connected_person(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    await connect(bridge, dana(rc))
    bridge.slack.add_user("U0BOB", "bob", real_name="Bob Example")
    await bridge.command("/ringcentral", "status", user_id="U0BOB")  # the account's facts
    rc.fail_next_with_429()

    refused = await bridge.command("/sms", f"{TO} from bob", user_id="U0BOB")
    mine = await bridge.command("/sms", f"{TO} from dana")

    assert "limit" in bridge.reply_text(refused)
    assert "Sent to" in bridge.reply_text(mine)
    # Hers went at once, while the shared session's penalty (30 s) still ran.
    (bobs, hers) = rc.requests_to(r"/sms$", "POST")
    assert (bobs.owner, bobs.status, hers.owner, hers.status) == (
        rc.extension_id,
        429,
        dana(rc),
        200,
    )
    assert hers.time == bobs.time
    assert (
        bridge.server.app[DEPS].rc.wait_time("POST", "/restapi/v1.0/account/~/extension/~/sms") > 0
    )


async def test_a_connected_persons_call_rings_their_chosen_phone_on_their_session(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    rc.add_forwarding_number(dana(rc), "+14155550198", "Desk")
    rc.add_forwarding_number(dana(rc), "+14155550199", "Mobile")
    await connect(bridge, dana(rc))
    await bridge.command("/ringcentral", "status")
    await bridge.slack.send_block_action(
        bridge.events_url,
        action_id="ringcentral_ringout_from",
        channel_id="C0GENERAL",
        selected="+14155550199",
    )
    await bridge.settle()

    await bridge.command("/call", "+1 415 555 0123")

    (placed,) = rc.requests_to(r"/ring-out$", "POST")
    assert placed.owner == dana(rc)
    assert placed.json["from"] == {"phoneNumber": "+14155550199"}


async def test_a_connected_persons_calllog_is_read_with_their_session(bridge: Bridge) -> None:
    rc = bridge.rc
    await connect(bridge, dana(rc))

    await bridge.command("/calllog", "")

    (read,) = rc.requests_to(r"/call-log$", "GET")
    assert read.owner == dana(rc) and read.status == 200


async def test_a_connected_persons_call_back_rings_their_phone_on_their_session(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    rc.add_forwarding_number(dana(rc), "+14155550198", "Desk")
    await connect(bridge, dana(rc))
    if bridge.listener is None:
        await bridge.subscribe()
    await rc.call("missed", caller=TO, extension_id=rc.extension_id)
    await bridge.dispatch()
    (notice,) = bridge.channel(CALLS)

    await bridge.slack.send_block_action(
        bridge.events_url, action_id=CALL_BACK_ACTION, channel_id=CALLS, message_ts=notice["ts"]
    )
    await bridge.settle()

    (placed,) = rc.requests_to(r"/ring-out$", "POST")
    assert placed.owner == dana(rc)
    assert placed.json["from"] == {"phoneNumber": "+14155550198"}
    assert placed.json["to"] == {"phoneNumber": TO}


async def test_a_connected_persons_text_back_from_their_number_goes_on_their_session(
    bridge: Bridge,
) -> None:
    rc = bridge.rc
    await connect(bridge, dana(rc))
    if bridge.listener is None:
        await bridge.subscribe()
    # A missed call to Dana's own number: Text back offers to answer from it.
    await rc.call("missed", caller=TO, extension_id=rc.extension_id, to_number=DANA_NUMBER)
    await bridge.dispatch()
    (notice,) = bridge.channel(CALLS)

    await bridge.slack.send_block_action(
        bridge.events_url, action_id=TEXT_BACK_ACTION, channel_id=CALLS, message_ts=notice["ts"]
    )
    await bridge.settle()
    await bridge.slack.send_view_submission(
        bridge.events_url,
        values={"text_back_text": {"text_back_text": {"type": "plain_text_input", "value": "hi"}}},
    )
    await bridge.settle()

    (sent,) = rc.requests_to(r"/sms$", "POST")
    assert sent.owner == dana(rc)
    assert sent.json["from"] == {"phoneNumber": DANA_NUMBER}
