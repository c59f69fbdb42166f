import emoji
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.text import escape, internal_marker, mentioned_users, to_plain


@pytest.mark.parametrize(
    ("outside", "shown"),
    [
        ("<!channel> call me", "&lt;!channel&gt; call me"),
        ("<@U123> hi", "&lt;@U123&gt; hi"),
        ("<https://evil|https://bank>", "&lt;https://evil|https://bank&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("&amp; already", "&amp;amp; already"),
        ("*bold* _it_ 😀 שלום", "*bold* _it_ 😀 שלום"),
    ],
)
def test_escape_disarms_slack_control_sequences(outside: str, shown: str) -> None:
    assert escape(outside) == shown


# Shortcodes Slack turns into emoji and what a phone gets for them (DESIGN §3.7).
KNOWN = {
    "+1": "\U0001f44d",
    "-1": "\U0001f44e",
    "tada": "\U0001f389",
    "wave": "\U0001f44b",
    "heart": "\u2764\ufe0f",
    "flag-us": "\U0001f1fa\U0001f1f8",
    "skin-tone-3": "\U0001f3fc",
}
# Names no emoji has (an unknown shortcode, a custom emoji of the workspace): kept as typed.
_UNKNOWN = st.from_regex(r"[a-z][a-z0-9_'+-]{0,15}", fullmatch=True).filter(
    lambda name: (
        emoji.emojize(f":{name}:", language="alias") == f":{name}:"
        and name not in KNOWN
        and not name.startswith(("skin-tone-", "flag-"))
    )
)
_PIECE = st.one_of(
    st.text().filter(lambda t: ":" not in t).map(lambda t: (t, t)),
    st.sampled_from(sorted(KNOWN.items())).map(lambda k: (f":{k[0]}:", k[1])),
    _UNKNOWN.map(lambda name: (f":{name}:", f":{name}:")),
)


@given(st.lists(_PIECE, max_size=12))
def test_escaped_text_has_no_control_characters_left(pieces: list[tuple[str, str]]) -> None:
    """Any outside text, with `:shortcodes:` known and unknown among it: escaped, it holds
    no control character; turned back, it is the text with the known shortcodes as emoji."""
    text = "".join(typed for typed, _ in pieces)
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert to_plain(escaped) == "".join(shown for _, shown in pieces)


@pytest.mark.parametrize(
    ("slack", "phone"),
    [
        ("Tom &amp; Jerry &lt;3 &gt;_&lt;", "Tom & Jerry <3 >_<"),
        ("see <https://example.com/a?b=1&amp;c=2|the page>", "see https://example.com/a?b=1&c=2"),
        ("<https://example.com>", "https://example.com"),
        ("<http://example.com|example.com>", "example.com"),
        ("<mailto:ann@example.com|ann@example.com>", "ann@example.com"),
        ("ask <@U024BE7LH>", "ask @Bob Lee"),
        ("ask <@U0NOBODY|carol>", "ask @carol"),
        ("in <#C024BE7LR|general>", "in #general"),
        ("<!here> and <!channel>", "@here and @channel"),
        ("<!subteam^S1|@sales> ping", "@sales ping"),
        ("thanks :+1: :tada:", "thanks 👍 🎉"),
        (":wave::skin-tone-3:", "👋🏼"),
        ("go :flag-us:", "go 🇺🇸"),
        ("meet at 10:30:45 :notanemoji:", "meet at 10:30:45 :notanemoji:"),
        ("literally &lt;@U1&gt;", "literally <@U1>"),
    ],
)
def test_to_plain_turns_slack_markup_into_what_the_person_typed(slack: str, phone: str) -> None:
    assert to_plain(slack, {"U024BE7LH": "Bob Lee"}) == phone


def test_mentioned_users_lists_user_ids_only() -> None:
    assert mentioned_users("<@U1> <@U2|b> <#C1|x> <!here>") == {"U1", "U2"}


# --- replies meant for the team (DESIGN §3.8) ----------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "why"),
    [
        ("// check stock", "note"),
        (";;later", "note"),
        ("NoTe: any case", "note"),
        ("  \n\n note: after blank lines", "note"),
        ("&gt; // after a quote marker", "note"),
        ("&gt;&gt; &gt; ;; nested quotes", "note"),
        ("hey <@U0BOB> yours", "mention"),
        ("<@W0ENTERPRISE|bob> yours", "mention"),
        ("<!subteam^S0SALES|@sales> yours", "mention"),
        ("<!here>", "mention"),
        ("<!channel|channel> heads up", "mention"),
        ("<!everyone>", "mention"),
        ("Sure, 5 pm works", None),
        ("notes: not the prefix", None),
        ("a // in the middle", None),
        ("&gt; quoted text\n// a note on the next line", None),
        ("see <#C0CALLS|calls> and <https://x.example|x>", None),
        ("<!date^1700000000^{date}|Nov 14>", None),
        ("&lt;@U0BOB&gt; typed literally", None),
    ],
)
def test_internal_marker(encoded: str, why: str | None) -> None:
    assert internal_marker(encoded) == why
