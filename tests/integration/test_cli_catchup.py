"""`python -m bot catchup [--since …] [--dry-run]` as an admin runs it, in process
(`tests/cli.py`), against both simulators (on the wall clock, as the command's own): what
RingCentral recorded with no event reaching any bridge is listed by `--dry-run` (nothing
posted) and backfilled by the command itself, each item once, marked late; a second run
finds nothing left (DESIGN §3.4, §3.10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sim import RingCentralSimulator, SlackSimulator
from bot.store import Cursors
from bot.store.schema import Post
from tests.cli import Cli, simulator_env
from tests.conftest import OPENAPI

CALLS, TEXTS = "C0CALLS", "C0TEXTS"
ROUTES = (
    f'[[routes]]\nevents = ["missed_call", "voicemail", "fax"]\nchannel = "{CALLS}"\n'
    f'[[routes]]\nevents = ["sms"]\nchannel = "{TEXTS}"\n'
)


@pytest.fixture
async def sims() -> AsyncIterator[tuple[RingCentralSimulator, SlackSimulator]]:
    rc = RingCentralSimulator(openapi_path=OPENAPI if OPENAPI.is_file() else None)
    slack = SlackSimulator()
    slack.add_channel(CALLS, "calls", member=True)
    slack.add_channel(TEXTS, "texts", member=True)
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


async def recorded(rc: RingCentralSimulator) -> dict[str, str]:
    """What RingCentral records now, while no subscription exists: the items due."""
    ext = rc.extension_id
    sms = await rc.incoming_sms(ext, "+14155550177", "are you open today?")
    fax = await rc.incoming_fax(ext, "+14155550123", pages=1)
    call = await rc.call("missed", caller="+14155550123", extension_id=ext, pace=False)
    return {"sms": sms.id, "fax": fax.id, "missed_call": call.telephony_session_id}


async def test_dry_run_lists_what_would_be_posted_and_posts_nothing(
    cli: Cli, sims: tuple[RingCentralSimulator, SlackSimulator], engine: AsyncEngine
) -> None:
    rc, slack = sims
    due = await recorded(rc)

    run = await cli("catchup", "--since", "1m", "--dry-run")

    assert run.code == 0, run.err
    for item in due.values():
        assert item in run.out
    assert "3 items of the last 1m would be posted (dry run: nothing posted)" in run.out
    assert f"→ {CALLS}" in run.out and f"→ {TEXTS}" in run.out
    assert slack.calls("chat.postMessage") == []
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Post)) == 0
    assert await Cursors(engine).all() == []  # a server's cursors are the server's


async def test_since_backfills_each_item_once_marked_late(
    cli: Cli, sims: tuple[RingCentralSimulator, SlackSimulator]
) -> None:
    rc, slack = sims
    due = await recorded(rc)

    run = await cli("catchup", "--since", "1m")

    assert run.code == 0, run.err
    assert "caught up 3 items of the last 1m (3 posts, marked late)" in run.out
    assert "posting: 3/3" in run.err  # stderr is no terminal here: one line a step
    posted = [*slack.messages(CALLS), *slack.messages(TEXTS)]
    payloads = [m["metadata"]["event_payload"] for m in posted]
    assert all(p["late"] is True for p in payloads)
    items = sorted(p["item"].split(":")[0] for p in payloads)
    assert items == sorted(due.values())
    assert all(m["text"].startswith("Arrived late: ") for m in posted)
    assert [c.params.get("channel_id") for c in slack.calls("files.completeUploadExternal")] == [
        CALLS
    ]  # the fax's PDF, in its thread

    again = await cli("catchup", "--since", "1m")

    assert again.code == 0, again.err
    assert "nothing to catch up" in again.out
    assert len([*slack.messages(CALLS), *slack.messages(TEXTS)]) == 3


async def test_since_takes_a_duration_of_at_most_30_days(cli: Cli) -> None:
    for bad in ("2 hours", "0m", "-1h", "90"):
        run = await cli("catchup", f"--since={bad}")
        assert run.code == 2 and "is not a duration" in run.err, run.err
    run = await cli("catchup", "--since", "31d")
    assert run.code == 2 and "at most 30d" in run.err


async def test_a_ringcentral_refusal_is_exit_1_with_its_code(
    cli: Cli, sims: tuple[RingCentralSimulator, SlackSimulator]
) -> None:
    rc, _ = sims
    run = await cli("catchup", RINGCENTRAL_JWT=rc.jwt + "x")

    assert run.code == 1
    assert run.err == "error: OAU-140: Invalid resource owner credentials\n"
