"""RingCentral's token endpoint is one per app (RELIABILITY R27, DESIGN §3.9).

Four `serve` processes on one PostgreSQL database, and persons' sessions (persons are not
in the bridge yet: each is a RingCentralClient logging in as an extension of the account,
its session and token requests kept in the same database, spread over four engines as
four processes would). Setup (not measured): every identity signs in while the simulator
lifts its Auth limit. A quiet while later (the windows emptied rather than waited for),
RingCentral's real limit (5 a minute per app) is back, every access token expires, the
persons come back at once and the four processes restart: each identity needs a token
request. Meanwhile two CLI runs: one beside the running bridge
(it uses the stored session: no token request) and one signed in with another JWT of the
service user (a session of its own, revoked at exit).

Pass: token and revoke requests at the simulator never more than 5 in any minute, none
refused (429); the service user's refresh goes within the first window, ahead of the
persons waiting their turn; every person is served; no CLI run leaves a session open.

Needs the PostgreSQL of RINGBRIDGE_SOAK_POSTGRES; CI size 6 persons, full size 20.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import SystemClock
from bot.config import Settings
from bot.ringcentral import (
    Credentials,
    JsonTokenStore,
    RateLimited,
    RingCentralClient,
    TokenPacer,
)
from bot.server import service_identity
from bot.sim import CHANNEL, RAISED_LIMITS, ServerProcess, SimInfo, SimOptions, Simulators
from bot.store import DatabaseTokenRequestLog, DatabaseTokenStore, connect
from bot.store.schema import Token, TokenRequest

from ._kit import (
    create_postgres_database,
    drop_postgres_database,
    postgres_available,
    until,
)

pytestmark = pytest.mark.long  # a long real-time run: its own CI step (README)

PROCESSES = 4
EXT = "/restapi/v1.0/account/~/extension/~"
OAUTH = ("/restapi/oauth/token", "/restapi/oauth/revoke", "/restapi/oauth/wstoken")
MINUTE = 60.0
LIMIT = 5
ROUTES = f'[[routes]]\nevents = ["sms"]\nchannel = "{CHANNEL}"\n'


@pytest.fixture(autouse=True)
async def _postgres() -> None:
    if not await postgres_available():
        pytest.skip("no PostgreSQL at RINGBRIDGE_SOAK_POSTGRES")


def _async_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


class Person:
    """One person's session, kept in the database as the bridge would keep it."""

    def __init__(self, index: int, info: SimInfo, engine: AsyncEngine, jwt: str) -> None:
        self.identity = f"person:{index}"
        clock = SystemClock()
        self.client = RingCentralClient(
            http=httpx.AsyncClient(),
            server_url=info.rc_server_url,
            media_url=info.rc_media_url,
            credentials=Credentials(
                client_id=info.rc_client_id, client_secret=info.rc_client_secret, jwt=jwt
            ),
            token_store=JsonTokenStore(DatabaseTokenStore(engine, self.identity)),
            clock=clock,
            identity=self.identity,
            token_pacer=TokenPacer(
                DatabaseTokenRequestLog(engine), clock, app=info.rc_client_id, service=False
            ),
        )

    async def use(self) -> float:
        """One call, asking again when refused unsent (the app's window is full for longer
        than the client waits); when it was answered."""
        while True:
            try:
                await self.client.request("GET", EXT)
                return time.time()
            except RateLimited as err:
                if err.sent:
                    raise

    async def close(self) -> None:
        await self.client.close()


async def _cli(info: SimInfo, database_url: str, jwt: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RINGCENTRAL_"))}
    env |= info.server_env() | {"DATABASE_URL": database_url}
    if jwt is not None:
        env["RINGCENTRAL_JWT"] = jwt
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "api", "GET", EXT],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.returncode


def _settings(info: SimInfo) -> dict[str, str]:
    return {name.lower(): value for name, value in info.server_env().items()}


def _most_in_a_minute(times: list[float]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= MINUTE:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_r27_token_requests_stay_within_the_apps_limit(
    soak: bool, figures: dict[str, Any]
) -> None:
    persons_wanted = 20 if soak else 6
    sims = Simulators(SimOptions(limits={**RAISED_LIMITS, "Auth": 10_000}))
    servers: list[ServerProcess] = []
    engines: list[AsyncEngine] = []
    persons: list[Person] = []
    database_url = ""
    try:
        info = await sims.start()
        database_url = await create_postgres_database()
        env = {"DATABASE_URL": database_url, "BRIDGE_CONFIG": ROUTES, "LOG_LEVEL": "INFO"}
        servers = [ServerProcess(info, public_url=True, extra_env=env) for _ in range(PROCESSES)]
        engines = [connect(_async_url(database_url)) for _ in range(PROCESSES)]
        # Setup, not measured: the bridge and every person signed in.
        for server in servers:
            await server.start()
        window = DatabaseTokenRequestLog(engines[0])
        await until("the bridge's session", lambda: _stored(engines[0]), 60)
        (service_owner,) = {str(s["owner_id"]) for s in await sims.rc_sessions()}
        other_service_jwt = await sims.rc_jwt_for(service_owner)
        extensions = [e for e in await sims.rc_extension_ids() if e != service_owner]
        jwts = [
            await sims.rc_jwt_for(extensions[i % len(extensions)]) for i in range(persons_wanted)
        ]
        persons = [Person(i, info, engines[i % PROCESSES], jwts[i]) for i in range(persons_wanted)]
        await asyncio.gather(*(p.use() for p in persons))
        for person in persons:
            await person.close()

        # The restart: RingCentral's limit back, every access token expired.
        for server in servers:
            await server.kill()
        # A quiet while later (the setup's token requests out of every window):
        await sims.rc_reset_rate_limits()
        async with engines[0].begin() as conn:
            await conn.execute(delete(TokenRequest))
        await sims.rc_set_limit("Auth", LIMIT)
        await sims.rc_expire_tokens()
        started = time.time()
        persons = [Person(i, info, engines[i % PROCESSES], jwts[i]) for i in range(persons_wanted)]
        using = [asyncio.create_task(p.use()) for p in persons]
        await asyncio.sleep(1.0)  # the persons fill the first window, the rest wait
        restarted = time.time()
        for server in servers:  # one after the other: on a busy machine four at once are slow
            await server.start()
        clis = await asyncio.gather(
            _cli(info, database_url),  # beside the bridge: its stored session
            _cli(info, database_url, jwt=other_service_jwt),  # a session of its own
        )
        served = await asyncio.wait_for(asyncio.gather(*using), timeout=15 * MINUTE)
        for server in servers:
            healthy, _ = await server.health()
            assert healthy == 200

        log = [r for r in await sims.rc_request_log() if r["time"] >= started]
        oauth = [r for r in log if r["path"] in OAUTH]
        refused = [r for r in oauth if r["status"] == 429]
        taken = [(who, at) for who, at in await window.requests(info.rc_client_id) if at >= started]
        order = [who for who, _ in sorted(taken, key=lambda item: item[1])]
        bridge = service_identity(Settings(**_settings(info)))
        service_at = [at for who, at in taken if who == bridge]
        sessions = await sims.rc_sessions()
        open_service_sessions = sum(
            1 for s in sessions if s["owner_id"] == service_owner and s["alive"]
        )
        figures.update(
            persons=persons_wanted,
            processes=PROCESSES,
            token_requests=len(oauth),
            most_in_a_minute=_most_in_a_minute([r["time"] for r in oauth]),
            refused_429=len(refused),
            service_position=order.index(bridge) if bridge in order else None,
            service_after_restart_s=round(min(service_at) - restarted, 2) if service_at else None,
            persons_served_s=round(max(served) - started, 1),
            cli_runs=len(clis),
            service_sessions_open=open_service_sessions,
        )
        assert figures["most_in_a_minute"] <= LIMIT, figures
        assert not refused, refused[:5]
        assert len(served) == persons_wanted
        # Its refresh took a slot of the first window (the one kept for it), ahead of the
        # persons still waiting.
        assert figures["service_position"] is not None and figures["service_position"] < LIMIT
        assert figures["service_after_restart_s"] is not None
        assert figures["service_after_restart_s"] < MINUTE, figures  # it waited no window
        # The bridge's one shared session, and nothing a CLI run opened.
        assert open_service_sessions == 1, sessions
    finally:
        for person in persons:
            await person.close()
        for server in servers:
            await server.kill()
        for server in servers:
            await server.close()
        for engine in engines:
            await engine.dispose()
        if database_url:
            await drop_postgres_database(database_url)
        await sims.close()


async def _stored(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(Token).where(Token.tokens.is_not(None))
        )
    return bool(count)
