import pytest

from bot.cli import main


def test_manifest_prints_the_http_manifest_for_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--url", "https://bridge.example.com/"]) == 0

    out = capsys.readouterr().out
    assert out.count('"https://bridge.example.com/slack/events"') >= 5  # 4 commands + events
    assert "socket_mode_enabled: false" in out


def test_manifest_refuses_a_plain_http_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--url", "http://bridge.example.com"]) == 2

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("ringbridge: --url: the URL must start with https://")


def test_socket_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--socket"]) == 0

    out = capsys.readouterr().out
    assert "socket_mode_enabled: true" in out
    assert "https://" not in out.split("features:")[1].split("oauth_config")[0]
