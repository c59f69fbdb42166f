"""`serve` checks every setting before it touches anything: a missing or malformed one is
one line naming it, exit status 2, and no database (not even a new SQLite file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import Cli

READY = {
    "SLACK_BOT_TOKEN": "xoxb-serve-test",
    "SLACK_SIGNING_SECRET": "signing-serve-test",
    "RINGCENTRAL_CLIENT_ID": "client-id",
    "RINGCENTRAL_CLIENT_SECRET": "client-secret-serve-test",
    "RINGCENTRAL_JWT": "jwt-serve-test",
}


def made_in(directory: Path) -> list[str]:
    return sorted(entry.name for entry in directory.iterdir())


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    """In an empty directory, where the default DATABASE_URL (./ringbridge.db) points."""
    secrets = [v for k, v in READY.items() if k != "RINGCENTRAL_CLIENT_ID"]
    return Cli(monkeypatch, capsys, tmp_path, dict(READY), secrets=secrets)


@pytest.mark.parametrize("missing", list(READY))
async def test_a_missing_setting_is_named_before_any_database_is_made(
    cli: Cli, tmp_path: Path, missing: str
) -> None:
    del cli.env[missing]

    run = await cli("serve")

    assert run.code == 2
    (line,) = run.err.splitlines()
    assert line.startswith(f"ringbridge: {missing} is not set: ")
    assert run.out == ""
    assert made_in(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("DATABASE_URL", "mysql://db/bridge", "DATABASE_URL: expected sqlite:///path or postgres"),
        ("DYNO", "web.1", "DATABASE_URL: SQLite is refused on Heroku"),
        ("PORT", "eighty", "PORT: "),
        ("BRIDGE_CONFIG", "[[routes]]\nevents = []\n", "BRIDGE_CONFIG: routes.0"),
        ("SLACK_APP_TOKEN", "xoxb-a-bot-token", "SLACK_APP_TOKEN: "),
    ],
)
async def test_a_malformed_setting_is_named_before_any_database_is_made(
    cli: Cli, tmp_path: Path, name: str, value: str, complaint: str
) -> None:
    run = await cli("serve", **{name: value})

    assert run.code == 2
    (line,) = run.err.splitlines()
    assert line.startswith(f"ringbridge: {complaint}")
    assert made_in(tmp_path) == []
