"""CLI commands and RingCentral sessions (DESIGN §3.9, issue #9 item 11): a command uses
the running bridge's stored session when the database holds one, and otherwise revokes the
session it opened when it exits (RingCentral keeps about five sessions per user and app
and ends the oldest, which may be `serve`'s)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.ringcentral import JsonTokenStore
from bot.server import ringcentral_client, service_identity
from bot.sim import RingCentralSimulator
from bot.store import DatabaseTokenRequestLog, DatabaseTokenStore
from tests.cli import Cli

TOKEN = "/restapi/oauth/token"
REVOKE = "/restapi/oauth/revoke"
EXT = "/restapi/v1.0/account/~/extension/~"


def env(rc_sim: RingCentralSimulator) -> dict[str, str]:
    return {
        "RINGCENTRAL_SERVER_URL": rc_sim.server_url,
        "RINGCENTRAL_MEDIA_URL": rc_sim.media_url,
        "RINGCENTRAL_CLIENT_ID": rc_sim.client_id,
        "RINGCENTRAL_CLIENT_SECRET": rc_sim.client_secret,
        "RINGCENTRAL_JWT": rc_sim.jwt,
    }


def settings_of(rc_sim: RingCentralSimulator) -> Settings:
    return Settings(**{name.lower(): value for name, value in env(rc_sim).items()})


@pytest.fixture
def cli(
    rc_sim: RingCentralSimulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Cli:
    """No DATABASE_URL: the default SQLite file, which does not exist here."""
    return Cli(monkeypatch, capsys, tmp_path, env(rc_sim), secrets=[rc_sim.jwt])


def bearer_of(rc_sim: RingCentralSimulator, path: str) -> str:
    (call,) = [r for r in rc_sim.requests if r.path.endswith(path)]
    return call.headers["authorization"].removeprefix("Bearer ")


async def refused(rc_sim: RingCentralSimulator, token: str) -> bool:
    """Whether RingCentral now refuses `token` (its session was revoked)."""
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            rc_sim.server_url + EXT, headers={"Authorization": f"Bearer {token}"}
        )
    return answer.status_code == 401


async def test_without_a_database_the_command_revokes_the_session_it_opened(
    cli: Cli, rc_sim: RingCentralSimulator, tmp_path: Path
) -> None:
    run = await cli("api", "GET", EXT)

    assert run.code == 0, run.err
    assert [r.path for r in rc_sim.requests if r.path.startswith("/restapi/oauth")] == [
        TOKEN,
        REVOKE,
    ]
    token = bearer_of(rc_sim, "/extension/~")
    (revoke,) = rc_sim.requests_to(REVOKE)
    assert (revoke.form or {}).get("token") == token
    assert await refused(rc_sim, token)
    assert not (tmp_path / "ringbridge.db").exists()  # no database made for it


async def test_a_refused_call_still_revokes_the_session(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    run = await cli("api", "GET", "/restapi/v1.0/account/~/extension/~/call-log", "-q", "view=Bad")

    assert run.code == 1
    assert len(rc_sim.requests_to(REVOKE)) == 1


async def test_with_the_bridges_session_in_the_database_no_token_request_is_made(
    cli: Cli, rc_sim: RingCentralSimulator, engine: AsyncEngine
) -> None:
    settings = settings_of(rc_sim)
    store = JsonTokenStore(DatabaseTokenStore(engine, service_identity(settings)))
    async with httpx.AsyncClient() as http:  # what `serve` does at start: its session stored
        serving = ringcentral_client(settings, http, token_store=store)
        await serving.request("GET", EXT)
    stored = await store.load()
    assert stored is not None
    rc_sim.requests.clear()

    run = await cli("api", "GET", EXT, DATABASE_URL=engine.url.render_as_string(False))

    assert run.code == 0, run.err
    assert json.loads(run.out)["id"]
    assert [r.path for r in rc_sim.requests] == [EXT]  # no token request, no revoke
    assert bearer_of(rc_sim, "/extension/~") == stored.access_token.get_secret_value()
    assert not await refused(rc_sim, stored.access_token.get_secret_value())
    assert await store.load() == stored


async def test_with_a_database_but_no_session_the_token_requests_count_in_its_window(
    cli: Cli, rc_sim: RingCentralSimulator, engine: AsyncEngine
) -> None:
    run = await cli("api", "GET", EXT, DATABASE_URL=engine.url.render_as_string(False))

    assert run.code == 0, run.err
    assert len(rc_sim.requests_to(TOKEN)) == 1 and len(rc_sim.requests_to(REVOKE)) == 1
    window = await DatabaseTokenRequestLog(engine).requests(rc_sim.client_id)
    identity = service_identity(settings_of(rc_sim))
    assert [who for who, _ in window] == [identity, identity]  # the login, the revoke
    texts = DatabaseTokenStore(engine, identity)
    assert await texts.load() is None  # its own session is not the bridge's to keep
