"""RELIABILITY R21, poison work, SQLite, one `serve` process on the wall clock: among 100
notifications one row fails with an exception no step expects, at ingest (a stored call
state this release cannot read, as a newer release would leave it) and at the post (Slack
answers `{"ok": true}` without the message's ts, for that row's channel only).

Pass: the 99 others each posted exactly once, while the bad rows are retried with backoff;
then each bad row is a dead letter with its reason; the queue never stalls (the poster and
the inbox are empty of due work at the end). The upload and transcript stages are covered
on the fake clock by tests/integration/test_poison_rows.py (they need MMS and voicemail
traffic the soak sender does not make).
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.bridge.faults import UNEXPECTED_LIMIT
from tests.conftest import EXAMPLES

from ._kit import Sender, bridge, company_number, exactly_once, make_items, sms_envelope, until

pytestmark = pytest.mark.long  # a long real-time run: its own CI step (README)

DEAD_WITHIN = 150.0  # s: UNEXPECTED_LIMIT tries with backoff (at most about a minute)


def poison_the_inbox(path: str) -> str:
    """A telephony delivery whose call's stored state is unreadable; its uuid."""
    envelope = json.loads((EXAMPLES / "telephony-session-event.json").read_text())
    envelope["uuid"] = "poison-ingest"
    session_id = envelope["body"]["telephonySessionId"]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(path, timeout=10) as conn:
        conn.execute(
            "INSERT INTO call_state (session_id, state, updated_at, open) VALUES (?, ?, ?, 0)",
            (session_id, '{"written by": "release 99"}', now),
        )
        conn.execute(
            "INSERT INTO inbox (uuid, received_at, body, state, attempts, next_attempt_at)"
            " VALUES (?, ?, ?, 'pending', 0, ?)",
            ("poison-ingest", now, json.dumps(envelope), now),
        )
    return "poison-ingest"


async def test_r21_poison_rows_end_as_dead_letters_and_the_rest_flows(
    soak: bool, figures: dict[str, Any]
) -> None:
    if not EXAMPLES.is_dir():
        pytest.skip(f"RingCentral example payloads not found at {EXAMPLES}")
    async with bridge(channel_count=7) as b:
        good_channels, bad_channel = b.channel_ids[:6], b.channel_ids[6]
        # RELIABILITY: one bad row among 100, for each of 4 stages (here 2: see the module).
        items = make_items(b.target, (400 if soak else 100) - 1, good_channels, offset=400_000)
        bad_body = sms_envelope(
            b.target, uuid="poison-post", item="7000000499999", sender="+14152999999",
            company=company_number(6), text="poison",
        )  # fmt: skip
        await b.sims.slack_fail("chat.postMessage", garbled=True, times=None, channel=bad_channel)
        started = time.monotonic()
        poison_the_inbox(str(b.server.database_path))
        async with Sender(b.target) as sender:
            await sender.deliver(bad_body, label="poison-post")
            await sender.deliver_all(items, rate=20.0)
        count, took = await exactly_once(b.sims, items, within=120.0)

        def dead() -> dict[str, tuple[int, str]]:
            found = b.sqlite(
                "SELECT uuid, attempts, error FROM inbox WHERE state = 'dead'"
                " AND uuid = 'poison-ingest'"
            ) + b.sqlite(
                "SELECT rc_uuid, attempts, error FROM posts WHERE state = 'dead'"
                " AND rc_uuid = 'poison-post'"
            )
            return {str(u): (int(a), str(e)) for u, a, e in found}

        async def both_dead() -> dict[str, tuple[int, str]] | None:
            found = dead()
            return found if len(found) == 2 else None

        letters = await until("both poison rows dead", both_dead, DEAD_WITHIN, every=1.0)
        dead_after = time.monotonic() - started
        tries = [
            c for c in await b.sims.slack_call_log("chat.postMessage")
            if c.get("channel") == bad_channel
        ]  # fmt: skip
        due = b.sqlite(
            "SELECT count(*) FROM posts WHERE state IN ('pending', 'sending')"
        ) + b.sqlite("SELECT count(*) FROM inbox WHERE state = 'pending'")
        leaks = await b.secrets_in_logs()
        figures.update(
            items=len(items), posted_once=len(items) - len(count.doubled(items)),
            drained_s=round(took, 1), dead_after_s=round(dead_after, 1),
            post_tries=len(tries), reasons={u: e for u, (_, e) in letters.items()},
            secrets_in_logs=len(leaks),
        )  # fmt: skip
        assert letters["poison-ingest"][0] == UNEXPECTED_LIMIT
        assert letters["poison-ingest"][1].startswith("unexpected ValidationError in delivery")
        assert letters["poison-post"][0] == UNEXPECTED_LIMIT
        assert letters["poison-post"][1].startswith("unexpected ValidationError in post")
        assert len(tries) == UNEXPECTED_LIMIT
        assert [n for (n,) in due] == [0, 0]  # nothing stalled
        assert await b.healthy() == 200
        assert leaks == {}
