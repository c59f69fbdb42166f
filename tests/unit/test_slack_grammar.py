from datetime import UTC, datetime, timedelta

import pytest

from bot.ringcentral.models import utf16_units
from bot.slack.commands import (
    CallLogQuery,
    Help,
    MessageQuery,
    Period,
    PlaceCall,
    SendSms,
    ShowCall,
    ShowMessage,
    UsageError,
    parse_call,
    parse_calllog,
    parse_sms,
)

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
MIDNIGHT = datetime(2026, 3, 10, tzinfo=UTC)


def sms(text: str) -> object:
    return parse_sms(text, region="US", now=NOW)


def calllog(text: str) -> object:
    return parse_calllog(text, region="US", now=NOW)


@pytest.mark.parametrize(
    ("typed", "to", "text"),
    [
        ("+1 415 555 0123 Running 10 min late", "+14155550123", "Running 10 min late"),
        ("+14155550123 hi", "+14155550123", "hi"),
        ("(650) 555-0100 2 pm?", "+16505550100", "2 pm?"),
        ("6505550100  two spaces kept ", "+16505550100", " two spaces kept "),
        ('+14155550123 "quoted" & <b> list show', "+14155550123", '"quoted" & <b> list show'),
    ],
)
def test_sms_splits_the_number_from_the_text_as_typed(typed: str, to: str, text: str) -> None:
    assert sms(typed) == SendSms(to, text)


@pytest.mark.parametrize(
    ("typed", "complaint"),
    [
        ("hello there", "`hello` is not a phone number"),
        ("+14155550123", "What should the text to +14155550123 say?"),
        ("+14155550123    ", "What should the text"),
        ("+14155550123 " + "x" * 1001, "1001 characters long"),
        ("+14155550123 " + "x" * 999 + "😀", "1001 characters long"),
        ("show", "/sms show <id>"),
    ],
)
def test_sms_bad_input_says_what_to_type(typed: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint.replace("?", r"\?").replace("+", r"\+")):
        sms(typed)


def test_sms_text_of_exactly_1000_units_is_accepted() -> None:
    assert isinstance(sms("+14155550123 " + "x" * 998 + "😀"), SendSms)
    assert utf16_units("x" * 998 + "😀") == 1000


def test_sms_help_and_empty() -> None:
    assert isinstance(sms(""), Help)
    assert isinstance(sms("help"), Help)


def test_sms_list_defaults_to_the_last_seven_days_twenty_a_page() -> None:
    assert sms("list") == MessageQuery(period=Period(date_from=NOW - timedelta(days=7)))


def test_sms_list_reads_every_filter() -> None:
    query = sms(
        "list +1 650 555 0100 in unread type:voicemail conversation:4481650717038104652 "
        "from:2026-03-01 to:2026-03-02 distinct deleted 50"
    )
    assert query == MessageQuery(
        period=Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)),
        count=50,
        phone_number="+16505550100",
        direction="Inbound",
        read_status="Unread",
        message_type="VoiceMail",
        conversation_id="4481650717038104652",
        distinct=True,
        deleted=True,
    )


@pytest.mark.parametrize(
    ("typed", "period"),
    [
        ("list today", Period(date_from=MIDNIGHT)),
        ("list yesterday", Period(MIDNIGHT - timedelta(days=1), MIDNIGHT)),
        ("list 30d", Period(date_from=NOW - timedelta(days=30))),
    ],
)
def test_sms_list_periods(typed: str, period: Period) -> None:
    query = sms(typed)
    assert isinstance(query, MessageQuery)
    assert query.period == period


def test_sms_show() -> None:
    assert sms("show 315450330010") == ShowMessage("315450330010")


@pytest.mark.parametrize(
    ("typed", "complaint"),
    [
        ("list type:telegram", "type:sms|fax|voicemail|pager"),
        ("list sideways", "I don't know `sideways`"),
        ("list from:yesterday", "is not a date"),
        ("list 0", "A count is 1 to 1000"),
    ],
)
def test_sms_list_bad_filters(typed: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint.replace("|", r"\|")):
        sms(typed)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("+1 415 555 0123", PlaceCall("+14155550123")),
        (
            "+1 415 555 0123 from +1 650 555 0111 as +1 650 555 0100 prompt",
            PlaceCall("+14155550123", "+16505550111", None, "+16505550100", True),
        ),
        ("4155550123 from Mobile", PlaceCall("+14155550123", from_label="Mobile")),
        ("4155550123 from Home Office", PlaceCall("+14155550123", from_label="Home Office")),
    ],
)
def test_call_grammar(typed: str, expected: PlaceCall) -> None:
    assert parse_call(typed, region="US") == expected


@pytest.mark.parametrize(
    ("typed", "complaint"),
    [
        ("bob", "`bob` is not a phone number I can call"),
        ("+14155550123 now", "I don't know `now`"),
        ("+14155550123 as Front Desk", "should be one of the company's numbers"),
        ("+14155550123 from", "Say which phone rings first"),
    ],
)
def test_call_bad_input(typed: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint):
        parse_call(typed, region="US")


def test_calllog_without_arguments_lists_twenty_recent_calls() -> None:
    assert calllog("") == CallLogQuery(period=Period())


def test_calllog_reads_every_filter() -> None:
    query = calllog(
        "missed +14155550123 7d ext:101 type:fax transport:voip recording:ondemand "
        "blocked deleted detailed 5"
    )
    assert query == CallLogQuery(
        period=Period(date_from=NOW - timedelta(days=7)),
        count=5,
        missed=True,
        phone_number="+14155550123",
        extension_number="101",
        call_type="Fax",
        transport="VoIP",
        recording_type="OnDemand",
        blocked=True,
        deleted=True,
        detailed=True,
    )


def test_calllog_bare_numbers_count_below_1000_and_are_phones_above() -> None:
    assert calllog("1000") == CallLogQuery(period=Period(), count=1000)
    query = calllog("6505550100")
    assert isinstance(query, CallLogQuery)
    assert query.phone_number == "+16505550100"


def test_calllog_record_id() -> None:
    assert calllog("IWvNToLkbo-7zUA") == ShowCall("IWvNToLkbo-7zUA")


@pytest.mark.parametrize(
    ("typed", "complaint"),
    [
        ("session:404036325008 today", "cannot be combined"),
        ("missed outbound", "Missed calls are inbound"),
        ("type:sms", "type:voice|fax"),
        ("IWvNToLkbo today", "alone"),
    ],
)
def test_calllog_bad_input(typed: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint.replace("|", r"\|")):
        calllog(typed)
