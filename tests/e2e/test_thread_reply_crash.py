"""A thread reply and a crash (SIGKILL) after Slack got its ack: the reply is texted once
after the restart, whatever happened before the kill, and a retry of the event that
reaches the restarted process texts nothing more (DESIGN §3.8, issue 9 item 4).

`python -m bot serve` runs as a subprocess on a SQLite file; the simulators run in a child
process of their own (see tests/e2e/test_crash_recovery.py, whose fixture this reuses).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.sim import ServerProcess, Simulators
from tests.e2e import test_crash_recovery as recovery
from tests.e2e.test_crash_recovery import SENDER, Crash, until

crash = recovery.crash  # the fixture: simulators and a server to kill and restart

pytestmark = pytest.mark.slow

WITHIN = 30.0
SETTLE = 1.5  # seconds to keep watching for a second text after the first


def _reply_row(database: Path) -> tuple[Any, ...] | None:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(  # type: ignore[no-any-return]
            "SELECT state, attempts, claimed_until, outcome FROM slack_events"
        ).fetchone()


async def _reply_row_of(crash: Crash) -> tuple[Any, ...] | None:
    try:
        return await asyncio.to_thread(_reply_row, crash.server.database_path)
    except sqlite3.OperationalError:  # the table is not there yet, or the file is busy
        return None


async def _reply_after_crash(crash: Crash, *, store: bool) -> tuple[str, dict[str, Any]]:
    """An SMS starts a thread; a person replies; RingCentral's first /sms answer fails
    (with `store`, after it sent the text); once the failure is recorded the server is
    killed. Returns the events URL and the envelope Slack sent."""
    await crash.subscribed()
    sms = await crash.sims.rc_incoming_sms(SENDER, "is the shop open?")
    parent = await crash.exactly_one_message(sms["id"])
    await crash.sims.rc_fail(r"/sms$", status=503, times=1 if store else None, store=store)
    url = crash.server.url + "/slack/events"

    sent = await crash.sims.slack_thread_reply(url, parent["ts"], "Yes, until 6")
    assert sent["status"] == 200  # Slack got its ack: from here the reply is ours

    async def failure_recorded() -> bool:
        row = await _reply_row_of(crash)
        return row is not None and row[0] == "sending" and row[1] >= 1 and row[2] is None

    await until("the failed send recorded", failure_recorded, WITHIN, every=0.01)
    await crash.server.kill()
    return url, sent["envelope"]


async def _texted_once(crash: Crash) -> None:
    async def done() -> bool:
        row = await _reply_row_of(crash)
        return row is not None and (row[0], row[3]) == ("done", "texted")

    await until("the reply recorded as texted", done, WITHIN)
    await asyncio.sleep(SETTLE)  # a second text would come now, if at all


async def test_killed_before_the_text_went_out_it_is_texted_once_after_restart(
    crash: Crash,
) -> None:
    url, envelope = await _reply_after_crash(crash, store=False)
    assert {t["status"] for t in await crash.sims.rc_texts_sent()} == {503}  # nothing sent

    await crash.sims.rc_clear_faults()
    await crash.server.start()
    # Slack's retry of the event reaches the restarted process: it stores nothing new.
    assert await crash.sims.slack_resend_event(url, envelope, retry=1) == 200
    await _texted_once(crash)

    sent = [t for t in await crash.sims.rc_texts_sent() if t["status"] == 200]
    assert [t["json"]["text"] for t in sent] == ["Yes, until 6"]
    assert sent[0]["json"]["to"] == [{"phoneNumber": SENDER}]


async def test_killed_after_ringcentral_sent_it_but_before_the_answer_is_never_texted_twice(
    crash: Crash,
) -> None:
    """RingCentral sent the text and its answer was lost (503); the server is killed before
    it tries again. The restarted server finds the text in the message store."""
    url, envelope = await _reply_after_crash(crash, store=True)

    await crash.server.start()
    assert await crash.sims.slack_resend_event(url, envelope, retry=2) == 200
    await _texted_once(crash)

    sent = await crash.sims.rc_texts_sent()
    assert [(t["status"], t["json"]["text"]) for t in sent] == [(503, "Yes, until 6")]


@pytest.mark.skipif(
    not os.environ.get("RINGBRIDGE_TEST_POSTGRES"), reason="RINGBRIDGE_TEST_POSTGRES is not set"
)
async def test_a_retry_reaching_another_process_texts_nothing_more() -> None:
    """Two `serve` processes on one PostgreSQL database: Slack's event reaches one, its
    retry the other (Slack spreads them over an app's endpoints and processes)."""
    from bot.store import connect
    from bot.store.migrate import upgrade
    from tests.databases import postgres_database

    url = await postgres_database("rb_replies_two")
    engine = connect(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    env = {"BRIDGE_CONFIG": recovery.BRIDGE_CONFIG, "DATABASE_URL": url}
    sims = Simulators()
    servers: list[ServerProcess] = []
    try:
        info = await sims.start()
        servers = [ServerProcess(info, public_url=True, extra_env=env) for _ in range(2)]
        for server in servers:
            await server.start()
        await until("a subscription", lambda: _subscribed(sims), WITHIN)
        sms = await sims.rc_incoming_sms(SENDER, "two of you?")

        async def parent() -> dict[str, Any] | None:
            return next(
                (
                    m
                    for m in await sims.slack_messages()
                    if (m.get("metadata") or {}).get("event_payload", {}).get("item") == sms["id"]
                ),
                None,
            )

        thread = await until("the SMS posted", parent, WITHIN)
        first, second = (s.url + "/slack/events" for s in servers)
        sent = await sims.slack_thread_reply(first, thread["ts"], "One of us")
        assert sent["status"] == 200
        assert await sims.slack_resend_event(second, sent["envelope"], retry=1) == 200

        async def texted() -> bool:
            return any(t["status"] == 200 for t in await sims.rc_texts_sent())

        await until("the reply texted", texted, WITHIN)
        await asyncio.sleep(SETTLE)
        assert [t["json"]["text"] for t in await sims.rc_texts_sent()] == ["One of us"]
    finally:
        for server in servers:
            await server.kill()
            await server.close()
        await sims.close()


async def _subscribed(sims: Simulators) -> bool:
    return any(s["status"] == "Active" for s in await sims.rc_subscriptions())
