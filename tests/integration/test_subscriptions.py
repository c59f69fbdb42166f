"""The subscription manager against the RingCentral simulator over loopback: the real
Validation-Token handshake against a small receiver of our own, expiry on the FakeClock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge.subscriptions import (
    DEFAULT_EXPIRES_IN,
    DEFAULT_RENEW_BEFORE,
    PENDING,
    SubscriptionManager,
    event_filters,
)
from bot.clock import FakeClock
from bot.ringcentral import RingCentralClient
from bot.sim.ringcentral import RingCentralSimulator
from bot.store import SubscriptionRecord, SubscriptionStore

A = "/restapi/v1.0/account/~"


@dataclass
class Receiver:
    """Stands in for `POST /ringcentral/webhook` until the real receiver lands: answers the
    handshake, and accepts deliveries carrying a token of the store."""

    store: SubscriptionStore
    base_url: str = ""
    handshakes: list[tuple[str, set[str]]] = field(default_factory=list)
    deliveries: list[tuple[str | None, int]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        validation = request.headers.get("Validation-Token")
        if validation is not None and not body:
            # what the store held while RingCentral was still creating the subscription
            self.handshakes.append((request.path, await self.store.tokens()))
            return web.Response(
                status=200,
                headers={"Validation-Token": validation, "Content-Type": "application/json"},
            )
        token = request.headers.get("Verification-Token")
        status = 200 if token in await self.store.tokens() else 403
        self.deliveries.append((token, status))
        return web.Response(status=status, content_type="application/json")

    @property
    def address(self) -> str:
        return f"{self.base_url}/ringcentral/webhook"


@pytest.fixture
def store(engine: AsyncEngine) -> SubscriptionStore:
    return SubscriptionStore(engine)


@pytest.fixture
async def receiver(store: SubscriptionStore) -> AsyncIterator[Receiver]:
    recv = Receiver(store)
    app = web.Application()
    app.router.add_post("/ringcentral/webhook", recv.handle)
    app.router.add_post("/other-app/hook", recv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    recv.base_url = f"http://{host}:{port}"
    try:
        yield recv
    finally:
        await runner.cleanup()


@pytest.fixture
def rc(rc_client: RingCentralClient) -> RingCentralClient:
    return rc_client


@pytest.fixture
def filters(rc_sim: RingCentralSimulator) -> list[str]:
    return event_filters(["missed_call", "voicemail", "sms"], [rc_sim.extension_id])


@pytest.fixture
def manager(
    rc: RingCentralClient,
    store: SubscriptionStore,
    receiver: Receiver,
    filters: list[str],
    clock: FakeClock,
) -> SubscriptionManager:
    return SubscriptionManager(rc, store, address=receiver.address, filters=filters, clock=clock)


def resolved(sim: RingCentralSimulator, filters: list[str]) -> list[str]:
    return [f.replace("/account/~", f"/account/{sim.account_id}") for f in filters]


def sub_requests(sim: RingCentralSimulator, method: str) -> list[str]:
    return [r.path for r in sim.requests_to(r"/subscription", method) if r.status < 300]


async def only_ours(sim: RingCentralSimulator, store: SubscriptionStore, address: str) -> str:
    """The id of the one subscription at `address`, after checking the store agrees."""
    now = sim.clock.now()
    (sub_id,) = [
        s.id for s in sim.subscriptions.values() if s.address == address and s.expires_at > now
    ]
    (record,) = await store.all()
    assert record.id == sub_id
    assert record.verification_token == sim.subscriptions[sub_id].verification_token
    return sub_id


# --- creation ----------------------------------------------------------------------------


async def test_sync_creates_one_subscription_with_its_token_stored_before_the_handshake(
    manager: SubscriptionManager,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    receiver: Receiver,
    filters: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")

    lines = await manager.sync()

    sub_id = await only_ours(rc_sim, store, receiver.address)
    sub = rc_sim.subscriptions[sub_id]
    assert lines == [
        f"created subscription {sub_id} at {receiver.address}: 4 event filters, active until "
        + datetime.fromtimestamp(sub.expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    ]
    assert sub.event_filters == resolved(rc_sim, filters)
    assert sub.expires_at == rc_sim.clock.now() + DEFAULT_EXPIRES_IN
    token = sub.verification_token
    assert token is not None and len(token) >= 32
    # RingCentral may deliver before it answers: the token was accepted during the handshake
    [(path, tokens_then)] = receiver.handshakes
    assert path == "/ringcentral/webhook"
    assert token in tokens_then
    (record,) = await store.all()
    assert not record.id.startswith(PENDING)
    assert record.status == "Active" and record.filters == tuple(sub.event_filters)
    assert await rc_sim.deliver(sub_id, {"hello": 1}) == 200
    assert token not in caplog.text


async def test_second_sync_changes_nothing(
    manager: SubscriptionManager, rc_sim: RingCentralSimulator
) -> None:
    await manager.sync()
    [sub_id] = rc_sim.subscriptions
    before = len(rc_sim.requests)

    lines = await manager.sync()

    assert lines == [lines[0]] and lines[0].startswith(f"subscription {sub_id} is active until")
    assert [r.method for r in rc_sim.requests[before:]] == ["GET"]  # one list, nothing else


# --- renewal -----------------------------------------------------------------------------


async def test_renews_close_to_expiry_instead_of_recreating(
    manager: SubscriptionManager,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    receiver: Receiver,
    clock: FakeClock,
) -> None:
    await manager.sync()
    [sub_id] = rc_sim.subscriptions
    clock.advance(DEFAULT_EXPIRES_IN - DEFAULT_RENEW_BEFORE - 60)
    assert (await manager.sync())[0].startswith(f"subscription {sub_id} is active")
    assert sub_requests(rc_sim, "POST") == ["/restapi/v1.0/subscription"]

    clock.advance(120)  # now inside the renewal window
    lines = await manager.sync()

    assert [line.split(":")[0] for line in lines] == [f"renewed subscription {sub_id}"]
    assert sub_requests(rc_sim, "POST")[-1] == f"/restapi/v1.0/subscription/{sub_id}/renew"
    assert list(rc_sim.subscriptions) == [sub_id]
    assert rc_sim.subscriptions[sub_id].expires_at == clock.now() + DEFAULT_EXPIRES_IN
    (record,) = await store.all()
    assert record.expires_at is not None
    assert record.expires_at.timestamp() == pytest.approx(clock.now() + DEFAULT_EXPIRES_IN, abs=1)
    assert len(receiver.handshakes) == 1


async def test_an_expired_subscription_is_forgotten_and_made_again(
    manager: SubscriptionManager,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    receiver: Receiver,
    clock: FakeClock,
) -> None:
    await manager.sync()
    [old] = rc_sim.subscriptions
    clock.advance(DEFAULT_EXPIRES_IN + 1)  # e.g. the server was down for a week

    lines = await manager.sync()

    new = await only_ours(rc_sim, store, receiver.address)
    assert new != old
    assert lines[0] == f"forgot subscription {old}: RingCentral no longer has it"
    assert lines[1].startswith(f"created subscription {new}")


# --- replacement -------------------------------------------------------------------------


async def test_a_blacklisted_subscription_is_deleted_and_replaced(
    manager: SubscriptionManager,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    receiver: Receiver,
) -> None:
    await manager.sync()
    [old] = rc_sim.subscriptions
    rc_sim.blacklist(old, "Webhook responses with code: [404], reason: [Not Found]")

    lines = await manager.sync()

    new = await only_ours(rc_sim, store, receiver.address)
    assert new != old and old not in rc_sim.subscriptions
    assert lines[0] == (
        f"deleted subscription {old}: Blacklisted "
        "(Webhook responses with code: [404], reason: [Not Found])"
    )
    assert lines[1].startswith(f"created subscription {new}")
    assert f"/restapi/v1.0/subscription/{old}" in sub_requests(rc_sim, "DELETE")
    assert await rc_sim.deliver(new, {"n": 1}) == 200


async def test_a_subscription_deleted_at_ringcentral_is_recreated(
    manager: SubscriptionManager,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    receiver: Receiver,
) -> None:
    await manager.sync()
    [old] = rc_sim.subscriptions
    rc_sim.delete_subscription(old)

    lines = await manager.sync()

    new = await only_ours(rc_sim, store, receiver.address)
    assert lines[0] == f"forgot subscription {old}: RingCentral no longer has it"
    assert lines[1].startswith(f"created subscription {new}")
    assert await store.get(old) is None


async def test_filters_that_no_longer_match_the_config_are_replaced(
    manager: SubscriptionManager,
    rc: RingCentralClient,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    receiver: Receiver,
    clock: FakeClock,
) -> None:
    await manager.sync()
    [old] = rc_sim.subscriptions
    wanted = event_filters(["fax", "internal_message"], [rc_sim.extension_id])
    changed = SubscriptionManager(rc, store, address=receiver.address, filters=wanted, clock=clock)

    lines = await changed.sync()

    new = await only_ours(rc_sim, store, receiver.address)
    assert lines[0] == f"deleted subscription {old}: its event filters no longer match the config"
    assert rc_sim.subscriptions[new].event_filters == resolved(rc_sim, wanted)
    # RingCentral's answer has the account id where we wrote `~`: that is still a match
    assert (await changed.sync())[0].startswith(f"subscription {new} is active")


async def test_stale_subscriptions_at_our_address_go_and_others_stay(
    manager: SubscriptionManager,
    rc: RingCentralClient,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    receiver: Receiver,
    filters: list[str],
) -> None:
    # one at our address whose token nobody here knows (a wiped database, another server)
    stale = await rc.subscriptions.create(filters, receiver.address, verification_token="x" * 40)
    # another app or integration of the same user: not ours to touch
    other = await rc.subscriptions.create(filters, f"{receiver.base_url}/other-app/hook")

    lines = await manager.sync()

    new = await only_ours(rc_sim, store, receiver.address)
    assert set(rc_sim.subscriptions) == {new, other.id}
    assert lines[0] == (
        f"deleted subscription {stale.id}: at {receiver.address} but its verification "
        "token is not in the database"
    )
    assert lines[1].startswith(f"created subscription {new}")


async def test_of_two_good_subscriptions_the_newest_is_kept(
    manager: SubscriptionManager,
    rc: RingCentralClient,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    receiver: Receiver,
    filters: list[str],
    clock: FakeClock,
) -> None:
    # two servers that synced at the same time each made one
    await manager.sync()
    [first] = rc_sim.subscriptions
    clock.advance(5)
    second = await rc.subscriptions.create(filters, receiver.address, verification_token="t" * 40)
    await store.save(
        SubscriptionRecord(
            id=second.id,
            address=receiver.address,
            verification_token="t" * 40,
            filters=second.event_filters,
            expires_at=second.expiration_time,
            status=second.status,
            created_at=datetime.fromtimestamp(clock.now(), UTC),
        )
    )

    lines = await manager.sync()

    assert lines[0] == f"deleted duplicate subscription {first}"
    assert await only_ours(rc_sim, store, receiver.address) == second.id


async def test_a_creation_in_progress_elsewhere_is_left_alone_for_a_while(
    manager: SubscriptionManager,
    rc: RingCentralClient,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    receiver: Receiver,
    filters: list[str],
    clock: FakeClock,
) -> None:
    # another process stored its token and RingCentral made the subscription, but that
    # process has not recorded the id yet
    await store.save(
        SubscriptionRecord(
            id=PENDING + "elsewhere",
            address=receiver.address,
            verification_token="p" * 40,
            filters=tuple(filters),
            expires_at=None,
            status="Pending",
            created_at=datetime.fromtimestamp(clock.now(), UTC),
        )
    )
    theirs = await rc.subscriptions.create(filters, receiver.address, verification_token="p" * 40)

    await manager.sync()
    assert theirs.id in rc_sim.subscriptions  # not deleted under the other process's feet

    clock.advance(600)  # that process died: its placeholder is cleaned up, its sub removed
    lines = await manager.sync()

    assert theirs.id not in rc_sim.subscriptions
    assert any(line.startswith(f"deleted subscription {theirs.id}") for line in lines)
    assert not [r for r in await store.all() if r.id.startswith(PENDING)]
    await only_ours(rc_sim, store, receiver.address)


# --- nothing to do -----------------------------------------------------------------------


async def test_without_public_url_a_warning_and_nothing_made(
    rc: RingCentralClient,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    filters: list[str],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = SubscriptionManager(rc, store, address=None, filters=filters, clock=clock)

    lines = await manager.sync()

    assert lines == [
        "PUBLIC_URL is not set: no webhook subscription, so RingCentral events will not "
        "reach this server"
    ]
    assert "PUBLIC_URL is not set" in caplog.text
    assert not rc_sim.requests and not rc_sim.subscriptions
    assert await store.all() == []


async def test_with_no_kinds_routed_our_subscription_is_removed(
    manager: SubscriptionManager,
    rc: RingCentralClient,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    receiver: Receiver,
    clock: FakeClock,
) -> None:
    await manager.sync()
    [old] = rc_sim.subscriptions
    idle = SubscriptionManager(rc, store, address=receiver.address, filters=[], clock=clock)

    lines = await idle.sync()

    assert lines == [
        f"deleted subscription {old}: its event filters no longer match the config",
        "no notification kind is routed: no webhook subscription needed",
    ]
    assert not rc_sim.subscriptions and await store.all() == []


async def test_a_refused_creation_leaves_no_token_behind(
    rc: RingCentralClient,
    rc_sim: RingCentralSimulator,
    store: SubscriptionStore,
    receiver: Receiver,
    filters: list[str],
    clock: FakeClock,
) -> None:
    nowhere = f"{receiver.base_url}/not-found"  # the handshake gets a 404
    manager = SubscriptionManager(rc, store, address=nowhere, filters=filters, clock=clock)

    with pytest.raises(Exception, match="SUB-522"):
        await manager.sync()

    assert not rc_sim.subscriptions and await store.all() == []


# --- run() -------------------------------------------------------------------------------


class CrashingStore(SubscriptionStore):
    """A store whose first read fails, as a database restarting would."""

    crashes = 1

    async def all(self) -> list[SubscriptionRecord]:
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("database went away")
        return await super().all()


async def run_until(
    manager: SubscriptionManager, done: Any, *, interval: float = 900.0
) -> asyncio.Event:
    stop = asyncio.Event()
    task = asyncio.create_task(manager.run(stop, interval))
    async with asyncio.timeout(20):
        while not done():
            assert not task.done(), task
            await asyncio.sleep(0.01)
    stop.set()
    async with asyncio.timeout(20):
        await task
    return stop


async def test_run_survives_a_ringcentral_error_and_a_crash(
    rc: RingCentralClient,
    rc_sim: RingCentralSimulator,
    engine: AsyncEngine,
    receiver: Receiver,
    filters: list[str],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.bridge.subscriptions")
    store = CrashingStore(engine)
    receiver.store = store
    manager = SubscriptionManager(rc, store, address=receiver.address, filters=filters, clock=clock)
    rc_sim.fail_next_with_429()  # the first round's list is refused
    started = clock.now()

    await run_until(manager, lambda: bool(rc_sim.subscriptions))

    assert "subscription sync failed, retrying in 900 s" in caplog.text
    assert "CMN-301" in caplog.text
    assert "subscription sync crashed, retrying in 900 s" in caplog.text
    assert "database went away" in caplog.text
    await only_ours(rc_sim, store, receiver.address)
    assert clock.now() - started >= 2 * 900  # it waited on the injected clock


async def test_run_stops_when_asked(
    manager: SubscriptionManager, rc_sim: RingCentralSimulator
) -> None:
    stop = asyncio.Event()
    stop.set()

    await asyncio.wait_for(manager.run(stop, 60), timeout=5)

    assert not rc_sim.requests
