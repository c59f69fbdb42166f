"""`python -m bot …` run in the test's own process and event loop (`bot.cli.main_async`),
beside the simulators: settings come from a monkeypatched environment (and nothing else:
every setting the test does not give is unset, and no `.env` or `bridge.toml` is near),
stdout and stderr are captured."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import main_async
from bot.config import Settings
from bot.ringcentral._tokenpace import MARGIN, WINDOW
from bot.sim import RingCentralSimulator, SlackSimulator
from bot.store.schema import TokenRequest

# Every variable Settings reads (pydantic-settings: the field names, any case).
SETTINGS_ENV = tuple(name.upper() for name in Settings.model_fields)


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Cli:
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)  # never in what the command prints

    async def __call__(self, *args: str, stdin: str | None = None, **env: str) -> Run:
        """Run one command with `self.env` plus `env`; `stdin` is what it may read."""
        with self.monkeypatch.context() as patch:
            patch.chdir(self.workdir)
            for name in SETTINGS_ENV:
                patch.delenv(name, raising=False)
            for name, value in (self.env | env).items():
                patch.setenv(name, value)
            if stdin is not None:
                patch.setattr(sys, "stdin", io.StringIO(stdin))
            self.capsys.readouterr()  # what came before is not this command's
            code = await main_async(list(args))
            out, err = self.capsys.readouterr()
        run = Run(code, out, err)
        assert "Traceback" not in run.err, run.err
        for secret in self.secrets:
            assert secret not in run.out + run.err
        return run


def simulator_env(
    rc: RingCentralSimulator, slack: SlackSimulator, database_url: str, bridge_config: str
) -> dict[str, str]:
    """The environment of a CLI run pointed at both simulators, one database and one
    `bridge.toml` text."""
    return {
        "RINGCENTRAL_SERVER_URL": rc.server_url,
        "RINGCENTRAL_MEDIA_URL": rc.media_url,
        "RINGCENTRAL_CLIENT_ID": rc.client_id,
        "RINGCENTRAL_CLIENT_SECRET": rc.client_secret,
        "RINGCENTRAL_JWT": rc.jwt,
        "SLACK_BOT_TOKEN": slack.tokens[0],
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": database_url,
        "BRIDGE_CONFIG": bridge_config,
    }


async def a_minute_later(engine: AsyncEngine) -> None:
    """As if the next command ran a minute later, for the app's token-endpoint window: every
    token request on record is moved to one window ago. A command without the running
    bridge's session logs in and revokes at exit, and paces at RingCentral's default five
    a minute until an answer says the app's raised limit; so the fourth command of a test
    would wait a real minute (the commands run on the wall clock, which a test cannot move).
    Pacing itself is proved in test_token_endpoint and test_shared_tokens."""
    async with engine.begin() as conn:
        await conn.execute(
            update(TokenRequest).values(at=datetime.now(UTC) - timedelta(seconds=WINDOW + MARGIN))
        )
