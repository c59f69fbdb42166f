"""The daily digest's clock (which local day is due when, DST included), the channels'
times (the earliest route wins), its stored form and its message (outside text escaped,
only our own links and mentions, Slack's limits kept)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.bridge.digest import digest_times, due_day
from bot.config import Route
from bot.notices import DigestNotice, OpenItem, Party, TakenCount, dump_digest, load_digest
from bot.sim import check_blocks
from bot.slack.render import Locale, render_digest
from tests.golden_files import assert_golden

PACIFIC = ZoneInfo("America/Los_Angeles")
US = Locale("US", PACIFIC)
LINK = "https://team.slack.com/archives/C0CALLS/p1767225600000100"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (_utc(2026, 1, 1, 1, 29, 59), None),  # 17:29:59 PST
        (_utc(2026, 1, 1, 1, 30), date(2025, 12, 31)),
        (_utc(2026, 1, 1, 2, 29, 59), date(2025, 12, 31)),  # within the hour after
        (_utc(2026, 1, 1, 2, 30), None),  # later: skipped
    ],
)
def test_a_digest_is_due_from_its_time_until_an_hour_after(now: datetime, due: date | None) -> None:
    assert due_day(time(17, 30), now, PACIFIC) == due


def test_a_late_window_past_midnight_still_belongs_to_its_day() -> None:
    assert due_day(time(23, 30), _utc(2026, 1, 1, 8, 10), PACIFIC) == date(2025, 12, 31)


def test_a_time_the_dst_gap_skips_comes_when_the_clock_jumps_over_it() -> None:
    # 2026-03-08: 02:00 PST becomes 03:00 PDT; 02:30 that day is 03:30 PDT (10:30Z).
    assert due_day(time(2, 30), _utc(2026, 3, 8, 10, 29), PACIFIC) is None
    assert due_day(time(2, 30), _utc(2026, 3, 8, 10, 30), PACIFIC) == date(2026, 3, 8)
    # The next day it is 02:30 PDT again (09:30Z).
    assert due_day(time(2, 30), _utc(2026, 3, 9, 9, 30), PACIFIC) == date(2026, 3, 9)


def test_a_time_the_fall_back_repeats_comes_at_its_first() -> None:
    # 2026-11-01: 01:00-02:00 happens twice; the first 01:30 is PDT (08:30Z).
    assert due_day(time(1, 30), _utc(2026, 11, 1, 8, 30), PACIFIC) == date(2026, 11, 1)
    assert due_day(time(1, 30), _utc(2026, 11, 1, 9, 30), PACIFIC) is None


def test_each_channel_takes_the_earliest_digest_of_its_routes() -> None:
    routes = [
        Route.model_validate({"events": ["sms"], "channel": "C1", "digest": "18:00"}),
        Route.model_validate({"events": ["missed_call"], "channel": "C1", "digest": "17:30"}),
        Route.model_validate({"events": ["voicemail"], "channel": "C2"}),
        Route.model_validate({"events": ["voicemail"], "dm": "owner", "digest": "09:00"}),
    ]
    assert digest_times(routes) == {"C1": time(17, 30)}


def _digest(**values: object) -> DigestNotice:
    base: dict[str, object] = {
        "kind": "digest",
        "day": date(2025, 12, 31),
        "since": _utc(2025, 12, 31, 1, 30),
        "until": _utc(2026, 1, 1, 1, 30),
    }
    return DigestNotice(**(base | values))  # type: ignore[arg-type]


def test_a_digest_is_stored_and_read_back_whole() -> None:
    digest = _digest(
        missed_calls=2,
        missed_open=1,
        taken=(TakenCount("U0ALICE", missed_calls=1),),
        still_open=(OpenItem("missed_call", Party("+14155550123", "Jo"), _utc(2026, 1, 1), LINK),),
    )
    assert load_digest(dump_digest(digest)) == digest
    with pytest.raises(ValueError):
        load_digest('{"version": 1, "notice": {}}')


def test_outside_text_in_a_digest_stays_text() -> None:
    caller = Party("+14155550123", "<!channel> <https://evil.example|Bank>")
    digest = _digest(
        missed_calls=1,
        missed_open=1,
        still_open=(OpenItem("missed_call", caller, _utc(2026, 1, 1), LINK, "U0ALICE"),),
    )
    message = render_digest(digest, locale=US)
    shown = str(message.blocks)
    assert "<!channel>" not in shown
    assert "<https://evil" not in shown
    assert f"<{LINK}|Missed call>" in shown
    assert "taken by <@U0ALICE>" in shown
    assert check_blocks(message.blocks) == []


@pytest.mark.parametrize(
    "link",
    ["https://evil.example/x|Bank>", "javascript:alert(1)", "https://t.slack.com/archives/C1/p1>"],
)
def test_a_link_that_is_no_slack_permalink_is_refused(link: str) -> None:
    item = OpenItem("voicemail", Party("+14155550123"), _utc(2026, 1, 1), link)
    with pytest.raises(ValueError):
        render_digest(_digest(voicemails=1, voicemails_open=1, still_open=(item,)), locale=US)


def test_a_long_open_list_stays_within_slacks_limits_and_counts_the_rest() -> None:
    items = tuple(
        OpenItem("missed_call", Party("+14155550123", "N" * 80), _utc(2026, 1, 1), LINK)
        for _ in range(200)
    )
    digest = _digest(missed_calls=250, missed_open=250, still_open=items)
    message = render_digest(digest, locale=US)
    assert check_blocks(message.blocks) == []
    shown = str(message.blocks)
    assert "*Still open (250):*" in shown
    assert "more" in str(message.blocks[-1])
    listed = shown.count("|Missed call>")
    assert f"…and {250 - listed} more" in shown


def test_a_quiet_day_says_so() -> None:
    message = render_digest(_digest(), locale=US)
    assert "Nothing was posted here since the last digest." in str(message.blocks)
    assert message.text.startswith("Daily digest: 0 missed calls")


def test_a_digest_message_as_reviewed() -> None:
    """`UPDATE_GOLDEN=1` rewrites tests/golden/blocks_digest.json."""
    digest = _digest(
        missed_calls=3,
        missed_open=2,
        missed_handled=1,
        voicemails=1,
        voicemails_open=1,
        conversations=2,
        conversations_open=1,
        texts=3,
        taken=(TakenCount("U0ALICE", missed_calls=1), TakenCount("U0BOB", conversations=1)),
        still_open=(
            OpenItem("missed_call", Party("+14155550123", "Ann Lee"), _utc(2026, 1, 1), LINK),
            OpenItem("sms", Party("+14155550188"), _utc(2026, 1, 1, 0, 5), LINK, taken_by="U0BOB"),
        ),
    )
    message = render_digest(digest, locale=US)
    assert check_blocks(message.blocks) == []
    assert_golden(GOLDEN / "blocks_digest.json", {"text": message.text, "blocks": message.blocks})
