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
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
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
