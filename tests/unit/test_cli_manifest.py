"""`manifest --url URL | --socket`, in process (tests/cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import Cli


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    return Cli(monkeypatch, capsys, tmp_path)


async def test_manifest_prints_the_http_manifest_for_the_url(cli: Cli) -> None:
    run = await cli("manifest", "--url", "https://bridge.example.com/")

    assert run.code == 0
    assert run.out.count('"https://bridge.example.com/slack/events"') >= 5  # 4 commands + events
    assert "socket_mode_enabled: false" in run.out


async def test_manifest_refuses_a_plain_http_url(cli: Cli) -> None:
    run = await cli("manifest", "--url", "http://bridge.example.com")

    assert run.code == 2
    (line,) = run.err.strip().splitlines()
    assert line.startswith("ringbridge: --url: the URL must start with https://")


async def test_socket_manifest(cli: Cli) -> None:
    run = await cli("manifest", "--socket")

    assert run.code == 0
    assert "socket_mode_enabled: true" in run.out
    assert "https://" not in run.out.split("features:")[1].split("oauth_config")[0]


async def test_manifest_needs_url_or_socket(cli: Cli) -> None:
    run = await cli("manifest")

    assert run.code == 2
    assert "one of the arguments --url --socket is required" in run.err
    assert run.out == ""
