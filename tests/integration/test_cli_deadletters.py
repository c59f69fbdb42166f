"""`python -m bot deadletters list | show | replay` as an admin runs it, in process
(`tests/cli.py`), against both simulators (DESIGN §3.4, §3.10): a text routed to a channel
Slack does not have is a dead letter, listed and shown with its reason and never its text;
once the channel exists, `replay` posts it, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sim import RingCentralSimulator, SlackSimulator
from tests.cli import Cli, simulator_env
from tests.conftest import OPENAPI

GONE = "C0GONE"
SECRET_TEXT = "the door code is 4711"
ROUTES = f'[[routes]]\nevents = ["sms"]\nchannel = "{GONE}"\n'


@pytest.fixture
async def sims() -> AsyncIterator[tuple[RingCentralSimulator, SlackSimulator]]:
    rc = RingCentralSimulator(openapi_path=OPENAPI if OPENAPI.is_file() else None)
    slack = SlackSimulator()
    async with rc.serve(), slack.serve():
        yield rc, slack


@pytest.fixture
def cli(
    sims: tuple[RingCentralSimulator, SlackSimulator],
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Cli:
    rc, slack = sims
    env = simulator_env(rc, slack, engine.url.render_as_string(hide_password=False), ROUTES)
    return Cli(monkeypatch, capsys, tmp_path, env, secrets=[rc.jwt, rc.client_secret])


async def dead_post(cli: Cli, rc: RingCentralSimulator) -> str:
    """A text caught up into a channel Slack does not have: its dead letter's id."""
    await rc.incoming_sms(rc.extension_id, "+14155550177", SECRET_TEXT)
    assert (await cli("catchup", "--since", "1m")).code == 0
    listed = await cli("deadletters", "list")
    assert listed.code == 0
    (line,) = [line for line in listed.out.splitlines() if line.startswith("post:")]
    return line.split()[0]


async def test_list_and_show_name_the_reason_and_never_the_text(
    cli: Cli, sims: tuple[RingCentralSimulator, SlackSimulator]
) -> None:
    rc, _ = sims
    assert (await cli("deadletters", "list")).out.startswith("no dead letters")
    letter = await dead_post(cli, rc)

    listed = await cli("deadletters", "list")
    shown = await cli("deadletters", "show", letter)

    assert "sms" in listed.out and GONE in listed.out and "channel_not_found" in listed.out
    assert shown.code == 0 and "reason:   channel_not_found" in shown.out
    assert f"to:       {GONE}" in shown.out
    for run in (listed, shown):
        assert "4711" not in run.out + run.err
    missing = await cli("deadletters", "show", "post:999")
    assert missing.code == 2 and "no dead letter post:999" in missing.err
    bad = await cli("deadletters", "show", "nonsense")
    assert bad.code == 2 and "no dead letter id" in bad.err


async def test_replay_posts_a_fixed_dead_letter_once(
    cli: Cli, sims: tuple[RingCentralSimulator, SlackSimulator]
) -> None:
    rc, slack = sims
    letter = await dead_post(cli, rc)
    slack.add_channel(GONE, "front-desk", member=True)  # the admin fixed the channel

    replay = await cli("deadletters", "replay", letter)

    assert replay.code == 0, replay.out + replay.err
    assert f"{letter}: delivered" in replay.out
    (posted,) = slack.messages(GONE)
    assert "4711" in posted["text"]  # the text itself reaches the channel it was for
    again = await cli("deadletters", "replay", letter)
    assert again.code == 2 and "no such dead letter" in again.err
    everything = await cli("deadletters", "replay", "--all")
    assert everything.code == 0 and "nothing to replay" in everything.out
    assert len(slack.messages(GONE)) == 1
    assert (await cli("deadletters", "list")).out.startswith("no dead letters")


async def test_replay_of_a_cause_not_fixed_fails_again_and_says_so(
    cli: Cli, sims: tuple[RingCentralSimulator, SlackSimulator]
) -> None:
    rc, slack = sims
    letter = await dead_post(cli, rc)

    replay = await cli("deadletters", "replay", "--all")

    assert replay.code == 1 and f"{letter}: failed again" in replay.out
    assert slack.calls("chat.postMessage")[-1].params["channel"] == GONE
    assert (await cli("deadletters", "show", letter)).code == 0  # a dead letter still
