"""The router's routes found by a notice's kind and company number (`Router._routes_for`,
asked for every delivery): the file's order kept (the first matching route's auto reply),
a route with `numbers` only for those numbers, `extensions` still applied, whatever was
asked before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.bridge.routing import Router
from bot.config import Route
from bot.notices import CallNotice, Notice, PagerNotice, Party, SmsNotice

AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday afternoon
MAIN = "+16505550100"
SALES = "+16505550111"
CALLER = "+14155550123"
EXTENSIONS = {"e101": "101", "e102": "102"}
DEFAULT = "C0DEFAULT"


def routes() -> list[Route]:
    return [
        Route(events=["sms"], numbers=[SALES], channel="C0SALES", auto_reply="sales reply"),
        Route(
            events=["sms", "missed_call"],
            extensions=["101"],
            channel="C0EXT101",
            auto_reply="101 reply",
            replies="off",
        ),
        Route(events=["sms"], channel="C0TEXTS", auto_reply="everyone's reply"),
        Route(events=["missed_call"], numbers=[MAIN], channel="C0MAINCALLS"),
    ]


def router() -> Router:
    return Router(routes(), DEFAULT, EXTENSIONS)


def sms(number: str, extension: str | None) -> SmsNotice:
    return SmsNotice(
        kind="sms", message_id="m1", sender=Party(number=CALLER), company_number=number,
        text="hi", at=AT, extension_id=extension,
    )  # fmt: skip


def missed(number: str | None, extension: str | None) -> CallNotice:
    return CallNotice(
        kind="missed_call", session_id="s1", party_id="p1", direction="Inbound",
        caller=Party(number=CALLER), callee=Party(number=number), at=AT,
        extension_id=extension, company_number=number,
    )  # fmt: skip


def answers(r: Router, notice: Notice) -> tuple[list[str], Any]:
    return r.channels(notice), r.auto_reply(notice)


def test_the_first_matching_route_in_the_files_order_gives_the_auto_reply() -> None:
    r = router()
    assert answers(r, sms(SALES, "e101")) == (
        ["C0SALES", "C0EXT101", "C0TEXTS"],
        ("sales reply", "C0SALES"),
    )
    assert answers(r, sms(MAIN, "e101")) == (["C0EXT101", "C0TEXTS"], ("101 reply", "C0EXT101"))
    assert answers(r, sms(MAIN, "e102")) == (["C0TEXTS"], ("everyone's reply", "C0TEXTS"))
    assert answers(r, sms(SALES, "e102")) == (["C0SALES", "C0TEXTS"], ("sales reply", "C0SALES"))


def test_a_route_with_numbers_matches_only_those_whatever_number_was_asked_first() -> None:
    r = router()
    # a number the route does not name first, then the one it names, then the first again
    assert r.channels(missed(SALES, "e102")) == [DEFAULT]
    assert r.channels(missed(MAIN, "e102")) == ["C0MAINCALLS"]
    assert r.channels(missed(SALES, "e102")) == [DEFAULT]
    assert r.channels(missed(None, "e102")) == [DEFAULT]  # no company number: no `numbers`
    assert r.channels(missed(MAIN, "e101")) == ["C0EXT101", "C0MAINCALLS"]


def test_extension_filters_apply_to_each_notice_of_the_same_kind_and_number() -> None:
    r = router()
    assert r.channels(sms(MAIN, "e101")) == ["C0EXT101", "C0TEXTS"]
    assert r.channels(sms(MAIN, "e102")) == ["C0TEXTS"]  # same kind and number: filtered
    assert r.channels(sms(MAIN, None)) == ["C0TEXTS"]
    assert r.replies_off("C0EXT101", sms(MAIN, "e101"))
    assert not r.replies_off("C0EXT101", sms(MAIN, "e102"))
    assert not r.replies_off("C0TEXTS", sms(MAIN, "e101"))


def test_a_kind_no_route_takes_goes_to_the_default_channel() -> None:
    r = router()
    note = PagerNotice(
        kind="internal_message", message_id="n1", sender=Party(name="Dana"), to=(),
        text="hi", at=AT, extension_id="e101",
    )  # fmt: skip
    assert answers(r, note) == ([DEFAULT], None)
