"""`JsonTokenStore`: a TokenStore over a store of plain text (the database's), so `store/`
keeps text and the TokenSet is made here."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator

import pytest

from bot.clock import FakeClock
from bot.ringcentral import JsonTokenStore, TokenSet
from tests.unit.test_rc_client import tokens


class TextStore:
    """A TokenTextStore in memory that records how it was used."""

    def __init__(self, text: str | None = None) -> None:
        self.text = text
        self.claims = 0

    def __repr__(self) -> str:
        return "TextStore()"

    async def load(self) -> str | None:
        return self.text

    async def save(self, text: str) -> None:
        self.text = text

    async def clear(self) -> None:
        self.text = None

    @contextlib.asynccontextmanager
    async def refreshing(self) -> AsyncIterator[TextClaim]:
        self.claims += 1
        yield TextClaim(self, self.text)


class TextClaim:
    def __init__(self, store: TextStore, current: str | None) -> None:
        self.store = store
        self.current = current

    async def replace(self, text: str | None) -> str | None:
        if self.store.text == self.current:
            self.store.text = text
        return self.store.text


async def test_a_token_set_round_trips_through_text(clock: FakeClock) -> None:
    texts = TextStore()
    store = JsonTokenStore(texts)
    assert await store.load() is None
    saved = tokens(clock, "at-SECRET-1", refresh="rt-SECRET-1")
    await store.save(saved)
    assert texts.text is not None
    written = json.loads(texts.text)  # the one place the secrets are written out
    assert (written["access_token"], written["refresh_token"]) == ("at-SECRET-1", "rt-SECRET-1")
    assert await store.load() == saved
    async with store.refreshing() as claim:
        assert texts.claims == 1
        assert claim.current == saved
        other = tokens(clock, "at-SECRET-2")
        texts.text = json.dumps({**json.loads(texts.text), "access_token": "at-SECRET-3"})
        elsewhere = await claim.replace(other)  # another process stored a session meanwhile
        assert elsewhere is not None
        assert elsewhere.access_token.get_secret_value() == "at-SECRET-3"
    async with store.refreshing() as claim:
        assert await claim.replace(other) == other  # unchanged since read: replaced
    assert await store.load() == other
    await store.clear()
    assert texts.text is None and await store.load() is None
    assert "SECRET" not in repr(store)


@pytest.mark.parametrize("text", ["", "{not json", '["a"]', '{"access_token": "at-SECRET-9"}'])
async def test_unreadable_text_means_logging_in_again_without_logging_it(
    text: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await JsonTokenStore(TextStore(text)).load() is None
    assert not [r for r in caplog.records if "SECRET" in r.getMessage() or r.exc_info]


async def test_the_stored_form_is_the_previous_releases() -> None:
    """Rows the previous release's database store wrote read back, and are written alike."""
    old = (
        '{"access_token":"at-1","expires_at":1700000000.0,"refresh_token":"rt-1",'
        '"refresh_expires_at":1700600000.0,"token_type":"bearer","scope":"SMS",'
        '"owner_id":"256440016","session_id":"s-1"}'
    )
    texts = TextStore(old)
    loaded = await JsonTokenStore(texts).load()
    assert loaded == TokenSet(
        access_token="at-1",
        expires_at=1700000000.0,
        refresh_token="rt-1",
        refresh_expires_at=1700600000.0,
        scope="SMS",
        owner_id="256440016",
        session_id="s-1",
    )
    await JsonTokenStore(texts).save(loaded)
    assert texts.text == old
