"""What the soak tests share: the bridge between both simulators (SQLite, one process; or
PostgreSQL, several `serve` processes), a RingCentral-like sender, and the oracle that
counts posts per item from the Slack simulator's message metadata (DESIGN §3.6).

The sender POSTs webhook envelopes itself (RELIABILITY R1: it retries each until 2xx and
sends some twice on purpose), with the verification token of the subscription the server
made at start. Everything is on loopback; every wait has a deadline; every process is
ended in `finally` (`bridge()`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import itertools
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
import uuid as uuidlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp

from bot.bridge.subscriptions import WEBHOOK_PATH
from bot.sim import CHANNEL, ServerProcess, Simulators
from tests.leaks import leaked

T = TypeVar("T")

POSTGRES_ADMIN = os.environ.get(
    "RINGBRIDGE_SOAK_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# The soaks that run on SQLite (one process) run on PostgreSQL instead, still one process
# unless they ask for more, with RINGBRIDGE_SOAK_DATABASE=postgresql.
ON_POSTGRES = os.environ.get("RINGBRIDGE_SOAK_DATABASE", "sqlite") == "postgresql"
SUBSCRIBED_WITHIN = 30.0
SEND_DEADLINE = 180.0  # seconds the sender keeps retrying one delivery
REQUEST_TIMEOUT = 10.0


async def until(
    what: str, probe: Callable[[], Awaitable[T | None]], within: float, every: float = 0.1
) -> T:
    """Poll `probe` until it returns something other than None or False; bounded."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {within} s")
        await asyncio.sleep(every)


# -- configuration: routes spread over channels --------------------------------------------


def channels(count: int) -> list[str]:
    return [f"C0SOAK{i:03d}" for i in range(count)]


def company_number(index: int) -> str:
    return f"+1650555{100 + index:04d}"


def bridge_config(channel_ids: list[str]) -> str:
    """One route per channel, chosen by the company number an SMS was sent to, so that the
    posts spread over channels (Slack's pace is per channel, DESIGN §3.7)."""
    routes = [
        f'[[routes]]\nevents = ["sms"]\nchannel = "{c}"\nnumbers = ["{company_number(i)}"]\n'
        for i, c in enumerate(channel_ids)
    ]
    return "\n".join(routes)


# -- envelopes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One SMS notification: its delivery uuid, message id (the post's `item`), channel."""

    uuid: str
    item: str
    channel: str
    body: bytes


@dataclass
class Target:
    """Where the sender delivers: the webhook URLs and the subscription's event."""

    urls: list[str]
    token: str
    event: str  # the instant-SMS event filter of the subscription
    subscription_id: str
    owner_id: str


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def sms_envelope(
    target: Target,
    *,
    uuid: str,
    item: str,
    sender: str,
    company: str,
    text: str,
) -> bytes:
    """An instant-SMS delivery in the shape of instant-sms-event.json."""
    import json

    now = _iso(time.time())
    body = {
        "id": item,
        "to": [{"phoneNumber": company, "target": True}],
        "from": {"phoneNumber": sender},
        "type": "SMS",
        "creationTime": now,
        "lastModifiedTime": now,
        "readStatus": "Unread",
        "priority": "Normal",
        "attachments": [{"id": item, "type": "Text", "contentType": "text/plain"}],
        "direction": "Inbound",
        "availability": "Alive",
        "subject": text,
        "messageStatus": "Received",
        "conversation": {"id": f"9{item}"},
        "eventType": "Create",
        "owner": {"extensionId": target.owner_id, "extensionType": "User", "name": "Soak"},
    }
    envelope = {
        "uuid": uuid,
        "event": target.event,
        "timestamp": now,
        "subscriptionId": target.subscription_id,
        "ownerId": target.owner_id,
        "body": body,
    }
    return json.dumps(envelope).encode()


_ITEM_BASE = 7_000_000_000_000


def make_items(
    target: Target, n: int, channel_ids: list[str], *, offset: int = 0, text: str = "soak"
) -> list[Item]:
    """`n` SMS, each from its own number (so each starts its own thread and is a top-level
    message), spread round-robin over the channels."""
    items = []
    for i in range(offset, offset + n):
        index = i % len(channel_ids)
        item = str(_ITEM_BASE + i)
        uuid = f"soak-{uuidlib.uuid4()}"
        body = sms_envelope(
            target,
            uuid=uuid,
            item=item,
            sender=f"+1415{2000000 + i:07d}",
            company=company_number(index),
            text=f"{text} {item}",
        )
        items.append(Item(uuid, item, channel_ids[index], body))
    return items


# -- the sender ------------------------------------------------------------------------------


@dataclass
class Sender:
    """A RingCentral-like sender: POSTs until 2xx (any of `target.urls`, round robin),
    counts what it saw. Bounded: gives up on an item after SEND_DEADLINE seconds."""

    target: Target
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    attempts: int = 0
    sent_twice: int = 0
    given_up: list[str] = field(default_factory=list)
    token_changes: int = 0
    # Asked for the current verification token after a 403 (the subscription may have
    # been re-created by another process, with a new token, as RingCentral would then use).
    current_token: Callable[[], Awaitable[str | None]] | None = None
    _next: int = 0
    _session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Sender:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        self._session = aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=64, force_close=True)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def headers(self, token: str | None = "") -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        token = self.target.token if token == "" else token
        if token is not None:
            headers["Verification-Token"] = token
        return headers

    async def post_once(
        self, body: bytes, *, headers: dict[str, str] | None = None, url: str | None = None
    ) -> int:
        """One POST; the status, or 0 when no answer came."""
        assert self._session is not None
        if url is None:
            url = self.target.urls[self._next % len(self.target.urls)]
            self._next += 1
        self.attempts += 1
        # aiohttp warns (an error here) about large raw bytes; a stream is what it wants.
        data: bytes | io.BytesIO = io.BytesIO(body) if len(body) > 256 * 1024 else body
        try:
            async with self._session.post(
                url, data=data, headers=headers or self.headers()
            ) as resp:
                await resp.read()
                self.statuses[resp.status] += 1
                return resp.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            self.connection_errors += 1
            return 0

    async def deliver(self, body: bytes, *, label: str = "") -> int:
        """POST until 2xx; the number of attempts it took."""
        deadline = time.monotonic() + SEND_DEADLINE
        tries = 0
        while True:
            tries += 1
            status = await self.post_once(body)
            if 200 <= status < 300:
                return tries
            if status == 403 and self.current_token is not None:
                token = await self.current_token()
                if token and token != self.target.token:
                    self.target.token = token
                    self.token_changes += 1
            if time.monotonic() > deadline:
                self.given_up.append(label)
                return tries
            await asyncio.sleep(0.05 if status == 0 else 0.1)

    async def deliver_all(
        self,
        items: list[Item],
        *,
        rate: float | None = None,
        twice: float = 0.0,
        concurrency: int = 8,
        seed: int = 1,
    ) -> None:
        """Every item until 2xx, at most `rate` new items a second; a fraction `twice` of
        them is delivered again afterwards (RELIABILITY R1: duplicates on purpose)."""
        rng = random.Random(seed)
        again = {it.uuid for it in items if rng.random() < twice}
        queue: asyncio.Queue[Item] = asyncio.Queue()
        for it in items:
            queue.put_nowait(it)
        started = time.monotonic()
        issued = 0

        async def worker() -> None:
            nonlocal issued
            while True:
                try:
                    it = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if rate:
                    issued += 1
                    due = started + issued / rate
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                await self.deliver(it.body, label=it.item)
                if it.uuid in again:
                    self.sent_twice += 1
                    await self.deliver(it.body, label=it.item)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


# -- the oracle ------------------------------------------------------------------------------


@dataclass
class Count:
    """Posts per item, from the Slack simulator's messages (metadata)."""

    per_item: Counter[str]
    wrong_channel: list[tuple[str, str]]
    messages: dict[str, list[dict[str, Any]]]

    def lost(self, items: Iterable[Item]) -> list[str]:
        return [it.item for it in items if self.per_item[it.item] == 0]

    def doubled(self, items: Iterable[Item]) -> dict[str, int]:
        return {it.item: self.per_item[it.item] for it in items if self.per_item[it.item] > 1}

    def explain(self, items: list[Item]) -> str:
        lost, doubled = self.lost(items), self.doubled(items)
        return (
            f"{len(lost)} lost (first: {lost[:20]}), {len(doubled)} doubled "
            f"(first: {dict(list(doubled.items())[:20])}), wrong channel: "
            f"{self.wrong_channel[:10]}"
        )


async def count_posts(sims: Simulators, items: list[Item]) -> Count:
    wanted = {it.item: it.channel for it in items}
    per_item: Counter[str] = Counter()
    wrong: list[tuple[str, str]] = []
    messages: dict[str, list[dict[str, Any]]] = {}
    for post in await sims.slack_posts():
        payload = (post.get("metadata") or {}).get("event_payload") or {}
        item = payload.get("item")
        if item not in wanted:
            continue
        per_item[item] += 1
        messages.setdefault(item, []).append(post)
        if post["channel"] != wanted[item]:
            wrong.append((item, post["channel"]))
    return Count(per_item, wrong, messages)


async def all_posted(sims: Simulators, items: list[Item], within: float) -> tuple[Count, float]:
    """Wait until every item has a post (bounded); the count and the seconds it took."""
    started = time.monotonic()
    last: Count | None = None

    async def probe() -> Count | None:
        nonlocal last
        last = await count_posts(sims, items)
        return last if not last.lost(items) else None

    try:
        found = await until("every item posted", probe, within, every=0.5)
    except TimeoutError:
        assert last is not None
        raise AssertionError(
            f"not every item posted within {within} s: {last.explain(items)}"
        ) from None
    return found, time.monotonic() - started


async def exactly_once(
    sims: Simulators, items: list[Item], within: float, settle: float = 2.0
) -> tuple[Count, float]:
    """Every item posted, then (after `settle` s for a late duplicate) each exactly once."""
    _, took = await all_posted(sims, items, within)
    await asyncio.sleep(settle)
    count = await count_posts(sims, items)
    assert not count.lost(items) and not count.doubled(items) and not count.wrong_channel, (
        count.explain(items)
    )
    return count, took


# -- the bridge -----------------------------------------------------------------------------


@dataclass
class Bridge:
    sims: Simulators
    servers: list[ServerProcess]
    target: Target
    channel_ids: list[str]
    database_url: str

    @property
    def server(self) -> ServerProcess:
        return self.servers[0]

    def sqlite(self, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read-only query of the database, written for SQLite (`?` placeholders); on
        PostgreSQL when the bridge runs there."""
        if self.database_url:
            return _postgres_query(self.database_url, query, args)
        path = self.server.database_path
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return list(conn.execute(query, args).fetchall())

    async def healthy(self, server: ServerProcess | None = None) -> int:
        url = (server or self.server).url
        async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz") as resp:
            return resp.status

    async def secrets_in_logs(self) -> dict[str, int]:
        """RELIABILITY R19: every secret the simulators know, and every 16-character piece
        of one, looked for in every server's log; {secret prefix: pieces found} of those
        found (empty is the pass)."""
        secrets = await self.sims.secrets()
        return leaked("\n".join(s.log_text() for s in self.servers), secrets)

    async def current_token(self) -> str | None:
        """The verification token of the Active subscription at one of our servers."""
        addresses = {s.url + WEBHOOK_PATH for s in self.servers}
        for sub in await self.sims.rc_subscriptions():
            if sub["address"] in addresses and sub["status"] == "Active":
                return str(sub["verification_token"])
        return None

    def log_lines(self) -> int:
        return sum(len(s.log_text().splitlines()) for s in self.servers)


async def _subscription(sims: Simulators, servers: list[ServerProcess]) -> dict[str, Any]:
    addresses = {s.url + WEBHOOK_PATH for s in servers}

    async def active() -> dict[str, Any] | None:
        for sub in await sims.rc_subscriptions():
            if sub["address"] in addresses and sub["status"] == "Active":
                return sub
        return None

    sub = await until("a webhook subscription", active, SUBSCRIBED_WITHIN, every=0.2)
    return sub


async def _tokens_recorded(bridge_servers: list[ServerProcess], token: str) -> None:
    """The server accepts the token (it reads tokens from the database): a probe delivery
    that is not JSON, answered 200 once accepted (it becomes a dead letter: harmless)."""
    async with aiohttp.ClientSession() as session:

        async def accepted() -> bool:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.post(
                    bridge_servers[0].url + WEBHOOK_PATH,
                    data=b"soak-probe",
                    headers={"Verification-Token": token},
                ) as resp:
                    return resp.status == 200
            return False

        await until("the verification token accepted", accepted, SUBSCRIBED_WITHIN, every=0.3)


def _instant_filter(sub: dict[str, Any]) -> tuple[str, str]:
    for event in sub["event_filters"]:
        if "/message-store/instant" in event:
            owner = event.split("/extension/")[1].split("/")[0]
            return event, owner
    raise AssertionError(f"no instant-SMS filter in {sub['event_filters']}")


async def create_postgres_database() -> str:
    """A fresh database on the local PostgreSQL, migrated (`python -m bot db upgrade`)."""
    import asyncpg  # type: ignore[import-untyped]

    name = f"soak_{uuidlib.uuid4().hex[:12]}"
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = url
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "db", "upgrade"],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    return url


async def drop_postgres_database(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _postgres_query(url: str, query: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """`Bridge.sqlite` on PostgreSQL: its own connection and event loop, in a thread of its
    own (callable from a coroutine as from a worker thread)."""
    import asyncpg

    numbers = itertools.count(1)
    numbered = re.sub(r"\?", lambda _: f"${next(numbers)}", query)

    async def fetch() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url)
        try:
            return [tuple(row) for row in await conn.fetch(numbered, *args)]
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, fetch()).result()


async def postgres_available() -> bool:
    try:
        import asyncpg

        conn = await asyncio.wait_for(asyncpg.connect(POSTGRES_ADMIN), 5)
    except Exception:
        return False
    await conn.close()
    return True


@contextlib.asynccontextmanager
async def bridge(
    *,
    channel_count: int = 1,
    processes: int = 1,
    postgres: bool = False,
    extra_env: dict[str, str] | None = None,
    sim_options: Any = None,
) -> AsyncIterator[Bridge]:
    """Both simulators and `processes` servers (SQLite: exactly one), subscribed."""
    postgres = postgres or ON_POSTGRES
    assert postgres or processes == 1, "several processes need PostgreSQL"
    sims = Simulators(sim_options)
    servers: list[ServerProcess] = []
    database_url = ""
    try:
        info = await sims.start()
        channel_ids = channels(channel_count) if channel_count > 1 else [CHANNEL]
        if channel_count > 1:
            await sims.slack_add_channels(channel_ids)
            config = bridge_config(channel_ids)
        else:
            config = (
                f'[[routes]]\nevents = ["sms"]\nchannel = "{CHANNEL}"\n'
                f'numbers = ["{company_number(0)}"]\n'
            )
        env = {"BRIDGE_CONFIG": config, "LOG_LEVEL": "INFO", **(extra_env or {})}
        if postgres:
            database_url = await create_postgres_database()
            env["DATABASE_URL"] = database_url
        for _ in range(processes):
            servers.append(ServerProcess(info, public_url=True, extra_env=env))
        for server in servers:  # one after the other: each checks the schema at start
            await server.start()
        sub = await _subscription(sims, servers)
        event, owner = _instant_filter(sub)
        token = str(sub["verification_token"])
        await _tokens_recorded(servers, token)
        target = Target(
            urls=[s.url + WEBHOOK_PATH for s in servers],
            token=token,
            event=event,
            subscription_id=str(sub["id"]),
            owner_id=owner,
        )
        yield Bridge(sims, servers, target, channel_ids, database_url)
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                await server.kill()
        for server in servers:
            with contextlib.suppress(Exception):
                await server.close()
        if database_url:
            with contextlib.suppress(Exception):
                await drop_postgres_database(database_url)
        await sims.close()
