"""People act as themselves (DESIGN §3.9): linked by email, `[people] links`, the phone
`/call` rings first, `[permissions]` refusals before any RingCentral call, DM routes. The
real server between both simulators, over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import BridgeConfig, PeopleConfig, PermissionsConfig, Route
from bot.server import DEPS, METRICS
from bot.sim import RingCentralSimulator
from bot.store import Link
from tests.bridge import CALLS, CHANNEL, TEXTS, USER, Bridge, running_bridge
from tests.conftest import fresh_database

CALLEE = "+14155550123"
DANA = "U0DANA"  # Slack person whose email is ext. 101's (the service user, Dana Whitfield)
DANA_EMAIL = "D.Whitfield@Brightwater.example.com"  # case differs from RingCentral's
DANA_DIRECT = "+16505550101"


def ext_id(rc: RingCentralSimulator, number: str) -> str:
    world = rc.world
    return next(
        i for i in world.extension_ids() if world.extension_info(i)["extensionNumber"] == number
    )


def by_number(links: list[Link]) -> dict[str, Link]:
    return {link.extension_number or "": link for link in links}


@pytest.fixture
def config() -> BridgeConfig:
    return BridgeConfig(routes=[Route(events=["missed_call"], channel=CALLS)])


@pytest.fixture
async def bridge(
    rc_sim: RingCentralSimulator, clock: FakeClock, tmp_path: Path, config: BridgeConfig
) -> AsyncIterator[Bridge]:
    async with running_bridge(
        rc_sim, clock, config, database_url=await fresh_database(tmp_path)
    ) as running:
        running.slack.add_user(DANA, "dana", real_name="Dana Whitfield", email=DANA_EMAIL)
        yield running


def ringouts(bridge: Bridge) -> list[dict[str, object]]:
    return [r.json for r in bridge.rc.requests_to(r"/ring-out$", "POST")]


# -- linked by email -------------------------------------------------------------------------


async def test_a_linked_persons_call_rings_their_own_phone_first_with_the_prompt(
    bridge: Bridge,
) -> None:
    await bridge.people.refresh()

    reply = await bridge.command("/call", CALLEE, user_id=DANA)

    (ringout,) = ringouts(bridge)
    assert ringout["from"] == {"phoneNumber": DANA_DIRECT}
    assert ringout["to"] == {"phoneNumber": CALLEE}
    assert ringout["playPrompt"] is True
    text = bridge.reply_text(reply)
    assert "direct number of ext. 101" in text
    assert "press 1" in text


async def test_an_unlinked_person_rings_the_admins_phone_and_is_told_why(
    bridge: Bridge,
) -> None:
    deps = bridge.server.app[DEPS]
    deps.commands = deps.commands.model_copy(update={"ringout_from": "+16505550111"})
    await bridge.people.refresh()

    reply = await bridge.command("/call", CALLEE, user_id=USER)

    (ringout,) = ringouts(bridge)
    assert ringout["from"] == {"phoneNumber": "+16505550111"}
    assert "playPrompt" not in ringout
    assert "ringout_from" in bridge.reply_text(reply)


async def test_an_email_two_extensions_share_links_no_one(bridge: Bridge) -> None:
    bridge.rc.set_contact_email("102", "front@brightwater.example.com")
    bridge.rc.set_contact_email("103", "Front@brightwater.example.com")
    bridge.slack.add_user("U0FRONT", "front", email="front@brightwater.example.com")

    found = await bridge.people.refresh()

    links = by_number(found.links)
    assert links["101"].slack_user == DANA and links["101"].how == "email"
    for number in ("102", "103"):
        assert links[number].slack_user is None
        assert links[number].how == "conflict"
        assert "shared by ext. 102, 103" in (links[number].detail or "")
    assert "106" not in links  # not activated: never linked


async def test_guests_deactivated_bots_and_other_orgs_are_never_linked(bridge: Bridge) -> None:
    emails = {n: f"x{n}@brightwater.example.com" for n in ("102", "103", "104", "105")}
    for number, email in emails.items():
        bridge.rc.set_contact_email(number, email)
    bridge.slack.add_user("U0GUEST", "g", email=emails["102"], guest=True)
    bridge.slack.add_user("U0GONE", "d", email=emails["103"], deleted=True)
    bridge.slack.add_user("U0OTHER", "o", email=emails["104"], other_org=True)
    bridge.slack.add_user("U0ROBOT", "r", email=emails["105"], is_bot=True)

    links = by_number((await bridge.people.refresh()).links)

    assert [links[n].slack_user for n in emails] == [None] * 4
    assert "guest" in (links["102"].detail or "")
    assert "deactivated" in (links["103"].detail or "")
    assert "another organisation" in (links["104"].detail or "")
    reply = await bridge.command("/call", CALLEE + " from +16505550111", user_id="U0GUEST")
    assert "direct number" not in bridge.reply_text(reply)


@pytest.mark.parametrize(
    "config",
    [
        BridgeConfig(
            routes=[Route(events=["missed_call"], channel=CALLS)],
            people=PeopleConfig(links={USER: "102", DANA: ""}),
        )
    ],
)
async def test_people_links_override_the_emails(bridge: Bridge) -> None:
    links = by_number((await bridge.people.refresh()).links)
    assert links["102"].slack_user == USER and links["102"].how == "config"
    assert links["101"].slack_user is None  # Dana's email would link her; "" says no one

    await bridge.command("/call", CALLEE, user_id=USER)
    (ringout,) = ringouts(bridge)
    assert ringout["from"] == {"phoneNumber": "+16505550102"}


async def test_a_directory_change_is_noticed_without_asking_slack(bridge: Bridge) -> None:
    await bridge.people.refresh()
    lookups = len(bridge.slack.calls("users.lookupByEmail"))
    assert not await bridge.people.directory_changed()

    bridge.rc.set_contact_email("102", "marcus@brightwater.example.com")

    assert await bridge.people.directory_changed()
    assert len(bridge.slack.calls("users.lookupByEmail")) == lookups


async def test_without_the_email_scope_nobody_is_linked_and_it_says_why(bridge: Bridge) -> None:
    bridge.slack.remove_scopes("users:read.email")
    found = await bridge.people.refresh()
    assert all(link.slack_user is None for link in found.links)
    assert found.problem is not None and "users:read.email" in found.problem


# -- [permissions] ---------------------------------------------------------------------------

GUARDED = BridgeConfig(
    routes=[Route(events=["missed_call"], channel=CALLS)],
    commands={"ringout_from": "+16505550111"},  # type: ignore[arg-type]
    permissions=PermissionsConfig(sms=["@sales"], call=["#calls"], company_calllog=["S0BOSS"]),
)


@pytest.mark.parametrize("config", [GUARDED])
async def test_sms_refused_outside_the_listed_user_group_makes_no_ringcentral_call(
    bridge: Bridge,
) -> None:
    bridge.slack.add_usergroup("S0SALES", "sales", [DANA])
    before = len(bridge.rc.requests)

    reply = await bridge.command("/sms", f"{CALLEE} Running late", user_id=USER)

    assert "`[permissions] sms`" in bridge.reply_text(reply)
    assert bridge.rc.requests[before:] == []  # not even a lookup
    sent = await bridge.command("/sms", f"{CALLEE} Running late", user_id=DANA)
    assert "Sent" in bridge.reply_text(sent)
    assert len(bridge.rc.requests_to(r"/sms$", "POST")) == 1


@pytest.mark.parametrize("config", [GUARDED])
async def test_call_is_allowed_only_in_the_listed_channel(bridge: Bridge) -> None:
    refused = await bridge.command("/call", CALLEE, user_id=USER, channel_id=CHANNEL)
    assert "`[permissions] call`" in bridge.reply_text(refused)
    assert ringouts(bridge) == []

    await bridge.command("/call", CALLEE, user_id=USER, channel_id=CALLS)
    assert len(ringouts(bridge)) == 1


@pytest.mark.parametrize("config", [GUARDED])
async def test_other_extensions_calls_need_company_calllog(bridge: Bridge) -> None:
    bridge.slack.add_usergroup("S0BOSS", "boss", [DANA])
    await bridge.people.refresh()

    refused = await bridge.command("/calllog", "ext:102", user_id=USER)
    assert "`[permissions] company_calllog`" in bridge.reply_text(refused)
    assert bridge.rc.requests_to(r"/call-log") == []

    await bridge.command("/calllog", "ext:102", user_id=DANA)
    assert len(bridge.rc.requests_to(r"/call-log")) == 1


async def test_everyone_means_full_members_not_guests(bridge: Bridge) -> None:
    bridge.slack.add_user("U0GUEST", "guest", guest=True)

    refused = await bridge.command("/sms", f"{CALLEE} hi", user_id="U0GUEST")

    text = bridge.reply_text(refused)
    assert "`[permissions] sms`" in text and "guests are not" in text
    assert bridge.rc.requests_to(r"/sms$", "POST") == []


# -- dm = "owner" ------------------------------------------------------------------------------

DM_ROUTES = BridgeConfig(
    routes=[Route(events=["voicemail", "missed_call"], dm="owner")],
    ringcentral={"extensions": ["101", "102"]},  # type: ignore[arg-type]
)


@pytest.mark.parametrize("config", [DM_ROUTES])
async def test_a_voicemail_reaches_its_owners_dm_and_an_unlinked_extensions_no_one(
    bridge: Bridge,
) -> None:
    await bridge.people.refresh()
    await bridge.subscribe()

    await bridge.rc.incoming_voicemail(bridge.rc.extension_id, CALLEE, transcript="Call me")
    await bridge.rc.incoming_voicemail(ext_id(bridge.rc, "102"), CALLEE, transcript="For Marcus")
    await bridge.dispatch()

    opened = [c for c in bridge.slack.calls("conversations.open") if c.ok]
    assert [c.params["users"] for c in opened] == [DANA]
    dm = opened[0].response["channel"]["id"]
    (posted,) = bridge.slack.messages(dm)
    assert posted["metadata"]["event_type"] == "ringcentral_voicemail"
    assert "Call me" in str(posted["blocks"])
    posts = [c for c in bridge.slack.calls("chat.postMessage") if c.ok]
    assert [c.params["channel"] for c in posts] == [dm]  # Marcus's went nowhere
    metrics = bridge.server.app[METRICS].render().decode()
    assert 'ringbridge_dm_skipped_total{kind="voicemail"} 1.0' in metrics


# -- App Home --------------------------------------------------------------------------------


TWO_WATCHED = BridgeConfig(
    routes=[Route(events=["missed_call", "voicemail"], channel=CALLS)],
    ringcentral={"extensions": ["101", "102"]},  # type: ignore[arg-type]
)


@pytest.mark.parametrize("config", [TWO_WATCHED])
async def test_app_home_shows_the_persons_open_items_with_their_buttons(bridge: Bridge) -> None:
    await bridge.people.refresh()
    await bridge.subscribe()
    await bridge.rc.call("missed", caller=CALLEE, extension_id=bridge.rc.extension_id)
    await bridge.rc.call("missed", caller="+13125550164", extension_id=ext_id(bridge.rc, "102"))
    await bridge.dispatch()
    assert len(bridge.channel(CALLS)) == 2

    await bridge.slack.open_home(bridge.events_url, DANA)
    await bridge.settle()

    view = bridge.slack.home_view(DANA)
    assert view is not None
    text = str(view["blocks"])
    assert "ext. 101" in text and "linked by email" in text
    assert "Your open missed calls and voicemails: 1" in text  # not Marcus's (ext. 102)
    actions = [e["action_id"] for b in view["blocks"] for e in b.get("elements", [])]
    assert {"call_back", "text_back", "mark_handled", "ringcentral_connect"} <= set(actions)
    assert "2 missed calls (2 open)" in text  # the team's day

    await bridge.slack.send_home_action(bridge.events_url, user_id=DANA, action_id="mark_handled")
    await bridge.settle()

    view = bridge.slack.home_view(DANA)
    assert view is not None
    assert "No open missed calls or voicemails" in str(view["blocks"])
    assert "2 missed calls (1 open)" in str(view["blocks"])
    handled = [m for m in bridge.channel(CALLS) if f"<@{DANA}>" in str(m["blocks"])]
    assert len(handled) == 1  # the channel's message names who handled it


async def test_app_home_of_an_unlinked_person_says_so(bridge: Bridge) -> None:
    await bridge.slack.open_home(bridge.events_url, USER)
    await bridge.settle()
    view = bridge.slack.home_view(USER)
    assert view is not None
    assert "not linked to a RingCentral extension" in str(view["blocks"])


# -- /calllog: a person's own extension --------------------------------------------------------


async def test_calllog_shows_the_linked_persons_own_extension(bridge: Bridge) -> None:
    bridge.slack.add_user("U0MARCUS", "marcus", email="m.chen@brightwater.example.com")
    await bridge.people.refresh()

    reply = await bridge.command("/calllog", "", user_id="U0MARCUS")

    (read,) = bridge.rc.requests_to(r"/call-log$", "GET")
    assert "/extension/" not in read.path  # the account's log, filtered to ext. 102
    assert read.query["extensionNumber"] == ["102"]
    assert "ext. 102, yours" in bridge.reply_text(reply)


async def test_calllog_falls_back_to_the_service_users_own_and_says_whose(bridge: Bridge) -> None:
    bridge.slack.add_user("U0MARCUS", "marcus", email="m.chen@brightwater.example.com")
    await bridge.people.refresh()
    bridge.rc.company_call_log = False  # the service user may not read others' calls

    reply = await bridge.command("/calllog", "", user_id="U0MARCUS")

    assert "the RingBridge service user: it may not read those of your ext. 102" in (
        bridge.reply_text(reply)
    )


# -- buttons -----------------------------------------------------------------------------------


async def test_call_back_rings_the_linked_persons_phone_first(bridge: Bridge) -> None:
    await bridge.people.refresh()
    await bridge.subscribe()
    await bridge.rc.call("missed", caller=CALLEE, extension_id=bridge.rc.extension_id)
    await bridge.dispatch()
    (message,) = bridge.channel(CALLS)

    click = await bridge.slack.send_block_action(
        bridge.events_url, action_id="call_back", channel_id=CALLS, message_ts=message["ts"],
        user_id=DANA,
    )  # fmt: skip
    await bridge.settle()

    (ringout,) = ringouts(bridge)
    assert ringout["from"] == {"phoneNumber": DANA_DIRECT}
    assert ringout["playPrompt"] is True
    assert "direct number of ext. 101" in bridge.reply_text(click)


ONLY_ELSEWHERE = BridgeConfig(
    routes=[Route(events=["missed_call"], channel=CALLS)],
    permissions=PermissionsConfig(sms=["#front-desk"], call=["#front-desk"]),
)


@pytest.mark.parametrize("config", [ONLY_ELSEWHERE])
async def test_buttons_refused_by_permissions_make_no_ringcentral_call(bridge: Bridge) -> None:
    await bridge.subscribe()
    await bridge.rc.call("missed", caller=CALLEE, extension_id=bridge.rc.extension_id)
    await bridge.dispatch()
    (message,) = bridge.channel(CALLS)
    before = len(bridge.rc.requests)

    click = await bridge.slack.send_block_action(
        bridge.events_url, action_id="call_back", channel_id=CALLS, message_ts=message["ts"]
    )
    await bridge.slack.send_block_action(
        bridge.events_url, action_id="text_back", channel_id=CALLS, message_ts=message["ts"]
    )
    await bridge.settle()

    assert bridge.rc.requests[before:] == []
    assert "`[permissions] call`" in bridge.reply_text(click)
    shown = [m["text"] for m in bridge.slack.ephemerals(CALLS, USER)]
    assert any("`[permissions] sms`" in text for text in shown), shown
    assert bridge.slack.calls("views.open") == []  # no modal to type into


SMS_ONLY_SALES = BridgeConfig(
    routes=[Route(events=["sms"], channel=TEXTS)],
    permissions=PermissionsConfig(sms=["@sales"]),
)


@pytest.mark.parametrize("config", [SMS_ONLY_SALES])
async def test_a_thread_reply_of_someone_who_may_not_text_is_not_texted(bridge: Bridge) -> None:
    """`Permissions.refusal` is also what decides whether a thread reply is texted."""
    bridge.slack.add_usergroup("S0SALES", "sales", [DANA])
    await bridge.subscribe()
    company = bridge.rc.world.numbers_with_feature(bridge.rc.extension_id, "SmsSender")[0]
    await bridge.rc.incoming_sms(bridge.rc.extension_id, CALLEE, "open?", to_number=company)
    await bridge.dispatch()
    (parent,) = bridge.channel(TEXTS)

    await bridge.slack.send_message(
        bridge.events_url, channel_id=TEXTS, text="yes", thread_ts=parent["ts"], user_id=USER
    )
    await bridge.settle()

    assert bridge.rc.requests_to(r"/sms$", "POST") == []
    (told,) = bridge.slack.ephemerals(TEXTS, USER)
    assert "Not texted" in told["text"] and "`[permissions] sms`" in told["text"]
