"""The auto-reply decision (DESIGN §3.12), one pure function: every condition, and what
wins when several hold (the cheapest, most certain first; the admin is only told of a
missing SmsSender for a caller who would otherwise get the text)."""

from __future__ import annotations

import pytest

from bot.bridge.auto_reply import Account, MissedCall, Verdict, judge

US = Account("US", frozenset({"+16505550100", "+16505550101"}), frozenset({"+16505550101"}))
GB = Account("GB", frozenset({"+442079460001"}), frozenset({"+442079460001"}))
MOBILE_US = "+14155550123"  # FIXED_LINE_OR_MOBILE: US numbers do not tell


def call(caller: str | None, *, live: bool = True, extension: str | None = None,
         called: str | None = "+16505550101") -> MissedCall:  # fmt: skip
    return MissedCall(live, caller, extension, called)


@pytest.mark.parametrize(
    ("missed", "account", "remembered", "verdict"),
    [
        (call(MOBILE_US), US, None, "send"),
        (call("+447400123456", called="+442079460001"), GB, None, "send"),  # MOBILE
        (call(MOBILE_US, live=False), US, None, "late"),
        (call(None), US, None, "anonymous"),
        (call("anonymous"), US, None, "anonymous"),
        (call(None, extension="102"), US, None, "extension"),
        (call("102"), US, None, "extension"),
        (call("+16505550100"), US, None, "own_number"),
        (call("+16505550101"), US, None, "own_number"),
        (call("+33612345678"), US, None, "foreign"),
        # A London landline: phonenumbers types it FIXED_LINE.
        (call("+442079460000", called="+442079460001"), GB, None, "not_mobile"),
        (call("+18885550142"), US, None, "not_mobile"),  # toll-free
        (call(MOBILE_US), US, "opted_out", "opted_out"),
        (call(MOBILE_US), US, "landline", "landline"),
        (call(MOBILE_US, called="+16505550111"), US, None, "no_sms_sender"),
        (call(MOBILE_US, called=None), US, None, "no_sms_sender"),
        # Several hold: a late call is never texted, whoever it is from.
        (call("+33612345678", live=False), US, "opted_out", "late"),
        # Not told to the admin for a caller who would not get the text anyway.
        (call("+33612345678", called="+16505550111"), US, None, "foreign"),
        (call(MOBILE_US, called="+16505550111"), US, "opted_out", "opted_out"),
    ],
)
def test_judge(missed: MissedCall, account: Account, remembered: str | None,
               verdict: Verdict) -> None:  # fmt: skip
    assert judge(missed, account, remembered) == verdict
