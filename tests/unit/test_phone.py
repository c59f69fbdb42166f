import pytest

from bot.phone import InvalidPhoneNumber, format_display, leading_number, parse


@pytest.mark.parametrize(
    ("text", "region", "e164"),
    [
        ("+1 415 555 0123", "US", "+14155550123"),
        ("(650) 555-0100", "US", "+16505550100"),
        ("650.555.0100", "US", "+16505550100"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
    ],
)
def test_parse_gives_e164_reading_national_numbers_in_the_home_country(
    text: str, region: str, e164: str
) -> None:
    assert parse(text, region) == e164


@pytest.mark.parametrize("text", ["", "hello", "101", "+1 415", "555"])
def test_parse_refuses_what_is_not_a_phone_number(text: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match="not a phone number"):
        parse(text)


def test_format_display_is_national_at_home_and_international_abroad() -> None:
    assert format_display("+16505550100", "US") == "(650) 555-0100"
    assert format_display("+442079460958", "US") == "+44 20 7946 0958"


@pytest.mark.parametrize(
    ("text", "e164", "rest"),
    [
        ("+1 415 555 0123 Running 10 min late", "+14155550123", " Running 10 min late"),
        ("+14155550123 hi", "+14155550123", " hi"),
        ("(650) 555-0100 2 pm works", "+16505550100", " 2 pm works"),
        ("6505550100", "+16505550100", ""),
        ("  6505550100 911 is not part of it", "+16505550100", " 911 is not part of it"),
    ],
)
def test_leading_number_takes_the_longest_prefix_that_is_a_number(
    text: str, e164: str, rest: str
) -> None:
    found = leading_number(text)
    assert found is not None
    assert found.e164 == e164
    assert text[found.end :] == rest


@pytest.mark.parametrize("text", ["hello +14155550123", "", "   ", "101 hi"])
def test_leading_number_is_none_without_a_number_first(text: str) -> None:
    assert leading_number(text) is None
