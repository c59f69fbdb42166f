"""Bad input mixed into a running load, SQLite, one process (RELIABILITY R11, R13, R14,
R15, R19; DESIGN §3.3, §3.6).

While genuine SMS deliveries flow: forged deliveries (no token, a wrong one, ours with the
last byte changed) → 403 and nothing stored or posted; bodies over 1 MiB → 413; authentic
but unreadable bodies (not JSON, wrong shape, an unknown event, fuzz) → 200 and a dead
letter each; SMS text full of Slack markup → posted escaped. Through it all the same
process keeps serving (/healthz 200) and every genuine SMS is posted exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from typing import Any

import pytest

from ._kit import Bridge, Item, Sender, bridge, exactly_once, make_items, sms_envelope, until

pytestmark = pytest.mark.long  # a long real-time run: its own CI step (README)

INJECTIONS = {
    "channel": ("<!channel> pay now", "&lt;!channel&gt;", "<!channel>"),
    "here": ("<!here>", "&lt;!here&gt;", "<!here>"),
    "user": ("hi <@U123>", "&lt;@U123&gt;", "<@U123>"),
    "link": ("<https://evil.example|bank>", "&lt;https://evil.example|bank&gt;", "<https://evil"),
    "amp": ("Tom &amp; Jerry", "Tom &amp;amp; Jerry", None),
    "bold": ("*x* _y_ ~z~", "*x*", None),
    "long": ("A" * 4000, "AAAA", None),
    "rtl": ("שלום 👋🏽 \u202eevil\u202c مرحبا", "👋🏽", None),
}


def _texts(blocks: Any) -> list[str]:
    """Every `text` string in a Block Kit structure."""
    found: list[str] = []
    if isinstance(blocks, dict):
        for key, value in blocks.items():
            if key == "text" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_texts(value))
    elif isinstance(blocks, list):
        for value in blocks:
            found.extend(_texts(value))
    return found


def _section_texts(blocks: Any) -> list[str]:
    found = []
    for block in blocks or []:
        if block.get("type") == "section" and isinstance(block.get("text"), dict):
            found.append(block["text"]["text"])
    return found


def _malformed(b: Bridge, count: int, rng: random.Random) -> list[bytes]:
    fixed = [
        b"{not json",
        b"[]",
        b'"a string"',
        json.dumps({"event": b.target.event, "body": {}}).encode(),  # no uuid
        json.dumps({"uuid": "bad-no-event-1", "body": {}}).encode(),
        json.dumps({"uuid": "bad-no-body-1", "event": b.target.event}).encode(),
        json.dumps({"uuid": "x" * 65, "event": b.target.event, "body": {}}).encode(),
        json.dumps(
            {"uuid": "bad-wrong-schema-1", "event": b.target.event, "body": {"id": 1}}
        ).encode(),
        b"\xff\xfe\x00binary",
    ]
    fuzz = [rng.randbytes(rng.randint(1, 300)) for _ in range(max(0, count - len(fixed)))]
    return fixed + fuzz


def _count_inbox(b: Bridge, uuids: list[str], state: str | None = None) -> int:
    """Inbox rows with one of `uuids` (and `state`)."""
    placeholders = ",".join("?" * len(uuids))
    query = f"SELECT COUNT(*) FROM inbox WHERE uuid IN ({placeholders})"  # noqa: S608 - only ?s
    args: tuple[Any, ...] = tuple(uuids)
    if state is not None:
        query += " AND state = ?"
        args += (state,)
    return int(b.sqlite(query, args)[0][0])


def _dead_key(body: bytes) -> str:
    """The inbox key the receiver gives a dead letter (bot/bridge/receiver.py)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        uuid = data.get("uuid")
        if isinstance(uuid, str) and uuid and len(uuid) <= 64:
            return uuid
    return "dead:" + hashlib.sha256(body).hexdigest()[:40]


async def test_r11_to_r15_bad_input_during_load(soak: bool, figures: dict[str, Any]) -> None:
    n = 300 if soak else 60
    forged_n = 300 if soak else 100
    malformed_n = 1000 if soak else 100
    rng = random.Random(1115)
    async with bridge(channel_count=6) as b:
        pid = b.server.pid
        items = make_items(b.target, n, b.channel_ids, offset=700_000)
        injections = {
            name: Item(
                uuid=f"soak-inject-{name}",
                item=str(8_000_000_000_000 + i),
                channel=b.channel_ids[0],
                body=sms_envelope(
                    b.target,
                    uuid=f"soak-inject-{name}",
                    item=str(8_000_000_000_000 + i),
                    sender=f"+1415{3000000 + i:07d}",
                    company="+16505550100",
                    text=text,
                ),
            )
            for i, (name, (text, _, _)) in enumerate(INJECTIONS.items())
        }
        forged = make_items(b.target, forged_n, b.channel_ids, offset=900_000)
        token = b.target.token
        last = chr(ord(token[-1]) ^ 1)
        forged_tokens = [None, "wrong-token", token[:-1] + last]
        bad_bodies = _malformed(b, malformed_n, rng)
        health: list[int] = []
        async with Sender(b.target) as sender:
            genuine = asyncio.create_task(sender.deliver_all(items, rate=20))
            try:
                forged_answers = []
                for i, it in enumerate(forged):
                    headers = sender.headers(forged_tokens[i % 3])
                    forged_answers.append(await sender.post_once(it.body, headers=headers))
                    if i % 20 == 0:
                        health.append(await b.healthy())
                big = b"{" + b" " * (1024**2 + 1) + b"}"
                oversized = [await sender.post_once(big) for _ in range(3)]
                malformed_answers = []
                for i, body in enumerate(bad_bodies):
                    malformed_answers.append(await sender.post_once(body))
                    if i % 50 == 0:
                        health.append(await b.healthy())
                for it in injections.values():
                    await sender.deliver(it.body, label=it.item)
                await asyncio.wait_for(genuine, timeout=180)
            finally:
                genuine.cancel()
            expected = [*items, *injections.values()]
            count, _ = await exactly_once(b.sims, expected, 120)
            health.append(await b.healthy())

            forged_rows = _count_inbox(b, [it.uuid for it in forged])
            forged_posts = [it.item for it in forged if it.item in count.per_item]
            keys = sorted({_dead_key(body) for body in bad_bodies})

            def dead_rows() -> int:
                return _count_inbox(b, keys, state="dead")

            for _ in range(100):  # readable-but-wrong ones become dead in the dispatcher
                if dead_rows() == len(keys):
                    break
                await asyncio.sleep(0.2)
            dead = dead_rows()
            posts = await b.sims.slack_call_log("chat.postMessage")
            injection_problems = []
            section_max = 0
            for name, (_, want, never) in INJECTIONS.items():
                messages = count.messages.get(injections[name].item, [])
                assert len(messages) == 1, (name, messages)
                message = messages[0]
                everything = [message["text"], *_texts(message["blocks"])]
                section_max = max([section_max, *map(len, _section_texts(message["blocks"]))])
                in_blocks = any(want in t for t in _texts(message["blocks"]))
                if want not in message["text"] or not in_blocks:
                    injection_problems.append((name, "escaped form missing", message["text"][:200]))
                if never is not None and any(never in t for t in everything):
                    injection_problems.append((name, "raw markup posted", never))
            leaks = await b.secrets_in_logs()
            figures.update(
                genuine=n,
                forged=forged_n,
                forged_answers=sorted(set(forged_answers)),
                forged_rows=forged_rows,
                forged_posts=len(forged_posts),
                oversized_answers=oversized,
                malformed=len(bad_bodies),
                malformed_answers=sorted(set(malformed_answers)),
                dead_letters=dead,
                dead_letters_expected=len(keys),
                injections=len(INJECTIONS),
                injection_problems=len(injection_problems),
                longest_section_chars=section_max,
                post_calls=len(posts),
                health=sorted(set(health)),
                same_process=b.server.pid == pid,
                lost=len(count.lost(expected)),
                doubled=len(count.doubled(expected)),
                secrets_in_logs=len(leaks),
            )
            assert set(forged_answers) == {403}, forged_answers
            assert forged_rows == 0 and not forged_posts
            assert oversized == [413, 413, 413]
            assert set(malformed_answers) == {200}
            assert dead == len(keys)
            assert not injection_problems, injection_problems
            assert section_max <= 3000
            assert len(posts) == len(expected), "Slack was called for something forged"
            assert set(health) == {200} and b.server.pid == pid
            assert not leaks, leaks


async def test_r14_unknown_event_is_a_dead_letter() -> None:
    async with bridge() as b, Sender(b.target) as sender:
        body = json.dumps(
            {"uuid": "soak-unknown-event", "event": "/restapi/v1.0/nothing/here", "body": {}}
        ).encode()
        assert await sender.post_once(body) == 200

        async def settled() -> str | None:
            rows = b.sqlite("SELECT state FROM inbox WHERE uuid = 'soak-unknown-event'")
            return str(rows[0][0]) if rows and rows[0][0] != "pending" else None

        state = await until("the delivery handled", settled, 30)
        assert state == "dead", state
