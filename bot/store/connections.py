"""Personal RingCentral connections in the database (DESIGN §3.9, §4), kept as plain data:

- `Sealer`: RINGBRIDGE_SECRET_KEY's keys (Fernet; a list rotates: the first encrypts, all
  decrypt — `cryptography`'s MultiFernet). Everything secret a person's connection keeps
  (their session's tokens, a PKCE verifier) is written sealed; the database file never
  holds them in clear.
- `SealedTextStore`: a `TokenTextStore` (the shape of `DatabaseTokenStore`) whose text is
  sealed at rest. Its compare-and-set compares the sealed text read under the claim, so
  the shared-token machinery (single flight across processes) works unchanged. A text no
  key opens reads as no session: the person is then disconnected, never a crash.
- `ConnectStates`: authorize requests in flight: the `state` kept as its SHA-256, bound to
  a Slack person and team, usable once before it expires (one `UPDATE … RETURNING`).
- `Connections`: who is connected as which extension, held, or disconnected.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import insert as upsert
from bot.store.schema import ConnectState, PersonalConnection

__all__ = [
    "ConnectStates",
    "Connection",
    "ConnectionState",
    "Connections",
    "SealedTextStore",
    "Sealer",
    "StateCheck",
    "person_identity",
]

log = logging.getLogger("bot.store.connections")

ConnectionState = Literal["connected", "held", "disconnected"]


def person_identity(team_id: str, user_id: str) -> str:
    """The key of a person's session in `tokens` and of their rate limits and penalties."""
    return f"person:{team_id}:{user_id}"[:64]


def _wall(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Sealer:
    """Encrypts with the first key, decrypts with any (MultiFernet).

    `cryptography` is imported by the first Sealer made: a server without
    RINGBRIDGE_SECRET_KEY makes none, and its bindings (Rust and OpenSSL's) are several MB
    of resident memory it would never use."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        from cryptography.fernet import Fernet, MultiFernet

        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def __repr__(self) -> str:
        return "Sealer()"

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def open(self, sealed: str) -> str | None:
        """The clear text, or None when no key opens it (a key removed from the list)."""
        from cryptography.fernet import InvalidToken  # loaded by __init__ already

        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            return None


class _TextClaim(Protocol):
    @property
    def current(self) -> str | None: ...

    async def replace(self, text: str | None) -> str | None: ...


class _TextStore(Protocol):
    async def load(self) -> str | None: ...

    async def save(self, text: str) -> None: ...

    async def clear(self) -> None: ...

    def refreshing(self) -> AbstractAsyncContextManager[_TextClaim]: ...


class SealedTextStore:
    """A text store whose text is sealed at rest; see the module docstring."""

    def __init__(self, inner: _TextStore, sealer: Sealer) -> None:
        self._inner = inner
        self._sealer = sealer
        self.unreadable = False  # the last read found text no key opens

    def __repr__(self) -> str:
        return f"SealedTextStore({self._inner!r})"

    def _open(self, sealed: str | None) -> str | None:
        if not sealed:
            return None
        text = self._sealer.open(sealed)
        self.unreadable = text is None
        if text is None:
            log.warning("a stored personal session no key opens; it counts as ended")
        return text

    async def load(self) -> str | None:
        return self._open(await self._inner.load())

    async def save(self, text: str) -> None:
        await self._inner.save(self._sealer.seal(text))

    async def clear(self) -> None:
        await self._inner.clear()

    @asynccontextmanager
    async def _refreshing(self) -> AsyncIterator[_SealedClaim]:
        async with self._inner.refreshing() as claim:
            yield _SealedClaim(self, claim)

    def refreshing(self) -> AbstractAsyncContextManager[_SealedClaim]:
        return self._refreshing()


class _SealedClaim:
    def __init__(self, store: SealedTextStore, inner: _TextClaim) -> None:
        self._store = store
        self._inner = inner
        self._current = store._open(inner.current)

    @property
    def current(self) -> str | None:
        return self._current

    async def replace(self, text: str | None) -> str | None:
        sealed = self._store._sealer.seal(text) if text is not None else None
        return self._store._open(await self._inner.replace(sealed))


@dataclass(frozen=True, slots=True)
class StateCheck:
    """What a `state` coming back from RingCentral turned out to be."""

    outcome: Literal["ok", "unknown", "used", "expired"]
    team_id: str = ""
    user_id: str = ""
    verifier: str = ""


class ConnectStates:
    """Authorize requests in flight; see the module docstring."""

    def __init__(self, engine: AsyncEngine, sealer: Sealer) -> None:
        self._engine = engine
        self._sealer = sealer

    def __repr__(self) -> str:
        return "ConnectStates()"

    @staticmethod
    def _hash(state: str) -> str:
        return hashlib.sha256(state.encode()).hexdigest()

    async def add(
        self, state: str, team_id: str, user_id: str, verifier: str, *, now: float, ttl: float
    ) -> None:
        async with self._engine.begin() as conn:
            # Spent and expired requests are of no further use: the table stays small.
            await conn.execute(delete(ConnectState).where(ConnectState.expires_at < _wall(now)))
            await conn.execute(
                insert(ConnectState).values(
                    state_hash=self._hash(state),
                    team_id=team_id,
                    user_id=user_id,
                    verifier=self._sealer.seal(verifier),
                    expires_at=_wall(now + ttl),
                    used_at=None,
                )
            )

    async def take(self, state: str, *, now: float) -> StateCheck:
        """Use `state` once: "ok" with its person and verifier, else why not."""
        key = self._hash(state)
        statement = (
            update(ConnectState)
            .where(
                ConnectState.state_hash == key,
                ConnectState.used_at.is_(None),
                ConnectState.expires_at > _wall(now),
            )
            .values(used_at=_wall(now))
            .returning(ConnectState.team_id, ConnectState.user_id, ConnectState.verifier)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(statement)).one_or_none()
            if row is None:
                found = (
                    await conn.execute(
                        select(ConnectState.used_at).where(ConnectState.state_hash == key)
                    )
                ).one_or_none()
        if row is not None:
            verifier = self._sealer.open(row.verifier)
            if verifier is None:  # sealed with a key since removed: as good as expired
                return StateCheck("expired")
            return StateCheck("ok", row.team_id, row.user_id, verifier)
        if found is None:
            return StateCheck("unknown")
        return StateCheck("used" if found.used_at is not None else "expired")


@dataclass(frozen=True, slots=True)
class Connection:
    team_id: str
    user_id: str
    state: ConnectionState
    extension_id: str
    extension_number: str | None
    extension_name: str
    ringout_from: str | None = None
    reason: str | None = None
    told: bool = False


class Connections:
    """Who is connected as which extension; see the module docstring."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def __repr__(self) -> str:
        return "Connections()"

    async def get(self, team_id: str, user_id: str) -> Connection | None:
        query = select(PersonalConnection).where(
            PersonalConnection.team_id == team_id, PersonalConnection.user_id == user_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        return _connection(row) if row is not None else None

    async def of_user(self, user_id: str) -> list[Connection]:
        """Every team's connection of a Slack user id (`user_change` names no team)."""
        query = select(PersonalConnection).where(PersonalConnection.user_id == user_id)
        async with self._engine.connect() as conn:
            return [_connection(r) for r in (await conn.execute(query)).all()]

    async def all(self, state: ConnectionState | None = None) -> list[Connection]:
        query = select(PersonalConnection)
        if state is not None:
            query = query.where(PersonalConnection.state == state)
        async with self._engine.connect() as conn:
            return [_connection(r) for r in (await conn.execute(query)).all()]

    async def put(self, connection: Connection, *, now: float) -> None:
        values = {
            "team_id": connection.team_id,
            "user_id": connection.user_id,
            "state": connection.state,
            "extension_id": connection.extension_id,
            "extension_number": connection.extension_number,
            "extension_name": connection.extension_name[:128],
            "ringout_from": connection.ringout_from,
            "reason": connection.reason,
            "told_at": None,
            "updated_at": _wall(now),
        }
        statement = upsert(self._engine.dialect.name, PersonalConnection).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[PersonalConnection.team_id, PersonalConnection.user_id],
            set_={k: statement.excluded[k] for k in values if k not in ("team_id", "user_id")},
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    async def set_state(
        self,
        team_id: str,
        user_id: str,
        state: ConnectionState,
        *,
        now: float,
        reason: str | None = None,
        expect: ConnectionState | None = None,
    ) -> bool:
        """Change the state (only from `expect` when given); whether a row changed."""
        statement = (
            update(PersonalConnection)
            .where(PersonalConnection.team_id == team_id, PersonalConnection.user_id == user_id)
            .values(state=state, reason=reason, updated_at=_wall(now))
        )
        if expect is not None:
            statement = statement.where(PersonalConnection.state == expect)
        async with self._engine.begin() as conn:
            return bool((await conn.execute(statement)).rowcount)

    async def set_ringout_from(self, team_id: str, user_id: str, number: str | None) -> bool:
        statement = (
            update(PersonalConnection)
            .where(PersonalConnection.team_id == team_id, PersonalConnection.user_id == user_id)
            .values(ringout_from=number)
        )
        async with self._engine.begin() as conn:
            return bool((await conn.execute(statement)).rowcount)

    async def mark_told(self, team_id: str, user_id: str, *, now: float) -> bool:
        """Claim the one telling of a disconnection: True for the first caller only, in
        any process."""
        statement = (
            update(PersonalConnection)
            .where(
                PersonalConnection.team_id == team_id,
                PersonalConnection.user_id == user_id,
                PersonalConnection.state == "disconnected",
                PersonalConnection.told_at.is_(None),
            )
            .values(told_at=_wall(now))
        )
        async with self._engine.begin() as conn:
            return bool((await conn.execute(statement)).rowcount)

    async def remove(self, team_id: str, user_id: str) -> None:
        statement = delete(PersonalConnection).where(
            PersonalConnection.team_id == team_id, PersonalConnection.user_id == user_id
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)


def _connection(row: Row[Any]) -> Connection:
    r = row._mapping
    return Connection(
        team_id=r["team_id"],
        user_id=r["user_id"],
        state=r["state"],
        extension_id=r["extension_id"],
        extension_number=r["extension_number"],
        extension_name=r["extension_name"],
        ringout_from=r["ringout_from"],
        reason=r["reason"],
        told=r["told_at"] is not None,
    )
