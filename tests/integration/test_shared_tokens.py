"""One RingCentral session shared by several processes (RELIABILITY §3 multi-process, R6).

Each "process" is a RingCentralClient of its own — its own HTTP client, database engine
(connection pool) and DatabaseTokenStore (read through a JsonTokenStore) — in this event
loop, all on one database and one RingCentral simulator: the store's row lock is the only
thing they share, exactly as separate `serve` processes would. Runs on SQLite, and on
PostgreSQL when RINGBRIDGE_TEST_POSTGRES is set (in a database of its own,
`rb_shared_tokens`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FakeClock
from bot.ringcentral import Credentials, JsonTokenStore, RingCentralClient, TokenSet
from bot.sim.ringcentral import RingCentralSimulator
from bot.store import DatabaseTokenStore, connect, create_schema
from bot.store.login_refusals import DatabaseLoginGate
from bot.store.schema import Token, TokenClaim
from tests.databases import postgres_database

POSTGRES = os.environ.get("RINGBRIDGE_TEST_POSTGRES")
NO_POSTGRES = (
    "RINGBRIDGE_TEST_POSTGRES is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1/test)"
)
BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(not POSTGRES, reason=NO_POSTGRES)),
]

EXT = "/restapi/v1.0/account/~/extension/~"
TOKEN = "/restapi/oauth/token"
IDENTITY = "service:test"
PROCESSES = 4
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


async def fresh_postgres_database(name: str) -> str:
    """A new, empty database of this test process named after `name`; its URL."""
    return await postgres_database(name)


async def database_for(backend: str, tmp_path: Path, name: str) -> str:
    """The URL of a fresh database with the schema, on `backend`."""
    if backend == "postgresql":
        url = await fresh_postgres_database(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    engine = connect(url)
    try:
        await create_schema(engine)
    finally:
        await engine.dispose()
    return url


class Process:
    """What one `serve` process would hold: an engine and a client with its token store."""

    def __init__(
        self, url: str, sim: RingCentralSimulator, clock: FakeClock, *, gate: bool = False
    ) -> None:
        """`gate`: a refused login is remembered in the database, as `serve` does."""
        self.engine: AsyncEngine = connect(url)
        self.store = JsonTokenStore(DatabaseTokenStore(self.engine, IDENTITY, clock=clock))
        self.client = RingCentralClient(
            http=httpx.AsyncClient(),
            server_url=sim.server_url,
            media_url=sim.media_url,
            credentials=Credentials(
                client_id=sim.client_id, client_secret=sim.client_secret, jwt=sim.jwt
            ),
            token_store=self.store,
            clock=clock,
            identity=IDENTITY,
            login_gate=DatabaseLoginGate(self.engine, IDENTITY) if gate else None,
        )

    async def close(self) -> None:
        await self.client.close()
        await self.engine.dispose()


@pytest.fixture(params=BACKENDS)
async def processes(
    request: pytest.FixtureRequest,
    rc_sim: RingCentralSimulator,
    clock: FakeClock,
    tmp_path: Path,
) -> AsyncIterator[list[Process]]:
    url = await database_for(request.param, tmp_path, "rb_shared_tokens")
    rc_sim.set_limit("Light", 10_000)  # one user's requests from 4 processes: not the point
    started = [Process(url, rc_sim, clock) for _ in range(PROCESSES)]
    try:
        yield started
    finally:
        for process in started:
            await process.close()


def token_requests(sim: RingCentralSimulator) -> list[str]:
    return [(r.form or {}).get("grant_type", "") for r in sim.requests if r.path == TOKEN]


async def calls(processes: list[Process], count: int) -> list[httpx.Response]:
    """`count` concurrent GETs, spread round-robin over the processes."""
    return await asyncio.gather(
        *(processes[i % len(processes)].client.request("GET", EXT) for i in range(count))
    )


async def stored_access_token(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        stored = await conn.scalar(select(Token.tokens).where(Token.identity == IDENTITY))
    assert stored is not None
    store = JsonTokenStore(DatabaseTokenStore(engine, IDENTITY))
    tokens = await store.load()
    assert tokens is not None
    return tokens.access_token.get_secret_value()


async def test_expired_token_50_calls_over_4_processes_one_token_request(
    processes: list[Process], rc_sim: RingCentralSimulator, clock: FakeClock
) -> None:
    """R6 with 4 processes: the access token expires; 50 concurrent calls → 1 refresh."""
    await calls(processes, PROCESSES)  # every process holds the session's token, warm
    assert token_requests(rc_sim) == [JWT_GRANT]  # one session for all four
    clock.advance(3600)  # every process now finds the access token expired
    rc_sim.requests.clear()
    responses = await calls(processes, 50)
    assert [r.status_code for r in responses] == [200] * 50
    assert token_requests(rc_sim) == ["refresh_token"]
    api = [r for r in rc_sim.requests if r.path == EXT]
    assert len(api) == 50 and {r.status for r in api} == {200}  # no call needed a retry
    tokens = {await p.client.auth.access_token() for p in processes}
    assert tokens == {await stored_access_token(processes[0].engine)}


async def test_401_mid_run_50_calls_over_4_processes_one_refresh(
    processes: list[Process], rc_sim: RingCentralSimulator
) -> None:
    """R6 as written: the fake expires the token server-side while every process holds
    it; each call is retried at most once and exactly one refresh is made."""
    await calls(processes, PROCESSES)  # every process has the session's token in hand
    assert token_requests(rc_sim) == [JWT_GRANT]  # one session for all four
    rc_sim.requests.clear()
    rc_sim.expire_access_tokens()
    responses = await calls(processes, 50)
    assert [r.status_code for r in responses] == [200] * 50
    assert token_requests(rc_sim) == ["refresh_token"]
    statuses = [r.status for r in rc_sim.requests if r.path == EXT]
    assert statuses.count(200) == 50 and len(statuses) <= 100  # at most one retry each


async def test_a_token_rotated_by_one_process_is_used_by_the_others(
    processes: list[Process],
    rc_sim: RingCentralSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await calls(processes, PROCESSES)
    first, *others = processes
    old = await first.client.auth.access_token()
    new = await first.client.auth.after_unauthorized(old)  # rotates; RC drops `old` at once
    assert new != old
    assert token_requests(rc_sim) == [JWT_GRANT, "refresh_token"]
    rc_sim.requests.clear()
    for process in others:  # each still holds `old`: one 401, then the stored new token
        assert (await process.client.request("GET", EXT)).status_code == 200
        assert await process.client.auth.access_token() == new
    assert token_requests(rc_sim) == []  # nobody refreshed a second time
    assert [r.status for r in rc_sim.requests if r.path == EXT] == [401, 200] * len(others)
    assert await stored_access_token(first.engine) == new
    refresh = [
        (r.form or {}).get("refresh_token") for r in rc_sim.requests if r.path == TOKEN
    ]  # (cleared above: nothing more to hide, but the tokens themselves must not be logged)
    texts = [r.getMessage() for r in caplog.records]
    texts += [repr(p.store) for p in processes] + [repr(await first.store.load())]
    for secret in [old, new, rc_sim.jwt, *filter(None, refresh)]:
        assert all(secret not in t for t in texts)


async def test_the_claim_serialises_processes_and_the_second_reads_what_the_first_stored(
    processes: list[Process], clock: FakeClock
) -> None:
    """While one process holds the claim, another's `refreshing()` waits; once it holds
    it, it reads what the first stored (the "re-read after lock"). No transaction is held
    meanwhile: a third process writes to the database while the claim is held."""
    first, second = processes[0].store, processes[1].store
    order: list[str] = []

    async def later() -> Any:
        async with second.refreshing() as claim:
            order.append("second claimed")
            return claim.current

    async with first.refreshing() as claim:
        assert claim.current is None
        task = asyncio.create_task(later())
        await asyncio.sleep(0.3)  # real time: the second is polling the claim
        assert order == []
        other = DatabaseTokenStore(processes[2].engine, "service:other", clock=clock)
        await asyncio.wait_for(other.save("written while the claim is held"), timeout=1.0)
        rotated = TokenSet(access_token="rotated", expires_at=clock.now() + 3600)
        assert await claim.replace(rotated) == rotated
        order.append("first stored")
    seen = await task
    assert order == ["first stored", "second claimed"]
    assert seen is not None and seen.access_token.get_secret_value() == "rotated"
    assert "rotated" not in repr(seen)


async def test_a_claim_whose_holder_died_is_taken_over_when_its_lease_runs_out(
    processes: list[Process], clock: FakeClock
) -> None:
    texts = DatabaseTokenStore(processes[0].engine, IDENTITY, clock=clock, lease=0.5)
    async with processes[0].engine.begin() as conn:  # a holder that died: no one renews it
        await conn.execute(
            insert(TokenClaim).values(
                identity=IDENTITY,
                holder="dead",
                until=datetime.fromtimestamp(time.time() + 0.5, UTC),
            )
        )
    started = time.monotonic()
    async with texts.refreshing():
        waited = time.monotonic() - started
    assert 0.4 <= waited < 3.0


async def test_a_held_claim_is_kept_alive_past_its_lease(
    processes: list[Process], clock: FakeClock
) -> None:
    """A holder that waits long (for its rate-limit slot) keeps the claim: its lease is
    renewed, so no other process renews the session at the same time."""
    # A renewal every 0.5 s: a loaded machine may stall the loop for a good part of a
    # second, and a holder stalled past its lease rightly loses the claim.
    first = DatabaseTokenStore(processes[0].engine, IDENTITY, clock=clock, lease=1.5)
    second = DatabaseTokenStore(processes[1].engine, IDENTITY, clock=clock, lease=1.5)
    async with first.refreshing():
        waiting = asyncio.create_task(_claimed(second))
        await asyncio.sleep(5.0)  # over three leases
        assert not waiting.done()
    await asyncio.wait_for(waiting, timeout=5.0)


async def _claimed(store: DatabaseTokenStore) -> None:
    async with store.refreshing():
        pass


async def test_the_compare_keeps_a_session_another_process_stored(
    processes: list[Process], clock: FakeClock
) -> None:
    texts = DatabaseTokenStore(processes[0].engine, IDENTITY, clock=clock)
    await texts.save("old")
    async with texts.refreshing() as claim:
        assert claim.current == "old"
        await DatabaseTokenStore(processes[1].engine, IDENTITY).save("theirs")
        assert await claim.replace("ours") == "theirs"
    assert await texts.load() == "theirs"
    async with texts.refreshing() as claim:
        assert await claim.replace("ours") == "ours"
    assert await texts.load() == "ours"


async def test_the_database_keeps_plain_text_and_the_client_reads_it(
    processes: list[Process], rc_sim: RingCentralSimulator
) -> None:
    """`store/` keeps the session as text it does not interpret; JsonTokenStore, in
    `ringcentral/`, makes a TokenSet of it (and logs in again when it cannot)."""
    first = processes[0]
    await first.client.request("GET", EXT)
    texts = DatabaseTokenStore(first.engine, IDENTITY)
    stored = await texts.load()
    assert stored is not None
    assert json.loads(stored)["access_token"] == await first.client.auth.access_token()
    other = DatabaseTokenStore(first.engine, "service:other")
    assert await other.load() is None
    await other.save("not a token set")
    assert await other.load() == "not a token set"
    assert await JsonTokenStore(other).load() is None
    await other.clear()
    assert await other.load() is None
    rc_sim.requests.clear()
    await texts.save("garbage")  # unreadable: the next token request logs in again
    await first.client.auth.after_unauthorized(await first.client.auth.access_token())
    assert token_requests(rc_sim) == [JWT_GRANT]
