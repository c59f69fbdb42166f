"""A RingCentral session (`TokenSet`) and where it is kept between requests and restarts.

`TokenStore` is what the token manager asks for. A store that only keeps text — the
database's `tokens` row (`bot.store.DatabaseTokenStore`), which knows nothing of RingCentral
— is a `TokenTextStore`, and `JsonTokenStore` makes a TokenStore of it: the TokenSet goes in
and out as JSON here, in `ringcentral/`, so `store/` keeps plain data (DESIGN §2). That JSON
is the one place the secret values are written out; nothing here logs them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from .models._base import Id

__all__ = [
    "JsonTokenStore",
    "MemoryTokenStore",
    "Refresh",
    "TextRefresh",
    "TokenSet",
    "TokenStore",
    "TokenTextStore",
]

log = logging.getLogger("bot.ringcentral.tokens")


class TokenSet(BaseModel):
    """One RingCentral session. Times are wall-clock seconds since the epoch.

    `repr`, `str` and `model_dump(mode="json")` mask both tokens; a store that must keep
    them calls `get_secret_value()` explicitly.
    """

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    expires_at: float
    refresh_token: SecretStr | None = None
    refresh_expires_at: float | None = None
    token_type: str = "bearer"  # noqa: S105 - the scheme name
    scope: str = ""
    owner_id: Id | None = None
    session_id: Id | None = None

    @classmethod
    def from_response(cls, data: Mapping[str, Any], now: float) -> TokenSet:
        """Build from a `TokenInfo` body (reference §1.2); `expires_in` is relative."""
        refresh_in = data.get("refresh_token_expires_in")
        return cls(
            access_token=data["access_token"],
            expires_at=now + float(data["expires_in"]),
            refresh_token=data.get("refresh_token"),
            refresh_expires_at=now + float(refresh_in) if refresh_in is not None else None,
            token_type=data.get("token_type") or "bearer",
            scope=data.get("scope") or "",
            owner_id=data.get("owner_id"),
            session_id=data.get("session_id"),
        )

    def access_fresh(self, now: float, margin: float) -> bool:
        return now < self.expires_at - margin

    def refresh_usable(self, now: float, margin: float) -> bool:
        if self.refresh_token is None:
            return False
        return self.refresh_expires_at is None or now < self.refresh_expires_at - margin


class Refresh(Protocol):
    """The right to renew one identity's session, held by one task at a time (across
    processes for a shared store): what was stored when it was taken, and a
    compare-and-set to put the renewed session in its place."""

    @property
    def current(self) -> TokenSet | None:
        """The session stored when the claim was taken (read after taking it)."""

    async def replace(self, tokens: TokenSet | None) -> TokenSet | None:
        """Store `tokens` (None: forget the session) if the stored session is still
        `current`; what is stored afterwards (another's session when it changed)."""


class TokenStore(Protocol):
    """Where a TokenSet lives between requests and restarts.

    `refreshing()` is held around every token request (after the manager's in-process
    lock): it waits until no other task or process is renewing this identity's session,
    then claims that right and reads the session again ("re-read after lock", RELIABILITY
    §3), so a session another process just rotated is used, not refreshed again. No store
    may hold a database transaction across it: the token request goes over the network
    between the claim and `Refresh.replace`.
    """

    async def load(self) -> TokenSet | None: ...

    async def save(self, tokens: TokenSet) -> None: ...

    async def clear(self) -> None: ...

    def refreshing(self) -> AbstractAsyncContextManager[Refresh]: ...


class TextRefresh(Protocol):
    """`Refresh` over the session as text."""

    @property
    def current(self) -> str | None: ...

    async def replace(self, text: str | None) -> str | None: ...


class TokenTextStore(Protocol):
    """A TokenStore's shape over plain text (the session as `token_json` wrote it), with
    the same `refreshing()` contract."""

    async def load(self) -> str | None: ...

    async def save(self, text: str) -> None: ...

    async def clear(self) -> None: ...

    def refreshing(self) -> AbstractAsyncContextManager[TextRefresh]: ...


class MemoryTokenStore:
    """One process's tokens, gone at exit. Its claim is an asyncio lock (two managers
    may share one store)."""

    def __init__(self, tokens: TokenSet | None = None) -> None:
        self._tokens = tokens
        self._claim = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MemoryTokenStore(has_tokens={self._tokens is not None})"

    async def load(self) -> TokenSet | None:
        return self._tokens

    async def save(self, tokens: TokenSet) -> None:
        self._tokens = tokens

    async def clear(self) -> None:
        self._tokens = None

    @asynccontextmanager
    async def refreshing(self) -> AsyncIterator[Refresh]:
        async with self._claim:
            yield _MemoryRefresh(self, self._tokens)


class _MemoryRefresh:
    def __init__(self, store: MemoryTokenStore, current: TokenSet | None) -> None:
        self._store = store
        self._current = current

    @property
    def current(self) -> TokenSet | None:
        return self._current

    async def replace(self, tokens: TokenSet | None) -> TokenSet | None:
        if await self._store.load() is self._current:
            if tokens is None:
                await self._store.clear()
            else:
                await self._store.save(tokens)
        return await self._store.load()


class JsonTokenStore:
    """A TokenStore over a TokenTextStore: TokenSets kept as `token_json` text."""

    def __init__(self, texts: TokenTextStore) -> None:
        self.texts = texts

    def __repr__(self) -> str:
        return f"JsonTokenStore({self.texts!r})"

    async def load(self) -> TokenSet | None:
        text = await self.texts.load()
        return token_from_json(text) if text else None

    async def save(self, tokens: TokenSet) -> None:
        await self.texts.save(token_json(tokens))

    async def clear(self) -> None:
        await self.texts.clear()

    @asynccontextmanager
    async def refreshing(self) -> AsyncIterator[Refresh]:
        async with self.texts.refreshing() as claim:
            yield _JsonRefresh(claim)


class _JsonRefresh:
    def __init__(self, texts: TextRefresh) -> None:
        self._texts = texts
        self._current = token_from_json(texts.current) if texts.current else None

    @property
    def current(self) -> TokenSet | None:
        return self._current

    async def replace(self, tokens: TokenSet | None) -> TokenSet | None:
        stored = await self._texts.replace(token_json(tokens) if tokens is not None else None)
        return token_from_json(stored) if stored else None


def token_json(tokens: TokenSet) -> str:
    """The TokenSet as JSON, secrets included (the only place they are written out)."""
    data: dict[str, Any] = tokens.model_dump(mode="json")  # secrets masked here …
    data["access_token"] = tokens.access_token.get_secret_value()  # … and written out here
    refresh = tokens.refresh_token
    data["refresh_token"] = refresh.get_secret_value() if refresh is not None else None
    return json.dumps(data, separators=(",", ":"))


def token_from_json(text: str) -> TokenSet | None:
    """The TokenSet stored as `text`; None (logged, without content) when unreadable."""
    try:
        return TokenSet.model_validate(json.loads(text))
    except (ValueError, TypeError, ValidationError):
        # Never `exc_info`: the error would quote the stored tokens.
        log.warning("stored RingCentral tokens are unreadable; logging in again")
        return None
