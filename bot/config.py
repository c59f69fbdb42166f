"""Settings from the environment (and `.env`), and the routing file `bridge.toml`.

Both are built in `main()` and passed down; nothing reads the environment at import time.
Any problem becomes a `ConfigError` whose text is one line naming the setting, which the
CLI prints before exiting with status 2.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot import phone

__all__ = [
    "BUSINESS_HOURS",
    "KINDS",
    "OAUTH_CALLBACK_PATH",
    "AdminConfig",
    "BridgeConfig",
    "CommandsConfig",
    "ConfigError",
    "Kind",
    "PeopleConfig",
    "PermissionsConfig",
    "RetentionConfig",
    "RingCentralConfig",
    "RingCentralEvents",
    "Route",
    "Settings",
    "WeeklyHours",
    "fernet_keys",
    "load_bridge_config",
    "load_settings",
]

Kind = Literal[
    "missed_call", "answered_call", "call", "voicemail", "fax", "sms", "internal_message"
]
# How RingCentral events reach the bridge (DESIGN §3.1, §3.11).
RingCentralEvents = Literal["webhook", "websocket"]
KINDS: tuple[Kind, ...] = (
    "missed_call",
    "answered_call",
    "call",
    "voicemail",
    "fax",
    "sms",
    "internal_message",
)


OAUTH_CALLBACK_PATH = "/ringcentral/oauth/callback"


def fernet_keys(value: SecretStr) -> list[bytes]:
    """RINGBRIDGE_SECRET_KEY's keys, first the one that encrypts; ValueError (naming no
    key) when one is not a Fernet key (32 url-safe base64 bytes)."""
    keys = [k.strip().encode() for k in value.get_secret_value().split(",") if k.strip()]
    if not keys:
        raise ValueError("no key")
    for key in keys:
        try:
            raw = base64.urlsafe_b64decode(key)
        except (ValueError, binascii.Error):
            raise ValueError("not a Fernet key") from None
        if len(raw) != 32:
            raise ValueError("not a Fernet key")
    return keys


class ConfigError(Exception):
    """A setting is missing or malformed; `str()` is one line naming it."""


def _url_with_slash(value: str) -> str:
    return value if value.endswith("/") else value + "/"


def _no_slash(value: str) -> str:
    return value.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", frozen=True
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: Annotated[str, AfterValidator(_url_with_slash)] = "https://slack.com/api/"
    ringcentral_server_url: Annotated[str, AfterValidator(_no_slash)] = (
        "https://platform.ringcentral.com"
    )
    ringcentral_media_url: Annotated[str, AfterValidator(_no_slash)] = (
        "https://media.ringcentral.com"
    )
    ringcentral_client_id: str | None = None
    ringcentral_client_secret: SecretStr | None = None
    ringcentral_jwt: SecretStr | None = None
    public_url: AnyHttpUrl | None = None
    ringcentral_events: RingCentralEvents | None = None
    database_url: str = "sqlite:///./ringbridge.db"
    bridge_config: str | None = None
    default_channel: str | None = None
    port: int = Field(default=3000, ge=1, le=65535)
    host: str = "0.0.0.0"  # noqa: S104 - a server on a PaaS listens on every interface
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    dyno: str | None = None  # set by Heroku on every dyno
    # -- personal connections (issue #12) ----------------------------------------------------
    ringbridge_secret_key: SecretStr | None = None
    ringcentral_redirect_url: AnyHttpUrl | None = None

    @field_validator("slack_api_url", "ringcentral_server_url", "ringcentral_media_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_level(cls, value: SecretStr | None) -> SecretStr | None:
        # A bot token here is a common mix-up; Slack would refuse it at every reconnect.
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token (xapp-…) with connections:write")
        return value

    @field_validator("ringbridge_secret_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked at start, never quoted: a key that cannot encrypt is a broken setting.
        if value is not None:
            try:
                fernet_keys(value)
            except ValueError:
                raise ValueError(
                    "must be one or more comma-separated Fernet keys (`python -m bot keygen`)"
                ) from None
        return value

    @field_validator("ringcentral_events", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def events(self) -> RingCentralEvents:
        """RINGCENTRAL_EVENTS, or its default: `webhook` with PUBLIC_URL, else `websocket`.
        ConfigError for `webhook` without PUBLIC_URL (RingCentral would have nowhere to
        deliver)."""
        if self.ringcentral_events is None:
            return "webhook" if self.public_url is not None else "websocket"
        if self.ringcentral_events == "webhook" and self.public_url is None:
            raise ConfigError(
                "RINGCENTRAL_EVENTS: webhook needs PUBLIC_URL (this server's public https "
                "address); without one, use websocket"
            )
        return self.ringcentral_events

    @property
    def redirect_url(self) -> str | None:
        """Where RingCentral sends a person back after they connect (DESIGN §3.1):
        RINGCENTRAL_REDIRECT_URL, else PUBLIC_URL + the callback path; None: personal
        connections are off."""
        if self.ringcentral_redirect_url is not None:
            return str(self.ringcentral_redirect_url)
        if self.public_url is not None:
            return str(self.public_url).rstrip("/") + OAUTH_CALLBACK_PATH
        return None

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL in the async driver's form (Heroku gives `postgres://`)."""
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url.removeprefix(prefix)
        if url.startswith("sqlite:///"):
            if self.dyno:
                raise ConfigError(
                    "DATABASE_URL: SQLite is refused on Heroku, whose disk is wiped at every "
                    "restart; attach Heroku Postgres"
                )
            return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        if "://" in url and "+" in url.split("://", 1)[0]:
            return url  # already names its driver
        raise ConfigError("DATABASE_URL: expected sqlite:///path or postgres://user:pass@host/db")

    def secret(self, name: str) -> str:
        """The value of a secret setting, or ConfigError naming it when unset."""
        self.require(name)
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    def require(self, *names: str) -> None:
        """Raise ConfigError naming the first of these settings that is unset."""
        for name in names:
            if getattr(self, name) in (None, ""):
                raise ConfigError(f"{name.upper()} is not set: {_WHY[name]}")


_WHY = {
    "slack_bot_token": "the bot token (xoxb-…) from the Slack app's OAuth page",
    "slack_signing_secret": "the signing secret from the Slack app's Basic Information page "
    "(or set SLACK_APP_TOKEN for Socket Mode)",
    "slack_app_token": "an app-level token (xapp-…) with connections:write, from the Slack "
    "app's Basic Information page",
    "ringcentral_client_id": "the client ID of your RingCentral app",
    "ringcentral_client_secret": "the client secret of your RingCentral app",
    "ringcentral_jwt": "a JWT credential of the RingCentral user the bridge acts as",
}


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, env=True)) from None


def _one_line(exc: ValidationError, *, env: bool) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"])
    if env:
        where = where.upper()
    # The input is deliberately left out: it may be a secret.
    return f"{where}: {err['msg']}"


# --- bridge.toml -----------------------------------------------------------------------


def _e164(value: str) -> str:
    return phone.parse(value)


E164 = Annotated[str, AfterValidator(_e164)]


# --- durations, hours, times of day (DESIGN §3.2) ------------------------------------------

_DURATION = re.compile(r"\s*([0-9]+)\s*([smh])\s*")
_UNIT = {"s": 1, "m": 60, "h": 3600}


def parse_duration(value: Any) -> Any:
    """`45s`, `15m`, `2h` → a timedelta (anything else is left to the type's error)."""
    if not isinstance(value, str):
        return value
    match = _DURATION.fullmatch(value)
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{value!r} is not a duration such as 45s, 15m or 2h")
    return timedelta(seconds=int(match[1]) * _UNIT[match[2]])


def parse_time_of_day(value: Any) -> Any:
    """`17:30` → a time (24-hour clock, minutes)."""
    if not isinstance(value, str):
        return value
    minutes = _minutes(value)
    if minutes is None or minutes >= MINUTES_A_DAY:
        raise ValueError(f"{value!r} is not a time of day such as 17:30")
    return time(minutes // 60, minutes % 60)


MINUTES_A_DAY = 24 * 60
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# RingCentral's business-hours schedule names its days in full (WeeklyScheduleInfo).
WEEKDAY_NAMES = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_ITEM = re.compile(r"\s*([A-Za-z, -]+?)\s+([0-9:]+)\s*-\s*([0-9:]+)\s*")
HOURS_FORMAT = "DAYS HH:MM-HH:MM items separated by ';' (e.g. Mon-Fri 09:00-17:30; Sat 10:00-14:00)"
# `hours = "ringcentral"`: the account's business hours, read from RingCentral at start.
BUSINESS_HOURS: Final = "ringcentral"


def _minutes(text: str) -> int | None:
    """Minutes after midnight of `HH:MM` (`24:00` gives 1440), or None."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2])
    if minute >= 60 or hour > 24 or (hour == 24 and minute):
        return None
    return hour * 60 + minute


def _day(text: str) -> int:
    key = text.strip().lower()[:3]
    if key not in _DAYS or not WEEKDAY_NAMES[_DAYS.index(key)].startswith(text.strip().lower()):
        raise ValueError(f"{text.strip()!r} is not a day (Mon … Sun)")
    return _DAYS.index(key)


def _days(text: str) -> list[int]:
    """`Mon-Fri`, `Sat`, `Mon,Wed` or `Fri-Mon` (a range may wrap over Sunday)."""
    found: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        start = _day(first)
        end = _day(last) if last else start
        found.extend((start + step) % 7 for step in range((end - start) % 7 + 1))
    return found


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """The team's weekly hours: (weekday, start, end) in minutes after the day's midnight,
    Monday = 0; `end` may pass 1440 (a range that crosses midnight belongs to the day it
    starts). A start is inside, an end is not (DESIGN §3.12). No ranges: always open
    (RingCentral's "24 hours/7 days a week" is an empty schedule)."""

    ranges: tuple[tuple[int, int, int], ...]
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> WeeklyHours:
        ranges: list[tuple[int, int, int]] = []
        for item in text.split(";"):
            if not item.strip():
                continue
            match = _ITEM.fullmatch(item)
            start = _minutes(match[2]) if match else None
            end = _minutes(match[3]) if match else None
            if match is None or start is None or end is None or start >= MINUTES_A_DAY:
                raise ValueError(f"{item.strip()!r} is not {HOURS_FORMAT}")
            if start == end:
                raise ValueError(f"{item.strip()!r} is an empty range")
            if end < start:
                end += MINUTES_A_DAY  # crosses midnight
            ranges.extend((day, start, end) for day in _days(match[1]))
        if not ranges:
            raise ValueError(f'no hours given: {HOURS_FORMAT}, or "{BUSINESS_HOURS}"')
        return cls(tuple(ranges), text.strip())

    @classmethod
    def from_schedule(cls, weekly: Mapping[str, Iterable[tuple[str, str]]]) -> WeeklyHours:
        """From RingCentral's weekly ranges (`{"monday": [("09:00", "18:00")]}`); a range
        whose end is not after its start ends the next day."""
        ranges: list[tuple[int, int, int]] = []
        for day, name in enumerate(WEEKDAY_NAMES):
            for first, last in weekly.get(name, ()):
                start, end = _minutes(first), _minutes(last)
                if start is None or end is None:
                    raise ValueError(f"business hours of {name}: {first}-{last} is no range")
                ranges.append((day, start, end if end > start else end + MINUTES_A_DAY))
        text = "; ".join(
            f"{_DAYS[d].title()} {s // 60:02d}:{s % 60:02d}-{e // 60 % 24:02d}:{e % 60:02d}"
            for d, s, e in ranges
        )
        return cls(tuple(ranges), text or "always")

    def open_at(self, moment: datetime, zone: ZoneInfo) -> bool:
        """Whether `moment` (aware) falls inside these hours, read on the wall clock of
        `zone` (so DST moves the hours with the local day, as people expect)."""
        if not self.ranges:
            return True
        local = moment.astimezone(zone)
        minute = local.hour * 60 + local.minute
        today = local.weekday()
        yesterday = (today - 1) % 7
        return any(
            (day == today and start <= minute < end)
            or (day == yesterday and start <= minute + MINUTES_A_DAY < end)
            for day, start, end in self.ranges
        )

    def __str__(self) -> str:
        return self.text


def parse_hours(value: Any) -> Any:
    if isinstance(value, str):
        if value.strip().lower() == BUSINESS_HOURS:
            return BUSINESS_HOURS
        return WeeklyHours.parse(value)
    return value


def _hours_type(value: Any) -> WeeklyHours | str | None:
    if value is None or isinstance(value, WeeklyHours) or value == BUSINESS_HOURS:
        return value  # type: ignore[no-any-return]
    raise ValueError(f'hours must be a string: {HOURS_FORMAT}, or "{BUSINESS_HOURS}"')


# SMS text is at most 1000 characters (RingCentral's send-SMS limit).
AUTO_REPLY_MAX = 1000
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
TimeOfDay = Annotated[time, BeforeValidator(parse_time_of_day)]
Hours = Annotated[Any, BeforeValidator(parse_hours), AfterValidator(_hours_type)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Route(_Strict):
    events: list[Kind] = Field(min_length=1)
    channel: str | None = Field(default=None, min_length=1)
    # `dm = "owner"` instead of a channel: a DM to the Slack person linked to the
    # extension the event belongs to (DESIGN §3.2, §3.9).
    dm: Literal["owner"] | None = None
    extensions: list[str] = []
    numbers: list[E164] = []
    # "sms": a person's reply in a conversation's thread is texted; "off": threads stay
    # internal (DESIGN §3.8).
    replies: Literal["sms", "off"] = "sms"

    # Team workflow (DESIGN §3.12).
    remind_after: Duration | None = None
    hours: Hours = None  # WeeklyHours, or BUSINESS_HOURS until resolved at start
    after_hours_channel: str | None = Field(None, min_length=1)
    auto_reply: str | None = Field(None, min_length=1, max_length=AUTO_REPLY_MAX)
    digest: TimeOfDay | None = None

    @model_validator(mode="after")
    def _after_hours_needs_hours(self) -> Route:
        if self.after_hours_channel is not None and self.hours is None:
            raise ValueError("after_hours_channel needs hours (when the team is in)")
        return self

    @field_validator("auto_reply")
    @classmethod
    def _not_blank(cls, text: str | None) -> str | None:
        if text is not None and not text.strip():
            raise ValueError("auto_reply is blank")
        return text

    def open_at(self, moment: datetime, zone: ZoneInfo) -> bool:
        """Whether the team is in at `moment` (no hours: always)."""
        return not isinstance(self.hours, WeeklyHours) or self.hours.open_at(moment, zone)

    def channel_at(self, moment: datetime, zone: ZoneInfo) -> str | None:
        """Where an event that happened at `moment` goes: outside the hours, the
        after-hours channel when there is one (DESIGN §3.12); None for a `dm` route in
        its hours (the owner's DM)."""
        if self.after_hours_channel is not None and not self.open_at(moment, zone):
            return self.after_hours_channel
        return self.channel

    @model_validator(mode="after")
    def _one_target(self) -> Route:
        if (self.channel is None) == (self.dm is None):
            raise ValueError('a route needs either `channel` or `dm = "owner"` (not both)')
        return self


class RingCentralConfig(_Strict):
    extensions: list[str] = []


class CommandsConfig(_Strict):
    sms_from: E164 | None = None
    ringout_from: E164 | None = None


class AdminConfig(_Strict):
    """Where the bridge reports trouble (DESIGN §3.10); unset: the log only."""

    channel: str | None = Field(default=None, min_length=1)


class RetentionConfig(_Strict):
    """How long delivered inbox rows and audit rows are kept (dead letters: 90 days)."""

    days: int = Field(default=30, ge=1)


# --- [people] and [permissions] (DESIGN §3.2, §3.9) ---------------------------------------

_PERMISSION_ENTRY = re.compile(
    r"^(\*|[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}|@[\w.\-]+|[CG][A-Z0-9]{2,}|#[\w\-]+)$"
)


def _permission_entry(value: str) -> str:
    if not _PERMISSION_ENTRY.match(value):
        raise ValueError(
            f'{value!r} is not "*", a person (U…), a user group (S… or @handle) or a '
            "channel (C… or #name)"
        )
    return value


PermissionEntry = Annotated[str, AfterValidator(_permission_entry)]


class PeopleConfig(_Strict):
    link_by_email: bool = True
    # Slack user id -> extension number ("" for none): overrides the email links.
    links: dict[str, str] = {}

    @field_validator("links")
    @classmethod
    def _slack_people(cls, value: dict[str, str]) -> dict[str, str]:
        for user, extension in value.items():
            if not re.match(r"^[UW][A-Z0-9]{2,}$", user):
                raise ValueError(f"{user!r} is not a Slack person's id (U…)")
            if extension and not extension.isdigit():
                raise ValueError(f"{extension!r} is not an extension number")
        return value


class PermissionsConfig(_Strict):
    """Who may use the shared RingCentral session for what; `"*"` is every full member."""

    sms: list[PermissionEntry] = ["*"]
    call: list[PermissionEntry] = ["*"]
    company_calllog: list[PermissionEntry] = []


class BridgeConfig(_Strict):
    routes: list[Route] = []
    ringcentral: RingCentralConfig = RingCentralConfig()
    commands: CommandsConfig = CommandsConfig()
    admin: AdminConfig = AdminConfig()
    retention: RetentionConfig = RetentionConfig()
    people: PeopleConfig = PeopleConfig()
    permissions: PermissionsConfig = PermissionsConfig()


def load_bridge_config(source: str | None) -> BridgeConfig:
    """Read BRIDGE_CONFIG: a path, or the TOML itself when it starts with `[`.

    With no BRIDGE_CONFIG, `./bridge.toml` is read if present; otherwise the empty config.
    """
    where = "BRIDGE_CONFIG"
    if source is None:
        default = Path("bridge.toml")
        if not default.is_file():
            return BridgeConfig()
        source, where = str(default), "bridge.toml"
    if source.lstrip().startswith("["):
        text = source
    else:
        where = source
        try:
            text = Path(os.path.expanduser(source)).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"BRIDGE_CONFIG: cannot read {source}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    try:
        return BridgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_one_line(exc, env=False)}") from None
