"""`python -m bot` itself, as a subprocess: the entry point runs a command and exits with
its status. Every command's behaviour is tested in process (tests/cli.py)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.sim.ringcentral import RingCentralSimulator


@dataclass
class Run:
    code: int
    out: str
    err: str


async def ringbridge(cwd: Path, *args: str, **env: str) -> Run:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def test_a_command_prints_its_answer_and_exits_0(
    rc_sim: RingCentralSimulator, tmp_path: Path
) -> None:
    run = await ringbridge(
        tmp_path, "api", "GET", "/restapi/v1.0/account/~/extension/~",
        RINGCENTRAL_SERVER_URL=rc_sim.server_url,
        RINGCENTRAL_MEDIA_URL=rc_sim.media_url,
        RINGCENTRAL_CLIENT_ID=rc_sim.client_id,
        RINGCENTRAL_CLIENT_SECRET=rc_sim.client_secret,
        RINGCENTRAL_JWT=rc_sim.jwt,
    )  # fmt: skip

    assert run.code == 0, run.err
    assert json.loads(run.out)["extensionNumber"] == "101"
    assert rc_sim.jwt not in run.out + run.err


async def test_serve_without_the_bot_token_exits_2_naming_it_and_makes_no_database(
    tmp_path: Path,
) -> None:
    run = await ringbridge(
        tmp_path, "serve",
        SLACK_SIGNING_SECRET="signing-secret",
        RINGCENTRAL_CLIENT_ID="client-id",
        RINGCENTRAL_CLIENT_SECRET="client-secret",
        RINGCENTRAL_JWT="jwt",
    )  # fmt: skip

    assert run.code == 2
    assert run.err.splitlines() == [
        "ringbridge: SLACK_BOT_TOKEN is not set: the bot token (xoxb-…) from the Slack app's "
        "OAuth page"
    ]
    assert os.listdir(tmp_path) == []  # no ./ringbridge.db
