"""`python -m bot check` as an admin runs it, in process (`tests/cli.py`), against both
simulators: a good deployment passes (exit 0); each broken piece is one ✘ line naming it
and what it turns off (exit 1); an unreadable configuration is exit 2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sim import DEFAULT_SCOPES, RingCentralSimulator, SlackSimulator
from tests.cli import Cli, Run, a_minute_later
from tests.integration.test_cli_subscriptions import public_url as public_url  # the fixture
from tests.integration.test_cli_subscriptions import raise_auth_limit, ringcentral_env

CALLS, TEXTS = "C0CALLS", "C0TEXTS"
ROUTES = (
    f'[[routes]]\nevents = ["missed_call", "voicemail"]\nchannel = "{CALLS}"\n\n'
    f'[[routes]]\nevents = ["sms"]\nchannel = "{TEXTS}"\n'
)


def slack_sim(scopes: tuple[str, ...] = DEFAULT_SCOPES) -> SlackSimulator:
    sim = SlackSimulator(scopes=scopes)
    sim.add_channel(CALLS, "calls", member=True)
    sim.add_channel(TEXTS, "texts", member=False)  # public: the bot joins at its first post
    sim.add_channel("C0ARCHIVE", "old-calls", member=True, archived=True)
    sim.add_channel("C0SECRET", "secret", private=True)
    return sim


@pytest.fixture
async def slack() -> AsyncIterator[SlackSimulator]:
    sim = slack_sim()
    async with sim.serve():
        yield sim


def slack_env(sim: SlackSimulator) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": sim.tokens[0],
        "SLACK_SIGNING_SECRET": sim.signing_secret,
        "SLACK_API_URL": sim.api_url,
    }


@pytest.fixture
async def cli(
    rc_sim: RingCentralSimulator,
    slack: SlackSimulator,
    engine: AsyncEngine,
    public_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Cli:
    """A good deployment: both services, a database at this version's schema, the webhook
    subscription made (`subscriptions sync`, as `serve` would)."""
    raise_auth_limit(rc_sim)
    env = (
        ringcentral_env(rc_sim)
        | slack_env(slack)
        | {
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "PUBLIC_URL": public_url,
            "BRIDGE_CONFIG": ROUTES,
        }
    )
    secrets = [rc_sim.jwt, rc_sim.client_secret, slack.tokens[0], slack.signing_secret]
    made = Cli(monkeypatch, capsys, tmp_path, env, secrets=secrets)
    synced = await made("subscriptions", "sync")
    assert synced.code == 0, synced.err
    return made


def bad_lines(run: Run) -> list[str]:
    return [line for line in run.out.splitlines() if line.startswith("✘")]


async def test_a_good_deployment_passes_every_check(cli: Cli, rc_sim: RingCentralSimulator) -> None:
    run = await cli("check")

    assert run.code == 0, run.out + run.err
    lines = run.out.strip().splitlines()
    assert bad_lines(run) == []
    subjects = [line.split(":")[0] for line in lines if line.startswith("✔")]
    for expected in (
        "✔ configuration",
        "✔ database",
        "✔ RingCentral sign-in",
        "✔ RingCentral app permissions",
        "✔ RingCentral user permissions",
        "✔ SMS numbers",
        "✔ Slack sign-in",
        "✔ Slack scopes",
        f"✔ channel {CALLS} (routes[1])",
        f"✔ channel {TEXTS} (routes[2])",
    ):
        assert expected in subjects, lines
    assert any(s.startswith("✔ texting registration +1") for s in subjects), lines
    assert any(s.startswith("✔ webhook subscription ") for s in subjects), lines
    assert f"✔ channel {TEXTS} (routes[2]): #texts: the bot joins it at its first post" in lines
    assert lines[-1] == f"All {len(lines) - 2} checks pass."
    # It signed in on a session of its own (no bridge runs), and ended it at exit.
    assert len(rc_sim.requests_to("/restapi/oauth/revoke")) == 2  # sync's, check's


async def test_a_wrong_jwt_is_one_line_naming_the_sign_in(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    wrong = rc_sim.jwt[:-8] + "AAAAAAAA"
    cli.secrets.append(wrong)

    run = await cli("check", RINGCENTRAL_JWT=wrong)

    assert run.code == 1
    (line,) = [line for line in bad_lines(run) if "RingCentral" in line]
    assert line.startswith("✘ RingCentral sign-in: the JWT was refused (invalid_grant OAU-140)")
    assert "set RINGCENTRAL_JWT" in line
    assert "✔ Slack sign-in" in run.out  # the rest is still checked


async def test_a_missing_slack_scope_names_it_and_what_it_turns_off(cli: Cli) -> None:
    narrow = slack_sim(tuple(s for s in DEFAULT_SCOPES if s != "files:write"))
    async with narrow.serve():
        cli.secrets.append(narrow.tokens[0])
        run = await cli("check", **slack_env(narrow))

    assert run.code == 1
    assert bad_lines(run) == [
        "✘ Slack scope files:write: missing: voicemail audio, fax PDFs and MMS images in "
        "threads — off. Add it to the app (OAuth & Permissions → Bot Token Scopes) and "
        "reinstall the app"
    ]


@pytest.mark.parametrize(
    ("channel", "complaint"),
    [
        ("C0NOPE", "not found, or a private channel the bot is not in"),
        ("C0ARCHIVE", "#old-calls is archived"),
        ("C0SECRET", "not found, or a private channel the bot is not in"),
    ],
)
async def test_a_route_to_a_channel_the_bot_cannot_post_to_is_named(
    cli: Cli, channel: str, complaint: str
) -> None:
    routes = ROUTES + f'\n[[routes]]\nevents = ["fax"]\nchannel = "{channel}"\n'

    run = await cli("check", BRIDGE_CONFIG=routes)

    assert run.code == 1
    (line,) = [line for line in bad_lines(run) if line.startswith("✘ channel")]
    assert line.startswith(f"✘ channel {channel} (routes[3]): ")
    assert complaint in line


async def test_channel_names_are_looked_up(cli: Cli) -> None:
    routes = ROUTES + '\n[[routes]]\nevents = ["sms"]\nchannel = "#texts"\n'
    routes += '\n[[routes]]\nevents = ["voicemail"]\nchannel = "#nope"\n'

    run = await cli("check", BRIDGE_CONFIG=routes)

    assert run.code == 1
    assert "✔ channel #texts (routes[3]): #texts: the bot joins it at its first post" in run.out
    assert bad_lines(run) == [
        "✘ channel #nope (routes[4]): no channel of that name that the bot can see: create "
        "it, invite the bot to it, or write the channel ID"
    ]


async def test_a_missing_app_permission_names_the_feature(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    rc_sim.remove_app_permissions("ReadCallLog")

    run = await cli("check")

    assert run.code == 1
    assert bad_lines(run) == [
        "✘ RingCentral app permission ReadCallLog: missing: /calllog is off. Add it to the "
        "app in the RingCentral developer console (the bridge's session has it from its next "
        "login)"
    ]


async def test_a_missing_app_permission_of_a_routed_kind_names_those_notifications(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    rc_sim.remove_app_permissions("CallControl")

    run = await cli("check")

    assert run.code == 1
    [line] = bad_lines(run)
    assert line.startswith("✘ RingCentral app permission CallControl: missing: missed, "
                           "answered and finished call notifications are off.")  # fmt: skip


async def test_the_users_permissions_and_texting_registration_are_read(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    rc_sim.remove_user_permissions(rc_sim.extension_id, "OutboundSMS")
    number = rc_sim.world.numbers_with_feature(rc_sim.extension_id, "SmsSender")[0]
    rc_sim.set_texting_registration(number, "Submitted")

    run = await cli("check")

    assert run.code == 1
    bad = bad_lines(run)
    assert (
        "✘ RingCentral user permission OutboundSMS: the service user lacks it: /sms, Text "
        "back and texted thread replies cannot work. Give its role this permission in the "
        "RingCentral admin portal (Users → Roles)"
    ) in bad
    assert (
        f"✘ texting registration {number}: not registered for business texting (campaign "
        "Submitted): carriers block or filter its texts. Register it (RingCentral admin "
        "portal: Phone System → SMS registration)"
    ) in bad
    assert len(bad) == 2


async def test_watching_other_extensions_needs_permission_beyond_the_user_itself(
    cli: Cli, rc_sim: RingCentralSimulator, engine: AsyncEngine
) -> None:
    rc_sim.service_user_admin = False  # its permissions reach its own extension only
    config = ROUTES + '\n[ringcentral]\nextensions = ["101", "102"]\n'

    run = await cli("check", BRIDGE_CONFIG=config)

    assert run.code == 1
    lines = [line for line in bad_lines(run) if "user permission" in line]
    assert [line.split(":")[0] for line in lines] == [
        "✘ RingCentral user permission ReadMessages",
        "✘ RingCentral user permission ReadCallLog",
    ]
    assert "the messages of ext. 102 are not notified nor caught up" in lines[0]
    # RingCentral agrees: the subscription's filters of ext. 102 are disabled (SUB-405).
    assert (await cli("subscriptions", "sync", BRIDGE_CONFIG=config)).code == 0
    await a_minute_later(engine)  # the fourth command: not a real minute's wait
    again = await cli("check", BRIDGE_CONFIG=config)
    disabled = [line for line in bad_lines(again) if line.startswith("✘ disabled event filter")]
    assert disabled and all("SUB-405" in line for line in disabled), again.out


async def test_no_subscription_and_a_disabled_filter_are_named(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    [sub] = rc_sim.subscriptions.values()
    rc_sim.delete_subscription(sub.id)

    run = await cli("check")

    assert run.code == 1
    [line] = bad_lines(run)
    assert line.startswith("✘ webhook subscription: none delivers to http://127.0.0.1:")
    assert "`python -m bot subscriptions sync`" in line


async def test_an_unreadable_configuration_is_exit_2_and_one_line(cli: Cli) -> None:
    run = await cli("check", BRIDGE_CONFIG="[[routes]\nnot toml")

    assert run.code == 2
    assert run.out == ""
    (line,) = run.err.strip().splitlines()
    assert line.startswith("ringbridge: BRIDGE_CONFIG: not valid TOML")


async def test_missing_settings_are_named_and_their_side_skipped(cli: Cli) -> None:
    del cli.env["SLACK_BOT_TOKEN"]
    del cli.env["RINGCENTRAL_JWT"]

    run = await cli("check")

    assert run.code == 1
    assert bad_lines(run) == [
        "✘ SLACK_BOT_TOKEN: is not set: the bot token (xoxb-…) from the Slack app's OAuth page",
        "✘ RINGCENTRAL_JWT: is not set: a JWT credential of the RingCentral user the bridge "
        "acts as",
    ]
    assert "RingCentral sign-in" not in run.out and "Slack sign-in" not in run.out


async def test_over_socket_mode_no_signing_secret_is_needed(cli: Cli) -> None:
    del cli.env["SLACK_SIGNING_SECRET"]

    run = await cli("check", SLACK_APP_TOKEN="xapp-1-A0SIM-check")

    assert run.code == 0, run.out
    assert "SLACK_SIGNING_SECRET" not in run.out


async def test_an_email_two_extensions_share_is_a_conflict_line(
    cli: Cli, rc_sim: RingCentralSimulator, slack: SlackSimulator
) -> None:
    slack.add_user("U0DANA", "dana", email="d.whitfield@brightwater.example.com")
    rc_sim.set_contact_email("102", "desk@brightwater.example.com")
    rc_sim.set_contact_email("103", "desk@brightwater.example.com")

    run = await cli("check")

    assert run.code == 1
    assert "✔ people: 1 linked to extensions (1 by email, 0 by [people] links)" in run.out
    assert [line.split(":")[0] for line in bad_lines(run)] == [
        "✘ people",  # "people: ext. 102: …"
        "✘ people",
    ]
    assert "ext. 102: linked to no one: email desk@brightwater.example.com is shared by " in run.out
    assert "[people] links" in bad_lines(run)[0]


async def test_people_list_says_who_is_whom_and_why_not(cli: Cli, slack: SlackSimulator) -> None:
    slack.add_user("U0DANA", "dana", email="D.Whitfield@brightwater.example.com")
    slack.add_user("U0GUEST", "guest", email="m.chen@brightwater.example.com", guest=True)

    run = await cli("people", "list")

    assert run.code == 0, run.err
    lines = run.out.splitlines()
    (dana,) = [line for line in lines if line.startswith("ext. 101")]
    assert "U0DANA" in dana and "by email" in dana
    (marcus,) = [line for line in lines if line.startswith("ext. 102")]
    assert "CONFLICT" in marcus and "U0GUEST is a guest" in marcus
    assert "1 linked, 1 conflict." in run.out
