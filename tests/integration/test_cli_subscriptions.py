"""`python -m bot subscriptions list | sync | delete ID` as an admin runs it, in process
(`tests/cli.py`), against the RingCentral simulator, with a small webhook endpoint
answering the handshake; and `list` reading, never migrating, the database."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sim.ringcentral import RingCentralSimulator
from bot.store import SubscriptionStore, connect, create_schema
from bot.store.migrate import head_revision
from tests.cli import Cli
from tests.conftest import database_url

ROUTES = '[[routes]]\nevents = ["sms", "voicemail"]\nchannel = "C0123TEXTS"\n'


async def handshake(request: web.Request) -> web.Response:
    """The creation handshake only (reference §2.2): echo Validation-Token, JSON, 200."""
    return web.Response(
        headers={
            "Validation-Token": request.headers.get("Validation-Token", ""),
            "Content-Type": "application/json",
        }
    )


@pytest.fixture
async def public_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/ringcentral/webhook", handshake)
    app.router.add_post("/someone-else", handshake)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def ringcentral_env(rc_sim: RingCentralSimulator) -> dict[str, str]:
    return {
        "RINGCENTRAL_SERVER_URL": rc_sim.server_url,
        "RINGCENTRAL_MEDIA_URL": rc_sim.media_url,
        "RINGCENTRAL_CLIENT_ID": rc_sim.client_id,
        "RINGCENTRAL_CLIENT_SECRET": rc_sim.client_secret,
        "RINGCENTRAL_JWT": rc_sim.jwt,
    }


def raise_auth_limit(rc_sim: RingCentralSimulator) -> None:
    """Each command without a running bridge's session logs in and revokes at exit: two
    token requests, and a test runs several commands while the simulator's clock stands
    still. RingCentral raises an app's Auth limit on request; the CLI learns it from the
    answers' X-Rate-Limit-Limit, but each command starts at five a minute, so a test's
    fourth command would wait for the window (`tests.cli.a_minute_later`)."""
    rc_sim.set_limit("Auth", 100)


@pytest.fixture
def cli(
    rc_sim: RingCentralSimulator,
    engine: AsyncEngine,
    public_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Cli:
    """The CLI on a database at this version's schema."""
    raise_auth_limit(rc_sim)
    env = ringcentral_env(rc_sim) | {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PUBLIC_URL": public_url,
        "BRIDGE_CONFIG": ROUTES,
    }
    return Cli(monkeypatch, capsys, tmp_path, env, secrets=[rc_sim.jwt, rc_sim.client_secret])


@pytest.fixture
async def bare_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database without the schema: no SQLite file at all, or a new PostgreSQL database
    of its own beside the suite's (named after it, and after the xdist worker if any)."""
    url = database_url(tmp_path)
    if not url.startswith("postgresql"):
        yield url
        return
    suite = make_url(url)
    name = f"{suite.database}_bare{os.environ.get('PYTEST_XDIST_WORKER', '')}"
    await _admin(
        suite, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )
    yield suite.set(database=name).render_as_string(hide_password=False)
    await _admin(suite, f'DROP DATABASE "{name}" WITH (FORCE)')


async def _admin(suite: URL, *statements: str) -> None:
    admin = connect(
        suite.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await admin.dispose()


@pytest.fixture
def bare(
    rc_sim: RingCentralSimulator,
    bare_url: str,
    public_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Cli:
    """The CLI on a database without the schema (`bare_url`)."""
    raise_auth_limit(rc_sim)
    env = ringcentral_env(rc_sim) | {
        "DATABASE_URL": bare_url,
        "PUBLIC_URL": public_url,
        "BRIDGE_CONFIG": ROUTES,
    }
    return Cli(monkeypatch, capsys, tmp_path, env, secrets=[rc_sim.jwt, rc_sim.client_secret])


async def schema_of(url: str) -> tuple[list[str], str | None]:
    """The tables of the database at `url` and its Alembic revision (None: none)."""
    db = connect(url)
    try:
        async with db.connect() as conn:
            tables = await conn.run_sync(lambda c: sorted(inspect(c).get_table_names()))
            revision = None
            if "alembic_version" in tables:
                query = text("SELECT version_num FROM alembic_version")
                revision = (await conn.execute(query)).scalar()
        return tables, revision
    finally:
        await db.dispose()


def sqlite_file(url: str) -> Path | None:
    return Path(url.split(":///", 1)[1]) if url.startswith("sqlite") else None


def store(engine: AsyncEngine) -> SubscriptionStore:
    return SubscriptionStore(engine)


async def test_sync_creates_the_subscription_and_says_so(
    cli: Cli, engine: AsyncEngine, rc_sim: RingCentralSimulator, public_url: str
) -> None:
    run = await cli("subscriptions", "sync")

    assert run.code == 0, run.err
    [sub] = rc_sim.subscriptions.values()
    assert run.out.splitlines() == [
        f"created subscription {sub.id} at {public_url}/ringcentral/webhook: 4 event filters, "
        f"active until {run.out.split('active until ')[1].strip()}"
    ]
    ext = f"/restapi/v1.0/account/{rc_sim.account_id}/extension/{rc_sim.extension_id}"
    assert sub.event_filters == [
        f"{ext}/voicemail",
        f"{ext}/message-store/instant?type=SMS",
        # How the texts it sends end (DESIGN §3.8), under a filter that names them.
        f"{ext}/message-store?type=SMS&direction=Outbound",
        f"{ext}/message-store",
    ]
    (record,) = await store(engine).all()
    assert record.id == sub.id and record.verification_token == sub.verification_token
    assert sub.verification_token not in run.out + run.err

    again = await cli("subscriptions", "sync")

    assert again.code == 0, again.err
    assert again.out.startswith(f"subscription {sub.id} is active until ")
    assert list(rc_sim.subscriptions) == [sub.id]


async def test_list_shows_id_status_expiry_and_filters_marking_ours(
    cli: Cli, rc_sim: RingCentralSimulator, public_url: str
) -> None:
    assert (await cli("subscriptions", "sync")).code == 0
    [ours] = rc_sim.subscriptions
    body = {
        "eventFilters": ["/restapi/v1.0/account/~/extension/~/fax?direction=Inbound"],
        "deliveryMode": {"transportType": "WebHook", "address": f"{public_url}/someone-else"},
    }
    made = await cli("api", "POST", "/restapi/v1.0/subscription", "-d", json.dumps(body))
    theirs = json.loads(made.out)["id"]
    rc_sim.blacklist(theirs, "Read timed out")

    run = await cli("subscriptions", "list")

    assert run.code == 0, run.err
    lines = run.out.splitlines()
    head = lines.index(next(line for line in lines if line.startswith(ours)))
    assert lines[head].startswith(f"{ours}  Active  expires 2026-01-08 00:00:")
    assert lines[head].endswith("  [ours]")
    assert lines[head + 1] == f"  address: {public_url}/ringcentral/webhook"
    assert f"  filter: {rc_sim.subscriptions[ours].event_filters[0]}" in lines
    other = lines.index(next(line for line in lines if line.startswith(theirs)))
    assert lines[other].startswith(f"{theirs}  Blacklisted  expires ")
    assert "[ours]" not in lines[other]
    assert lines[other + 1 : other + 4] == [
        f"  address: {public_url}/someone-else",
        "  blacklisted: Read timed out",
        f"  filter: /restapi/v1.0/account/{rc_sim.account_id}/extension/"
        f"{rc_sim.extension_id}/fax?direction=Inbound",
    ]


async def test_sync_replaces_a_blacklisted_subscription(
    cli: Cli, engine: AsyncEngine, rc_sim: RingCentralSimulator
) -> None:
    assert (await cli("subscriptions", "sync")).code == 0
    [old] = rc_sim.subscriptions
    rc_sim.blacklist(old, "Webhook responses with code: [500]")

    run = await cli("subscriptions", "sync")

    assert run.code == 0, run.err
    [new] = rc_sim.subscriptions
    assert run.out.splitlines()[0] == (
        f"deleted subscription {old}: Blacklisted (Webhook responses with code: [500])"
    )
    assert run.out.splitlines()[1].startswith(f"created subscription {new} at ")
    assert [r.id for r in await store(engine).all()] == [new]


async def test_delete_removes_it_at_ringcentral_and_in_the_database(
    cli: Cli, engine: AsyncEngine, rc_sim: RingCentralSimulator
) -> None:
    assert (await cli("subscriptions", "sync")).code == 0
    [sub_id] = rc_sim.subscriptions

    run = await cli("subscriptions", "delete", sub_id)

    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        f"deleted subscription {sub_id} at RingCentral and its verification token in the database"
    ]
    assert not rc_sim.subscriptions
    assert await store(engine).all() == []
    assert (await cli("subscriptions", "list")).out == "no subscriptions\n"


async def test_delete_of_an_unknown_id_prints_ringcentrals_refusal_and_exits_1(cli: Cli) -> None:
    run = await cli("subscriptions", "delete", "4d3c2b1a-0000-4000-8000-000000000000")

    assert run.code == 1
    assert run.out == ""
    assert run.err.startswith("error: CMN-102: ")


async def test_list_when_ringcentral_refuses_exits_1(cli: Cli) -> None:
    run = await cli("subscriptions", "list", RINGCENTRAL_JWT="not-a-jwt")

    assert run.code == 1
    assert run.out == ""
    assert run.err.splitlines()[-1] == "error: OAU-140: Invalid resource owner credentials"


async def test_sync_without_public_url_is_bad_configuration(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    del cli.env["PUBLIC_URL"]

    run = await cli("subscriptions", "sync")

    assert run.code == 2
    assert run.err.splitlines() == [
        "ringbridge: PUBLIC_URL is not set: the webhook address is PUBLIC_URL + "
        "/ringcentral/webhook"
    ]
    assert not rc_sim.requests


async def test_sync_names_an_unknown_extension_and_exits_2(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    config = ROUTES + '[ringcentral]\nextensions = ["101", "909"]\n'

    run = await cli("subscriptions", "sync", BRIDGE_CONFIG=config)

    assert run.code == 2
    assert run.err.splitlines() == [
        "ringbridge: [ringcentral].extensions: no extension numbered 909 in this RingCentral "
        "account"
    ]
    assert not rc_sim.subscriptions


@pytest.mark.parametrize("args", [["subscriptions"], ["subscriptions", "delete"]])
async def test_bad_usage_exits_2(cli: Cli, rc_sim: RingCentralSimulator, args: list[str]) -> None:
    run = await cli(*args)

    assert run.code == 2
    assert not rc_sim.requests


# -- `list` reads the database and never changes its schema ----------------------------------


async def theirs(cli: Cli, public_url: str) -> str:
    """A subscription someone else made at RingCentral (no database involved): its id."""
    body = {
        "eventFilters": ["/restapi/v1.0/account/~/extension/~/fax?direction=Inbound"],
        "deliveryMode": {"transportType": "WebHook", "address": f"{public_url}/someone-else"},
    }
    made = await cli("api", "POST", "/restapi/v1.0/subscription", "-d", json.dumps(body))
    assert made.code == 0, made.err
    return str(json.loads(made.out)["id"])


async def test_list_on_a_database_without_the_schema_creates_nothing_and_says_what_to_do(
    bare: Cli, bare_url: str, public_url: str
) -> None:
    sub_id = await theirs(bare, public_url)

    run = await bare("subscriptions", "list")

    assert run.code == 0, run.err
    assert run.out.splitlines()[0].startswith(f"{sub_id}  Active  expires ")
    assert "[ours]" not in run.out
    assert run.err.splitlines() == [
        f"ringbridge: the database schema is at nothing, this version needs {head_revision()}: "
        "run `python -m bot db upgrade` (until then no subscription is marked [ours])"
    ]
    if (path := sqlite_file(bare_url)) is not None:
        assert not path.exists()  # not even an empty file
    else:
        assert await schema_of(bare_url) == ([], None)


async def test_list_on_a_schema_alembic_does_not_know_leaves_it_as_it_was(
    bare: Cli, bare_url: str, public_url: str
) -> None:
    db = connect(bare_url)
    await create_schema(db)
    async with db.begin() as conn:  # as a schema at a revision other than this version's
        await conn.execute(text("DELETE FROM alembic_version"))
    await db.dispose()
    before = await schema_of(bare_url)
    sub_id = await theirs(bare, public_url)

    run = await bare("subscriptions", "list")

    assert run.code == 0, run.err
    assert run.out.splitlines()[0].startswith(f"{sub_id}  Active  expires ")
    assert "run `python -m bot db upgrade`" in run.err
    assert await schema_of(bare_url) == before
    assert before[1] is None and "subscriptions" in before[0]


async def test_sync_on_a_database_without_the_schema_does_what_serve_does(
    bare: Cli, bare_url: str, rc_sim: RingCentralSimulator
) -> None:
    """SQLite (one process owns the file) is upgraded; a shared PostgreSQL schema is left
    to `db upgrade`, and nothing is made at RingCentral without a place for its token."""
    run = await bare("subscriptions", "sync")

    if sqlite_file(bare_url) is not None:
        assert run.code == 0, run.err
        assert (await schema_of(bare_url))[1] == head_revision()
        assert len(rc_sim.subscriptions) == 1
    else:
        assert run.code == 2
        assert run.err.splitlines() == [
            f"ringbridge: DATABASE_URL: the database schema is at nothing, this version needs "
            f"{head_revision()}: run `python -m bot db upgrade`"
        ]
        assert await schema_of(bare_url) == ([], None)
        assert not rc_sim.subscriptions


async def test_list_says_a_websocket_subscription_lives_in_its_connection(
    cli: Cli, engine: AsyncEngine, rc_sim: RingCentralSimulator
) -> None:
    """DESIGN §3.11: the bridge's WebSocket subscription is marked ours (its session is in
    the database) and shown as living in its connection, not at an address."""
    from datetime import UTC, datetime

    import aiohttp
    import httpx

    from bot.clock import SystemClock
    from bot.config import Settings
    from bot.ringcentral import Credentials, RingCentralClient
    from bot.ringcentral.ws import WsConnection, request_ws_token
    from bot.server import service_identity
    from bot.store.ws_sessions import WsSessionStore

    rc = RingCentralClient(
        http=httpx.AsyncClient(),
        credentials=Credentials(
            client_id=rc_sim.client_id, client_secret=rc_sim.client_secret, jwt=rc_sim.jwt
        ),
        server_url=rc_sim.server_url,
        media_url=rc_sim.media_url,
    )
    async with rc, aiohttp.ClientSession() as session:
        conn = await WsConnection.open(session, await request_ws_token(rc), clock=SystemClock())
        try:
            sub = await conn.subscribe(["/restapi/v1.0/account/~/extension/~/voicemail"])
            assert conn.wsc is not None
            identity = service_identity(
                Settings(
                    _env_file=None,  # type: ignore[call-arg]
                    ringcentral_client_id=rc_sim.client_id,
                    ringcentral_jwt=rc_sim.jwt,
                )
            )
            await WsSessionStore(engine, identity).save_session(
                conn.wsc.token, 1, sub.id, datetime.now(UTC)
            )
            run = await cli("subscriptions", "list")
        finally:
            await conn.close()

    assert run.code == 0, run.err
    lines = run.out.splitlines()
    head = lines.index(next(line for line in lines if line.startswith(sub.id)))
    assert lines[head].endswith("  [ours]")
    assert (
        lines[head + 1] == "  address: its WebSocket connection (it lives as long as that session)"
    )
