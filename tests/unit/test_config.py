from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import (
    BUSINESS_HOURS,
    ConfigError,
    Route,
    WeeklyHours,
    load_bridge_config,
    load_settings,
)

ENV = (
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL",
    "RINGCENTRAL_SERVER_URL", "RINGCENTRAL_MEDIA_URL", "RINGCENTRAL_CLIENT_ID",
    "RINGCENTRAL_CLIENT_SECRET", "RINGCENTRAL_JWT", "PUBLIC_URL", "DATABASE_URL",
    "BRIDGE_CONFIG", "DEFAULT_CHANNEL", "PORT", "HOST", "LOG_LEVEL", "DYNO", "RINGCENTRAL_EVENTS",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env or bridge.toml


def test_defaults_follow_the_contract() -> None:
    settings = load_settings()
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.ringcentral_server_url == "https://platform.ringcentral.com"
    assert settings.ringcentral_media_url == "https://media.ringcentral.com"
    assert settings.port == 3000
    assert settings.host == "0.0.0.0"
    assert settings.sqlalchemy_url == "sqlite+aiosqlite:///./ringbridge.db"
    assert not settings.socket_mode


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGCENTRAL_JWT", "eyJ-very-secret")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    settings = load_settings()
    assert "very-secret" not in repr(settings)
    assert "very-secret" not in str(settings.model_dump())


def test_missing_required_setting_names_it() -> None:
    settings = load_settings(ringcentral_client_id="x")
    with pytest.raises(ConfigError, match=r"^RINGCENTRAL_JWT is not set: "):
        settings.require("ringcentral_client_id", "ringcentral_jwt")


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("PORT", "eighty", "PORT"),
        ("PORT", "70000", "PORT"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL"),
        ("RINGCENTRAL_SERVER_URL", "platform.ringcentral.com", "RINGCENTRAL_SERVER_URL"),
        ("PUBLIC_URL", "not a url", "PUBLIC_URL"),
    ],
)
def test_malformed_setting_is_one_line_naming_it_without_its_value(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{named}: ")
    assert "\n" not in message
    assert value not in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db.example/app", "postgresql+asyncpg://u:p@db.example/app"),
        ("postgresql://u:p@db.example/app", "postgresql+asyncpg://u:p@db.example/app"),
        ("sqlite:////var/lib/rb.db", "sqlite+aiosqlite:////var/lib/rb.db"),
    ],
)
def test_database_url_accepts_the_heroku_form(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert load_settings().sqlalchemy_url == expected


def test_sqlite_is_refused_on_heroku(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNO", "web.1")
    with pytest.raises(ConfigError, match=r"^DATABASE_URL: SQLite is refused on Heroku"):
        _ = load_settings().sqlalchemy_url


def test_bridge_config_inline_toml() -> None:
    config = load_bridge_config(
        '[[routes]]\nevents = ["missed_call", "voicemail"]\nchannel = "C1"\n'
        'numbers = ["(650) 555-0100"]\n[commands]\nsms_from = "+16505550100"\n'
    )
    assert config.routes[0].events == ["missed_call", "voicemail"]
    assert config.routes[0].numbers == ["+16505550100"]
    assert config.commands.sms_from == "+16505550100"


def test_bridge_config_file_and_default_location() -> None:
    Path("bridge.toml").write_text('[ringcentral]\nextensions = ["101"]\n')
    assert load_bridge_config(None).ringcentral.extensions == ["101"]
    assert load_bridge_config("bridge.toml").ringcentral.extensions == ["101"]


def test_no_bridge_config_is_the_empty_config() -> None:
    assert load_bridge_config(None).routes == []


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[routes]]\nevents = ["missed_calls"]\nchannel = "C1"\n', "routes.0.events.0"),
        ('[[routes]]\nevents = ["sms"]\nchannel = "C1"\ncolour = "red"\n', "routes.0.colour"),
        ("[surprise]\n", "surprise"),
        ('[commands]\nsms_from = "hello"\n', "commands.sms_from"),
        ("[routes\n", "not valid TOML"),
    ],
)
def test_bridge_config_errors_name_the_key(toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^BRIDGE_CONFIG: ") as info:
        load_bridge_config(toml)
    assert message in str(info.value)


def test_unreadable_bridge_config_file() -> None:
    with pytest.raises(ConfigError, match=r"^BRIDGE_CONFIG: cannot read nowhere\.toml"):
        load_bridge_config("nowhere.toml")


SERVE = {
    "slack_bot_token": "xoxb-1",
    "ringcentral_client_id": "id",
    "ringcentral_client_secret": "secret",
    "ringcentral_jwt": "jwt",
}


def test_socket_mode_needs_no_signing_secret() -> None:
    from bot.server import check_settings

    check_settings(load_settings(**SERVE, slack_app_token="xapp-1-A1-1-x"))
    with pytest.raises(ConfigError, match=r"^SLACK_SIGNING_SECRET is not set: .*SLACK_APP_TOKEN"):
        check_settings(load_settings(**SERVE))


def test_an_app_token_must_be_app_level_and_is_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-pasted-in-the-wrong-place")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith("SLACK_APP_TOKEN: ")
    assert "xapp-" in str(info.value)
    assert "pasted" not in str(info.value)

    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A1-1-very-secret")
    settings = load_settings()
    assert settings.socket_mode
    assert "very-secret" not in repr(settings)


def test_events_come_over_the_websocket_without_a_public_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().events == "websocket"
    monkeypatch.setenv("PUBLIC_URL", "https://bridge.example.com")
    assert load_settings().events == "webhook"
    monkeypatch.setenv("RINGCENTRAL_EVENTS", "WebSocket")
    assert load_settings().events == "websocket"


def test_webhook_events_without_a_public_url_name_both_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RINGCENTRAL_EVENTS", "webhook")
    with pytest.raises(ConfigError, match=r"^RINGCENTRAL_EVENTS: webhook needs PUBLIC_URL"):
        _ = load_settings().events
    monkeypatch.setenv("RINGCENTRAL_EVENTS", "pigeon")
    with pytest.raises(ConfigError, match=r"^RINGCENTRAL_EVENTS: "):
        load_settings()


# --- the workflow keys (DESIGN §3.2, §3.12) ---------------------------------------------

PACIFIC = ZoneInfo("America/Los_Angeles")


def _route(extra: str) -> Route:
    (route,) = load_bridge_config(
        f'[[routes]]\nevents = ["missed_call"]\nchannel = "C1"\n{extra}\n'
    ).routes
    return route


def test_workflow_keys_are_read() -> None:
    route = _route(
        'remind_after = "15m"\nhours = "Mon-Fri 09:00-17:30; Sat 10:00-14:00"\n'
        'after_hours_channel = "#on-call"\nauto_reply = "Sorry we missed you"\ndigest = "17:30"'
    )
    assert route.remind_after == timedelta(minutes=15)
    assert route.digest == time(17, 30)
    assert route.after_hours_channel == "#on-call"
    assert str(route.hours) == "Mon-Fri 09:00-17:30; Sat 10:00-14:00"
    assert _route('hours = "ringcentral"').hours == BUSINESS_HOURS


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('remind_after = "15 minutes"', "routes.0.remind_after: Value error, '15 minutes' is not"),
        ('remind_after = "0s"', "routes.0.remind_after"),
        ('digest = "5pm"', "routes.0.digest: Value error, '5pm' is not a time of day"),
        ('digest = "24:00"', "routes.0.digest"),
        ('hours = "Mon-Fri 9-5"', "routes.0.hours: Value error, 'Mon-Fri 9-5' is not DAYS"),
        ('hours = "Someday 09:00-10:00"', "is not a day"),
        ('hours = "Mon 09:00-09:00"', "an empty range"),
        ('hours = "Mon 09:60-10:00"', "is not DAYS"),
        ('after_hours_channel = "#on-call"', "after_hours_channel needs hours"),
        ('auto_reply = "   "', "auto_reply is blank"),
    ],
)
def test_workflow_keys_refused_at_start_in_one_line(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _route(extra)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def _at(local: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=PACIFIC)


def test_hours_start_is_in_and_end_is_out() -> None:
    hours = WeeklyHours.parse("Mon-Fri 09:00-17:30")
    assert hours.open_at(_at("2026-03-02T09:00"), PACIFIC)  # a Monday
    assert not hours.open_at(_at("2026-03-02T08:59"), PACIFIC)
    assert hours.open_at(_at("2026-03-02T17:29"), PACIFIC)
    assert not hours.open_at(_at("2026-03-02T17:30"), PACIFIC)
    assert not hours.open_at(_at("2026-03-07T10:00"), PACIFIC)  # Saturday
    assert WeeklyHours.parse("Mon 00:00-24:00").open_at(_at("2026-03-02T23:59"), PACIFIC)


def test_a_range_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    hours = WeeklyHours.parse("Fri 22:00-02:00")
    assert hours.open_at(_at("2026-03-07T01:00"), PACIFIC)  # Saturday 01:00
    assert not hours.open_at(_at("2026-03-06T01:00"), PACIFIC)  # Friday 01:00
    assert not hours.open_at(_at("2026-03-07T02:00"), PACIFIC)
    assert WeeklyHours.parse("Sat-Mon 10:00-11:00").open_at(_at("2026-03-08T10:30"), PACIFIC)


def test_hours_follow_the_wall_clock_across_dst() -> None:
    """09:00 Pacific is 17:00 UTC in winter, 16:00 UTC in summer: a fixed bias is wrong in
    one of them."""
    hours = WeeklyHours.parse("Mon-Fri 09:00-17:00")
    winter = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)  # Friday 08:30 PST
    summer = datetime(2026, 3, 9, 16, 30, tzinfo=UTC)  # Monday 09:30 PDT
    assert not hours.open_at(winter, PACIFIC)
    assert hours.open_at(summer, PACIFIC)


def test_business_hours_from_ringcentral_schedule() -> None:
    hours = WeeklyHours.from_schedule(
        {"monday": [("09:00", "18:00")], "friday": [("20:00", "00:00")]}
    )
    assert hours.open_at(_at("2026-03-02T17:00"), PACIFIC)
    assert hours.open_at(_at("2026-03-06T23:00"), PACIFIC)
    assert not hours.open_at(_at("2026-03-03T10:00"), PACIFIC)
    assert WeeklyHours.from_schedule({}).open_at(_at("2026-03-03T03:00"), PACIFIC)  # 24/7
