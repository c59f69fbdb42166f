"""Several processes on one database (RELIABILITY R3, R4, R17; the multi-process issue).

- R3: 4 worker processes claim the inbox with `bot.store.work.claim` (`FOR UPDATE SKIP
  LOCKED` + lease): every row is done once, none by two live workers.
- R4: one of 4 workers is killed with SIGKILL holding leases: its rows are done by the
  others once the (short, here) lease runs out.
- Subscription upkeep: one leader through the advisory lock; a follower takes over when
  the leader stops or its connection drops.
- R17: SIGTERM on a real `python -m bot serve` (SQLite, simulators in a child process,
  `bot.sim`): exit 0 within 10 s, and no delivery is left leased.

The workers are OS processes running this file as a script (`claim` below). The
PostgreSQL tests use databases of their own (`…_rb_mp_*`, tests/databases.py) and skip without
RINGBRIDGE_TEST_POSTGRES. Sizes: CI 2,000 rows; RINGBRIDGE_SOAK=1 for 10,000.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = os.environ.get("RINGBRIDGE_TEST_POSTGRES")
NO_POSTGRES = (
    "RINGBRIDGE_TEST_POSTGRES is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1/test)"
)
needs_postgres = pytest.mark.skipif(not POSTGRES, reason=NO_POSTGRES)
SOAK = bool(os.environ.get("RINGBRIDGE_SOAK"))
WORKERS = 4


# -- the worker (run as `python tests/e2e/test_multiprocess.py claim …`) -------------------


async def claim_loop(url: str, name: str, lease: float, work: float, batch: int, out: str) -> None:
    """Claim inbox rows until none is pending; log `claimed`/`done` lines to `out`."""
    from sqlalchemy import func, select, update
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from bot.store import connect
    from bot.store.schema import Delivery
    from bot.store.work import claim

    engine = connect(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    with open(out, "a", buffering=1) as log:  # noqa: ASYNC230 - a line per job, flushed
        while True:
            now = datetime.now(UTC)
            async with sessions.begin() as session:
                rows = await claim(
                    session, Delivery, now=now, lease=timedelta(seconds=lease), limit=batch
                )
            for row in rows:
                log.write(json.dumps({"event": "claimed", "uuid": row.uuid, "t": time.time()}))
                log.write("\n")
            for row in rows:
                if work:
                    await asyncio.sleep(work)
                async with sessions.begin() as session:
                    finished = await session.execute(
                        update(Delivery)
                        .where(
                            Delivery.id == row.id,
                            Delivery.state == "pending",
                            Delivery.claimed_until == row.claimed_until,  # still ours
                        )
                        .values(state="done", claimed_until=None)
                    )
                event = "done" if getattr(finished, "rowcount", 0) == 1 else "lost"
                log.write(json.dumps({"event": event, "uuid": row.uuid, "t": time.time()}))
                log.write("\n")
            if not rows:
                async with engine.connect() as conn:
                    left = await conn.scalar(
                        select(func.count()).where(Delivery.state == "pending")
                    )
                if not left:
                    break
                await asyncio.sleep(0.05)
    await engine.dispose()
    del name


def _worker_main(argv: list[str]) -> None:
    _, url, name, lease, work, batch, out = argv
    asyncio.run(claim_loop(url, name, float(lease), float(work), int(batch), out))


# -- helpers -------------------------------------------------------------------------------


async def fresh_database(name: str, rows: int) -> str:
    """A new PostgreSQL database `name` with the schema and `rows` pending deliveries
    whose uuids are "0" … str(rows - 1)."""
    from sqlalchemy import insert

    from bot.store import connect, create_schema
    from bot.store.schema import Delivery
    from tests.databases import postgres_database

    url = await postgres_database(name)
    engine = connect(url)
    try:
        await create_schema(engine)
        now = datetime.now(UTC) - timedelta(seconds=1)
        values = [
            {
                "uuid": str(i),
                "received_at": now,
                "body": "{}",
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for i in range(rows)
        ]
        async with engine.begin() as conn:
            for start in range(0, rows, 1000):
                await conn.execute(insert(Delivery), values[start : start + 1000])
    finally:
        await engine.dispose()
    return url


def start_worker(
    url: str, name: str, out: Path, *, lease: float, work: float = 0.0, batch: int = 10
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, __file__, "claim", url, name, str(lease), str(work), str(batch)]
    return subprocess.Popen([*argv, str(out)], cwd=ROOT, env=env)  # noqa: S603 - this file


def events(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    lines = out.read_text().splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


async def wait_all(procs: list[subprocess.Popen[bytes]], within: float) -> list[int]:
    deadline = time.monotonic() + within
    codes: list[int] = []
    for proc in procs:
        left = max(0.1, deadline - time.monotonic())
        try:
            codes.append(await asyncio.to_thread(proc.wait, left))
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            raise AssertionError(f"workers still running after {within} s") from None
    return codes


async def pending_and_done(url: str) -> tuple[int, int]:
    from sqlalchemy import func, select

    from bot.store import connect
    from bot.store.schema import Delivery

    engine = connect(url)
    try:
        async with engine.connect() as conn:
            query = select(Delivery.state, func.count()).group_by(Delivery.state)
            counts = dict((await conn.execute(query)).all())
    finally:
        await engine.dispose()
    return counts.get("pending", 0), counts.get("done", 0)


# -- R3 --------------------------------------------------------------------------------------


@needs_postgres
@pytest.mark.slow
async def test_r3_four_worker_processes_claim_every_row_once(tmp_path: Path) -> None:
    n = 10_000 if SOAK else 2_000
    url = await fresh_database("rb_mp_claim", n)
    outs = [tmp_path / f"w{i}.jsonl" for i in range(WORKERS)]
    procs = [start_worker(url, f"w{i}", outs[i], lease=60.0) for i in range(WORKERS)]
    assert await wait_all(procs, within=240) == [0] * WORKERS
    claimed = [[int(e["uuid"]) for e in events(out) if e["event"] == "claimed"] for out in outs]
    seen = [uuid for worker in claimed for uuid in worker]
    assert sorted(seen) == list(range(n))  # none lost, none claimed twice (pgqueuer-style)
    done = [int(e["uuid"]) for out in outs for e in events(out) if e["event"] == "done"]
    assert sorted(done) == list(range(n))
    assert all(claimed), "every worker took a share"  # the 4 really competed
    assert await pending_and_done(url) == (0, n)


# -- R4 --------------------------------------------------------------------------------------


@needs_postgres
@pytest.mark.slow
async def test_r4_a_worker_killed_holding_leases_loses_nothing(tmp_path: Path) -> None:
    n, lease = 100, 2.0
    url = await fresh_database("rb_mp_rescue", n)
    outs = [tmp_path / f"w{i}.jsonl" for i in range(WORKERS)]
    # 50 ms a job, 5 at a claim: the victim always holds leases on rows it has not done.
    procs = [
        start_worker(url, f"w{i}", outs[i], lease=lease, work=0.05, batch=5) for i in range(WORKERS)
    ]
    victim, out = procs[0], outs[0]
    deadline = time.monotonic() + 30
    while True:  # until the victim is mid-batch: it holds rows it has not finished
        progress = Counter(e["event"] for e in events(out))
        if progress["claimed"] > progress["done"] and progress["done"] >= 1:
            break
        assert time.monotonic() < deadline, "the victim never started"
        await asyncio.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    killed_at = time.time()
    assert await asyncio.to_thread(victim.wait, 10) == -signal.SIGKILL
    assert await wait_all(procs[1:], within=60) == [0] * (WORKERS - 1)
    victim_events = events(out)
    held = {e["uuid"] for e in victim_events if e["event"] == "claimed"}
    held -= {e["uuid"] for e in victim_events if e["event"] == "done"}
    assert held, "the victim died holding leases"
    others = [e for o in outs[1:] for e in events(o)]
    done_by_others = {e["uuid"]: e["t"] for e in others if e["event"] == "done"}
    assert held <= done_by_others.keys()  # every job the victim held was done by another
    # … once its lease ran out, not before (no row taken from a live holder) …
    victim_claims = {e["uuid"]: e["t"] for e in victim_events if e["event"] == "claimed"}
    for uuid in held:
        assert done_by_others[uuid] >= victim_claims[uuid] + lease - 0.5
        # … and soon after: the lease plus a poll or two (R4: heartbeat timeout + 1 poll).
        assert done_by_others[uuid] <= killed_at + lease + 5.0
    claims = Counter(e["uuid"] for o in outs for e in events(o) if e["event"] == "claimed")
    assert {uuid for uuid, count in claims.items() if count > 1} == held
    assert not [e for e in others if e["event"] == "lost"]
    assert await pending_and_done(url) == (0, n)


# -- one process maintains the subscription ------------------------------------------------


@needs_postgres
async def test_exactly_one_process_maintains_the_subscription() -> None:
    from sqlalchemy import text

    from bot.bridge.subscriptions import Leadership, SubscriptionManager
    from bot.clock import SystemClock
    from bot.store import SubscriptionStore, connect
    from tests.databases import postgres_database

    url = await postgres_database("rb_mp_leader")
    engines = [connect(url) for _ in range(3)]
    # Another test's database on the same server, in a transaction holding an advisory lock
    # (as DatabaseTokenRequestLog.take does) while this test cuts its leader's connection.
    bystander = connect(await postgres_database("rb_mp_bystander"))
    rounds: Counter[int] = Counter()
    stops = [asyncio.Event() for _ in engines]

    def manager(i: int) -> SubscriptionManager:
        made = SubscriptionManager(
            None,  # type: ignore[arg-type]  # sync() is replaced: RingCentral is not the point
            SubscriptionStore(engines[i]),
            address="http://127.0.0.1:1/ringcentral/webhook",
            filters=[],
            clock=SystemClock(),
            leadership=Leadership(engines[i], retry=0.05),
        )

        async def sync(*_: Any) -> list[str]:
            rounds[i] += 1
            return []

        made.sync = sync  # type: ignore[method-assign,assignment]
        return made

    async def leaders(within: float = 0.6) -> set[int]:
        rounds.clear()
        await asyncio.sleep(within)
        return set(rounds)

    # pg_locks is the whole server's: only this test's database is ours to cut. Other tests
    # and xdist workers hold advisory locks in theirs; a backend ended between two statements
    # of a transaction fails the next one with asyncpg's "cannot switch to state 12".
    cut_leader = text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
        "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    tasks = [asyncio.create_task(manager(i).run(stops[i], 0.05)) for i in range(3)]
    try:
        first = await leaders()
        assert len(first) == 1  # one leader among three
        (leader,) = first
        stops[leader].set()  # a graceful stop releases the lock …
        await tasks[leader]
        second = await leaders()
        assert len(second) == 1 and leader not in second  # … and a follower takes over
        (leader,) = second
        # The leader's connection drops (a network cut, a database restart): its lock is
        # gone with it, another takes over, and the old leader stops syncing.
        async with bystander.begin() as other:
            await other.execute(text("SELECT pg_advisory_xact_lock(1)"))
            async with engines[0].connect() as conn:
                cut = await conn.scalar(cut_leader)
            assert cut == 1  # the leader's session, and no other
            assert await other.scalar(text("SELECT 1")) == 1  # the bystander's goes on
        third = await leaders(1.0)
        await asyncio.sleep(0)
        assert len(await leaders()) == 1
        assert third  # someone leads again
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for engine in [*engines, bystander]:
            await engine.dispose()


# -- R17: SIGTERM on a real server ----------------------------------------------------------


@pytest.mark.slow
async def test_sigterm_on_serve_exits_0_within_10_s_and_leaves_nothing_leased() -> None:
    import sqlite3

    from bot.sim import CHANNEL, ServerProcess, Simulators

    sims = Simulators()
    info = await sims.start()
    server = ServerProcess(info, extra_env={"DEFAULT_CHANNEL": CHANNEL}, public_url=True)
    try:
        await server.start()
        deadline = time.monotonic() + 20
        while not [s for s in await sims.rc_subscriptions() if s["status"] == "Active"]:
            assert time.monotonic() < deadline, server.log_tail()
            await asyncio.sleep(0.1)
        for i in range(10):  # deliveries in flight when the signal comes
            await sims.rc_incoming_sms("+14155550100", f"message {i}")
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGTERM)
        started = time.monotonic()
        status = await asyncio.to_thread(_wait_exit, pid, 12.0)
        elapsed = time.monotonic() - started
        log = server.log_tail(40)
        assert status == 0, f"exit status {status}\n{log}"
        assert elapsed < 10.0, f"{elapsed:.1f} s\n{log}"
        assert "stopped" in log and "without finishing" not in log, log
        with sqlite3.connect(server.database_path) as db:
            leased = db.execute(
                "SELECT count(*) FROM inbox WHERE state = 'pending' AND claimed_until IS NOT NULL"
            ).fetchone()[0]
            stored = db.execute("SELECT count(*) FROM inbox").fetchone()[0]
        assert stored >= 10  # every delivery was stored before its 200
        assert leased == 0  # finished, or released for the next process at once
    finally:
        await server.close()
        await sims.close()


def _wait_exit(pid: int, within: float) -> int | None:
    """The exit code of child `pid` (reaped here), or None if it is still running."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    return None


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "claim":
    _worker_main(sys.argv[1:])
