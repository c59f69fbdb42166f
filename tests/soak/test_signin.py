"""The JWT grant refused (RELIABILITY R7, DESIGN §3.3, §3.10), on a real `serve` process.

While SMS deliveries arrive by webhook, the simulator revokes the service user's JWT (as
the developer console does: every session ends, logins with it are refused). Measured:
the sign-in attempts the bridge makes (its own /metrics, by grant and outcome), /healthz
polled every second (status code and word), the webhooks' answers, and the admin
channel's messages. Later the JWT is accepted again (as a new one set by the admin
would be): the next attempt, at most 5 minutes after the last, passes.

Pass: a refused refresh led to one JWT login; at most one JWT attempt per 5 minutes;
/healthz never 503 (200 "degraded" with `needs_reauth` meanwhile); every delivery
answered 200 and stored; one admin-channel message, updated to resolved; every SMS then
posted exactly once. A real 5-minute wait: CI and full size differ only in the load.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.sim import CHANNEL

from ._kit import Bridge, Sender, bridge, exactly_once, make_items, until

pytestmark = pytest.mark.long  # a long real-time run: its own CI step (README)

ADMIN = "C0ADMIN"
RELOGIN = 300.0  # RELIABILITY R7: at most one JWT attempt per 5 minutes
CONFIG = f'[[routes]]\nevents = ["sms"]\nchannel = "{CHANNEL}"\n\n[admin]\nchannel = "{ADMIN}"\n'


async def grants(b: Bridge) -> dict[tuple[str, str], float]:
    """The server's token requests by (grant, outcome), from its /metrics."""
    async with aiohttp.ClientSession() as session, session.get(f"{b.server.url}/metrics") as resp:
        text = await resp.text()
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ringbridge_ringcentral_token_grants_total":
                found[(sample.labels["grant"], sample.labels["outcome"])] = sample.value
    return found


async def signin_messages(b: Bridge) -> list[dict[str, Any]]:
    """The admin channel's messages about the sign-in (the soak kit's probe delivery is a
    dead letter: a message of its own there)."""
    return [m for m in await b.sims.slack_messages(ADMIN) if "sign-in" in str(m)]


async def poll_health(b: Bridge, seen: list[tuple[float, int, str, str]]) -> None:
    """/healthz every second: (time, status, status word, ringcentral_auth)."""
    async with aiohttp.ClientSession() as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{b.server.url}/healthz") as resp:
                    body = await resp.json()
                    seen.append((time.time(), resp.status, body["status"],
                                 body["ringcentral_auth"]))  # fmt: skip
            await asyncio.sleep(1.0)


async def test_r7_a_refused_jwt_no_sign_in_loop_degraded_never_503_one_admin_message(
    soak: bool, figures: dict[str, Any]
) -> None:
    rate = 2.0 if soak else 0.5  # SMS a second, throughout
    refused_for = 200.0  # the JWT comes back this long after the revocation
    async with bridge(extra_env={"BRIDGE_CONFIG": CONFIG}) as b:
        await b.sims.slack_add_channels([ADMIN])
        duration = refused_for + RELOGIN * 0.5
        n = int(rate * duration)
        items = make_items(b.target, n, [CHANNEL], offset=700_000)
        health: list[tuple[float, int, str, str]] = []
        polling = asyncio.create_task(poll_health(b, health))
        async with Sender(b.target) as sender:
            sending = asyncio.create_task(sender.deliver_all(items, rate=rate))
            try:
                await asyncio.sleep(3.0)
                before = await grants(b)
                revoked_at = time.time()
                await b.sims.rc_revoke_jwt()

                async def told() -> bool:
                    return len(await signin_messages(b)) == 1

                await until("the admin told", told, 60, every=0.5)
                told_after = time.time() - revoked_at
                await asyncio.sleep(max(0.0, refused_for - (time.time() - revoked_at)))
                refused = await grants(b)
                await b.sims.rc_restore_jwt()
                restored_at = time.time()

                async def resolved() -> bool:
                    messages = await signin_messages(b)
                    return len(messages) == 1 and "Resolved" in str(messages[0])

                await until("the sign-in problem resolved", resolved, RELOGIN + 60, every=1.0)
                resolved_after = time.time() - revoked_at
                await asyncio.wait_for(sending, timeout=duration + 600)
            finally:
                sending.cancel()
                polling.cancel()
        count, took = await exactly_once(b.sims, items, 300)
        after = await grants(b)
        admin = await signin_messages(b)
        updates = await b.sims.slack_call_log("chat.update")
        leaks = await b.secrets_in_logs()

    def delta(a: dict[tuple[str, str], float], z: dict[tuple[str, str], float], key: Any) -> int:
        return int(z.get(key, 0) - a.get(key, 0))

    while_refused = [h for h in health if revoked_at + told_after <= h[0] < restored_at]
    figures.update(
        n=n,
        rate_per_s=rate,
        refused_for_s=refused_for,
        refresh_refused=delta(before, refused, ("refresh_token", "invalid_grant")),
        jwt_refused_while_refused=delta(before, refused, ("jwt", "invalid_grant")),
        jwt_attempts_total=delta(before, after, ("jwt", "invalid_grant"))
        + delta(before, after, ("jwt", "ok")),
        admin_told_after_s=round(told_after, 1),
        resolved_after_revocation_s=round(resolved_after, 1),
        resolved_after_jwt_back_s=round(resolved_after - (restored_at - revoked_at), 1),
        healthz_polls=len(health),
        healthz_503=sum(1 for h in health if h[1] == 503),
        healthz_degraded_while_refused=sum(1 for h in while_refused if h[2] == "degraded"),
        healthz_while_refused=len(while_refused),
        deliveries_given_up=len(sender.given_up),
        admin_signin_messages=len(admin),
        admin_updates=len(updates),
        lost=len(count.lost(items)),
        doubled=len(count.doubled(items)),
        all_posted_s=round(took, 1),
        secrets_in_logs=len(leaks),
    )
    assert figures["refresh_refused"] <= 1 and figures["jwt_refused_while_refused"] == 1
    # One refused attempt, then the one that passed, at least 5 minutes apart.
    assert figures["jwt_attempts_total"] == 2
    assert resolved_after >= RELOGIN
    assert figures["healthz_503"] == 0
    assert while_refused and all(h[1:] == (200, "degraded", "needs_reauth") for h in while_refused)
    assert not sender.given_up
    assert len(admin) == 1 and len(updates) >= 1
    assert not leaks, leaks
