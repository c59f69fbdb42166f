"""A RingCentral session (`TokenSet`) and where it is kept between requests and restarts.

`TokenStore` is what the token manager asks for. A store that only keeps text — the
database's `tokens` row (`bot.store.DatabaseTokenStore`), which knows nothing of RingCentral
— is a `TokenTextStore`, and `JsonTokenStore` makes a TokenStore of it: the TokenSet goes in
and out as JSON here, in `ringcentral/`, so `store/` keeps plain data (DESIGN §2). That JSON
is the one place the secret values are written out; nothing here logs them.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from .models._base import Id

__all__ = [
    "JsonTokenStore",
    "MemoryTokenStore",
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


class TokenStore(Protocol):
    """Where a TokenSet lives between requests and restarts.

    `lock()` is held around every token request, after the in-process lock. A store
    shared by several processes (the database store, DESIGN §4 `tokens`) takes its row
    lock there (`SELECT … FOR UPDATE`, or `pg_advisory_xact_lock`) and keeps `load()` and
    `save()` inside that transaction; the manager always calls `load()` again after
    taking the lock, so a token another process just rotated is used, not refreshed again
    (RELIABILITY §3, "re-read after lock").
    """

    async def load(self) -> TokenSet | None: ...

    async def save(self, tokens: TokenSet) -> None: ...

    async def clear(self) -> None: ...

    def lock(self) -> AbstractAsyncContextManager[None]: ...


class TokenTextStore(Protocol):
    """A TokenStore's shape over plain text (the session as `token_json` wrote it), with
    the same `lock()` contract."""

    async def load(self) -> str | None: ...

    async def save(self, text: str) -> None: ...

    async def clear(self) -> None: ...

    def lock(self) -> AbstractAsyncContextManager[None]: ...


class MemoryTokenStore:
    """One process's tokens, gone at exit; the asyncio lock in the manager is enough."""

    def __init__(self, tokens: TokenSet | None = None) -> None:
        self._tokens = tokens

    def __repr__(self) -> str:
        return f"MemoryTokenStore(has_tokens={self._tokens is not None})"

    async def load(self) -> TokenSet | None:
        return self._tokens

    async def save(self, tokens: TokenSet) -> None:
        self._tokens = tokens

    async def clear(self) -> None:
        self._tokens = None

    def lock(self) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()


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

    def lock(self) -> AbstractAsyncContextManager[None]:
        return self.texts.lock()


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
