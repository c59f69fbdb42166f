"""`/metrics` and `/healthz` (DESIGN §3.3) of the real server between both simulators:
what they count and show after deliveries, RingCentral and Slack calls and their errors,
token refreshes, a refused sign-in and a database that is gone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.http_retry.response import HttpResponse
from sqlalchemy import event, select

from bot.bridge.subscriptions import WEBHOOK_PATH
from bot.clock import FakeClock
from bot.observe import Metrics
from bot.observe.slack_calls import error_of, method_of
from bot.ringcentral import Credentials, Exchange, RingCentralClient, TransportError
from bot.server import RINGCENTRAL, SETTINGS
from bot.store.schema import Delivery
from tests.bridge import TEXTS, Bridge

CALLER = "+14155550123"
Labels = frozenset[tuple[str, str]]


class Scrape:
    """One `/metrics` answer, parsed with prometheus_client's own parser."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[tuple[str, Labels], float] = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def __call__(self, name: str, **labels: str) -> float:
        """The sample's value; 0 for a counter never incremented (no sample)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def has(self, name: str) -> bool:
        return any(key[0] == name for key in self.samples)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample of `name` whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(v for (n, got), v in self.samples.items() if n == name and wanted <= got)


async def scrape(bridge: Bridge) -> Scrape:
    async with (
        aiohttp.ClientSession() as session,
        session.get(str(bridge.server.make_url("/metrics"))) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return Scrape(await resp.text())


async def health(bridge: Bridge) -> tuple[int, dict[str, Any], str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(str(bridge.server.make_url("/healthz"))) as resp,
    ):
        raw = await resp.text()
        return resp.status, json.loads(raw), raw


async def stored(bridge: Bridge) -> int:
    async with bridge.engine.connect() as conn:
        return len((await conn.execute(select(Delivery.id))).all())


async def post_webhook(bridge: Bridge, body: bytes, token: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            str(bridge.server.make_url(WEBHOOK_PATH)),
            data=body,
            headers={"Content-Type": "application/json", "Verification-Token": token},
        ) as resp,
    ):
        return resp.status


@contextmanager
def database_gone(bridge: Bridge) -> Iterator[None]:
    """Every new database connection fails (the server down, the network cut), on SQLite
    and PostgreSQL alike; the pool is emptied first by the caller's `dispose()`."""

    def refuse(*_: Any) -> None:
        raise ConnectionRefusedError("the test took the database away")

    target = bridge.engine.sync_engine
    event.listen(target, "do_connect", refuse)
    try:
        yield
    finally:
        event.remove(target, "do_connect", refuse)


def revoke_jwt(bridge: Bridge) -> None:
    """RingCentral stops accepting the bridge's JWT (revoked in the developer console),
    and every session it made ends. The simulator has no control for the JWT itself: it
    accepts exactly the JWTs in its auth state, so the test empties that."""
    bridge.rc.revoke_all_tokens()
    bridge.rc.invalidate_refresh_tokens()
    bridge.rc._state.auth.jwts.clear()


# -- /metrics ---------------------------------------------------------------------------------


async def test_deliveries_duplicates_and_forgeries_are_counted(bridge: Bridge) -> None:
    subscription = await bridge.subscribe()
    await bridge.rc.incoming_sms(bridge.rc.extension_id, CALLER, "hello")
    sent = [envelope for sub, envelope, status in bridge.rc.deliveries if status == 200]
    assert sent and await stored(bridge) == len(sent)

    assert await bridge.rc.deliver_raw(subscription, sent[0]) == 200  # RingCentral retries
    assert await post_webhook(bridge, sent[0], token="forged-token") == 403

    metrics = await scrape(bridge)
    deliveries = "ringbridge_ringcentral_deliveries_total"
    assert metrics(deliveries, outcome="handshake") == 1
    assert metrics(deliveries, outcome="stored") == len(sent)
    assert metrics(deliveries, outcome="duplicate") == 1
    assert metrics(deliveries, outcome="rejected") == 1
    assert await stored(bridge) == len(sent)


async def test_queue_depth_and_oldest_age_follow_pending_deliveries(bridge: Bridge) -> None:
    await bridge.subscribe()
    before = await scrape(bridge)
    assert before("ringbridge_queue_depth") == 0
    assert before("ringbridge_queue_oldest_pending_seconds") == 0

    await bridge.rc.incoming_sms(bridge.rc.extension_id, CALLER, "are you open today?")
    pending = await stored(bridge)
    bridge.clock.advance(42)
    waiting = await scrape(bridge)
    assert waiting("ringbridge_queue_depth") == pending >= 1
    assert 42 <= waiting("ringbridge_queue_oldest_pending_seconds") < 43
    status, body, _ = await health(bridge)
    assert status == 200
    assert body["queue_depth"] == pending
    assert body["oldest_pending_seconds"] == 42.0

    await bridge.dispatch()
    after = await scrape(bridge)
    assert after("ringbridge_queue_depth") == 0
    assert after("ringbridge_queue_oldest_pending_seconds") == 0
    assert after("ringbridge_queue_items", queue="deliveries", state="pending") == 0
    assert after("ringbridge_queue_items", queue="posts", state="pending") == 0
    assert after("ringbridge_queue_items", queue="posts", state="dead") == 0
    assert after.total("ringbridge_slack_api_calls_total", method="chat.postMessage", error="") == 1
    assert bridge.channel(TEXTS)


async def test_ringcentral_calls_are_counted_by_group_and_error_code(bridge: Bridge) -> None:
    before = await scrape(bridge)
    requests = "ringbridge_ringcentral_requests_total"
    assert before(requests, group="Auth", status="2xx", error_code="") >= 1  # the JWT login
    assert before(requests, group="Light", status="2xx", error_code="") >= 1  # account facts

    bridge.rc.throttle("Medium", retry_after=60)
    reply = await bridge.command("/sms", f"{CALLER} see you at noon")
    assert "limit" in bridge.reply_text(reply)

    after = await scrape(bridge)
    # The simulator answers an SMS send in a penalty as RingCentral does: 429, MSG-305.
    assert after(requests, group="Medium", status="4xx", error_code="MSG-305") == 1
    assert after.total(requests, group="Medium") == 1
    assert after.total("ringbridge_ringcentral_request_seconds_count") == after.total(requests)
    # Labels name groups and codes only: no phone number, id or path reaches them.
    for _, labels in after.samples:
        for _, value in labels:
            assert CALLER.lstrip("+") not in value
            assert bridge.rc.account_id not in value
            assert "/restapi" not in value


async def test_a_token_refresh_is_counted(bridge: Bridge) -> None:
    grants = "ringbridge_ringcentral_token_grants_total"
    before = await scrape(bridge)
    assert before(grants, grant="jwt", outcome="ok") == 1
    assert before(grants, grant="refresh_token", outcome="ok") == 0

    bridge.rc.expire_access_tokens()
    await bridge.command("/sms", "list")

    after = await scrape(bridge)
    assert after(grants, grant="refresh_token", outcome="ok") == 1
    assert after(grants, grant="jwt", outcome="ok") == 1
    # The request RingCentral answered 401, before the refresh and the retry.
    assert after.total("ringbridge_ringcentral_requests_total", status="4xx") == 1
    assert after("ringbridge_ringcentral_auth_ok") == 1


async def test_slack_errors_are_counted_by_method_and_code(bridge: Bridge) -> None:
    await bridge.subscribe()
    bridge.slack.fail("chat.postMessage", error="channel_not_found")
    await bridge.rc.incoming_sms(bridge.rc.extension_id, CALLER, "anyone there?")
    await bridge.dispatch()

    metrics = await scrape(bridge)
    calls = "ringbridge_slack_api_calls_total"
    assert metrics(calls, method="chat.postMessage", error="channel_not_found") == 1
    assert metrics.total(calls, error="channel_not_found") == 1
    assert metrics("ringbridge_queue_items", queue="posts", state="dead") == 1
    assert metrics("ringbridge_slack_posts_total", outcome="dead") == 1
    _, body, _ = await health(bridge)
    assert body["posts_dead"] == 1


async def test_slack_calls_bolt_makes_with_its_own_clients_are_counted(bridge: Bridge) -> None:
    """Bolt builds a client per request from the app's (its auth.test on the first request
    goes through one): the counting handler goes along."""
    calls = "ringbridge_slack_api_calls_total"
    assert (await scrape(bridge))(calls, method="auth.test", error="") == 0
    await bridge.command("/sms", "help")  # help: no permission check (its own auth.test)
    assert (await scrape(bridge))(calls, method="auth.test", error="") == 1


async def test_subscription_status_is_a_gauge(bridge: Bridge) -> None:
    none = await scrape(bridge)
    assert none("ringbridge_subscription_status", status="none") == 1
    assert none("ringbridge_subscription_status", status="Active") == 0

    await bridge.subscribe()
    active = await scrape(bridge)
    assert active("ringbridge_subscription_status", status="Active") == 1
    assert active.total("ringbridge_subscription_status") == 1


# -- /healthz ---------------------------------------------------------------------------------


async def test_healthz_is_200_and_shows_each_check(bridge: Bridge) -> None:
    status, body, _ = await health(bridge)
    assert status == 200
    assert body["status"] == "degraded"  # no subscription yet: shown, still in rotation
    assert body["subscription"] == "none"

    await bridge.subscribe()
    status, body, _ = await health(bridge)
    assert status == 200
    assert body == {
        "status": "ok",
        "database": "ok",
        "ringcentral_auth": "ok",
        "notifications": "running",
        "subscription": "Active",
        "queue_depth": 0,
        "oldest_pending_seconds": 0.0,
        "posts_pending": 0,
        "posts_dead": 0,
        "admin_problems": 0,
    }


async def test_healthz_is_200_degraded_while_ringcentral_refuses_the_jwt(bridge: Bridge) -> None:
    """RELIABILITY R7: never a 503 while deliveries can still be stored (a load balancer
    would take the server out, and RingCentral blacklist the webhook)."""
    revoke_jwt(bridge)
    await bridge.command("/sms", "list")

    status, body, raw = await health(bridge)
    assert status == 200
    assert body["status"] == "degraded"
    assert body["ringcentral_auth"] == "needs_reauth"
    assert body["ringcentral_auth_error"] == "invalid_grant OAU-140"
    assert body["database"] == "ok"
    assert bridge.server.app[SETTINGS].secret("ringcentral_jwt") not in raw

    metrics = await scrape(bridge)
    grants = "ringbridge_ringcentral_token_grants_total"
    assert metrics(grants, grant="refresh_token", outcome="invalid_grant") == 1
    assert metrics(grants, grant="jwt", outcome="invalid_grant") == 1
    assert metrics("ringbridge_ringcentral_auth_ok") == 0


async def test_healthz_is_503_while_the_database_is_gone(bridge: Bridge) -> None:
    await bridge.subscribe()
    await bridge.engine.dispose()
    with database_gone(bridge):
        status, body, _ = await health(bridge)
        assert status == 503
        assert body["status"] == "unavailable"
        assert body["database"] == "error"
        assert body["queue_depth"] is None
        metrics = await scrape(bridge)
        assert metrics("ringbridge_database_up") == 0
        assert not metrics.has("ringbridge_queue_depth")  # no number rather than a stale one

    status, body, _ = await health(bridge)  # back when the database is
    assert (status, body["status"], body["database"]) == (200, "ok", "ok")
    assert (await scrape(bridge))("ringbridge_database_up") == 1


async def test_neither_endpoint_ever_shows_a_secret(bridge: Bridge) -> None:
    subscription = await bridge.subscribe()
    await bridge.command("/sms", "list")
    settings = bridge.server.app[SETTINGS]
    secrets = [
        settings.secret("ringcentral_jwt"),
        settings.secret("ringcentral_client_secret"),
        settings.secret("slack_bot_token"),
        settings.secret("slack_signing_secret"),
        await bridge.server.app[RINGCENTRAL].auth.access_token(),
        bridge.rc.subscriptions[subscription].verification_token,
    ]
    _, _, raw = await health(bridge)
    text = (await scrape(bridge)).text
    for secret in secrets:
        assert secret
        assert secret not in raw
        assert secret not in text


# -- the hooks on their own -------------------------------------------------------------------


async def test_an_unreachable_ringcentral_is_counted_as_transport(clock: FakeClock) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    metrics = Metrics()
    client = RingCentralClient(
        http=httpx.AsyncClient(transport=httpx.MockTransport(unreachable)),
        credentials=Credentials(client_id="app", client_secret="secret", jwt="jwt"),
        clock=clock,
        on_exchange=metrics.ringcentral_exchange,
    )
    client.auth.on_grant = metrics.token_grant
    async with client:
        with pytest.raises(TransportError):
            await client.request("GET", "/restapi/v1.0/account/~/extension/~")

    scraped = Scrape(metrics.render().decode())
    assert (
        scraped(
            "ringbridge_ringcentral_requests_total",
            group="Auth",
            status="transport",
            error_code="ConnectError",
        )
        == 1
    )
    assert (
        scraped("ringbridge_ringcentral_token_grants_total", grant="jwt", outcome="transport_error")
        == 1
    )


def test_labels_stay_in_their_sets() -> None:
    metrics = Metrics()
    metrics.ringcentral_exchange(
        Exchange("GET", "/restapi/v1.0/account/~", "Custom", 404, f"{CALLER} not found", 0.1)
    )
    metrics.token_grant("password", "Refused for user 12345")
    scraped = Scrape(metrics.render().decode())
    requests = "ringbridge_ringcentral_requests_total"
    assert scraped(requests, group="other", status="4xx", error_code="other") == 1
    assert scraped("ringbridge_ringcentral_token_grants_total", grant="other", outcome="other") == 1


def test_slack_methods_and_errors_are_read_from_each_attempt() -> None:
    def answer(status: int, body: dict[str, Any] | None) -> HttpResponse:
        return HttpResponse(status_code=status, headers={}, body=body)

    assert method_of("https://slack.com/api/chat.postMessage") == "chat.postMessage"
    assert method_of("https://files.slack.com/upload/v1/CwABAAAAXAoAAZ") == "file_upload"
    assert method_of("https://slack.com/api/../../etc") == "other"
    assert error_of(answer(200, {"ok": True}), None) == ""
    assert error_of(answer(200, {"ok": False, "error": "not_in_channel"}), None) == "not_in_channel"
    assert error_of(answer(429, {"ok": False, "error": "ratelimited"}), None) == "ratelimited"
    assert error_of(answer(502, None), None) == "http_502"
    assert error_of(answer(200, {"ok": False, "error": "U0ALICE's token"}), None) == "other"
    assert error_of(None, aiohttp.ClientConnectionError()) == "ClientConnectionError"
