"""A notice catch-up recovered is marked late (DESIGN §3.10): "arrived late: happened at"
a Slack date token of when it happened, under its first block and in its fallback text;
`"late": true` in its post's metadata; stored as version 1 with the field, and a row
written before the field loads as not late."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.bridge.poster import metadata
from bot.notices import NOTICE_VERSION, Notice, dump_notice, load_notice
from bot.sim import check_blocks
from bot.slack.render import Locale, render_notice
from bot.store.schema import Post
from tests.unit.test_notices import PREVIOUS_RELEASE

LOCALE = Locale("US", ZoneInfo("America/Los_Angeles"))
NOTICES = [notice for _, notice in PREVIOUS_RELEASE]


def late(notice: Notice) -> Notice:
    return dataclasses.replace(notice, late=True)


@pytest.mark.parametrize("notice", NOTICES, ids=lambda n: n.kind)
def test_a_late_notice_says_when_it_happened_under_its_first_block(notice: Notice) -> None:
    on_time = render_notice(notice, locale=LOCALE)
    shown = render_notice(late(notice), locale=LOCALE)

    assert check_blocks(shown.blocks) == []
    assert shown.blocks[0] == on_time.blocks[0] and shown.blocks[2:] == on_time.blocks[1:]
    mark = shown.blocks[1]
    assert mark["type"] == "context"
    text = mark["elements"][0]["text"]
    stamp = int(notice.at.timestamp())
    assert re.fullmatch(
        rf":hourglass: Arrived late: happened at <!date\^{stamp}\^\{{date_short_pretty\}} "
        r"\{time\}\|[^<>|]+>",
        text,
    ), text
    assert shown.text == f"Arrived late: {on_time.text}"
    assert "Arrived late" not in json.dumps(on_time.blocks) + on_time.text


def test_an_sms_in_its_thread_is_marked_too() -> None:
    sms = next(n for n in NOTICES if n.kind == "sms")
    reply = render_notice(late(sms), locale=LOCALE, thread_parent=False)
    assert "Arrived late: happened at" in json.dumps(reply.blocks)


@pytest.mark.parametrize("notice", NOTICES, ids=lambda n: n.kind)
def test_late_is_stored_in_version_one_and_reads_back(notice: Notice) -> None:
    stored = dump_notice(late(notice))
    assert json.loads(stored)["version"] == NOTICE_VERSION == 1
    assert load_notice(stored) == late(notice)
    assert load_notice(dump_notice(notice)).late is False


@pytest.mark.parametrize(("row", "expected"), PREVIOUS_RELEASE, ids=lambda v: str(v)[:24])
def test_a_row_without_the_field_is_not_late(row: str, expected: Notice) -> None:
    assert load_notice(row).late is False
    versioned = json.dumps({"version": 1, "notice": json.loads(row)})
    assert load_notice(versioned) == expected


def test_the_metadata_of_a_late_post_says_so() -> None:
    notice = NOTICES[0]
    post = Post(
        rc_uuid="catchup:0123456789abcdef",
        kind=notice.kind,
        item=notice.item,
        channel="C0CALLS",
        notice=dump_notice(late(notice)),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert metadata(post) == {
        "event_type": f"ringcentral_{notice.kind}",
        "event_payload": {"rc_uuid": post.rc_uuid, "item": notice.item, "late": True},
    }
    post.notice = dump_notice(notice)
    assert "late" not in metadata(post)["event_payload"]
