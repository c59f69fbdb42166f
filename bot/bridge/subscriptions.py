"""The one webhook subscription this server needs, kept alive (DESIGN §3.7, reference §2).

`event_filters()` says what to subscribe to; `SubscriptionManager.sync()` makes RingCentral
agree: exactly one Active subscription at `PUBLIC_URL/ringcentral/webhook` with those
filters, renewed before it expires, replaced when it is gone, blacklisted or outdated, and
the database (`SubscriptionStore`, whose tokens the receiver accepts) kept in step.
`run()` repeats `sync()` until stopped; a failed round is logged and retried next round.

With several processes on one PostgreSQL database exactly one of them runs the rounds:
`Leadership` holds a session-level advisory lock (`pg_try_advisory_lock`) on a connection
of its own for as long as the process leads; the others try again every `retry` seconds,
and take over when the leader's connection (and so its lock) is gone. On SQLite (one
process) the process always leads. `sync()` itself (the CLI's `subscriptions sync`) needs
no leadership: it already tolerates another process syncing at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.clock import Clock, pause
from bot.config import Kind
from bot.ringcentral import ApiError, RingCentralClient, RingCentralError
from bot.ringcentral.models.subscriptions import SubscriptionInfo
from bot.store import SubscriptionRecord, SubscriptionStore
from bot.store.subscriptions import PENDING

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "DEFAULT_RENEW_BEFORE",
    "LEADER_LOCK_KEY",
    "OUTBOUND_SMS",
    "WEBHOOK_PATH",
    "Leadership",
    "SubscriptionManager",
    "event_filters",
    "normalise_filter",
    "webhook_address",
]

log = logging.getLogger("bot.bridge.subscriptions")

WEBHOOK_PATH = "/ringcentral/webhook"
# RingCentral's own default lifetime is about 7 days (reference §2.1); renewing with two
# days to spare leaves many rounds of `run()` to get it done through an outage.
DEFAULT_EXPIRES_IN = 7 * 24 * 3600
DEFAULT_RENEW_BEFORE = 2 * 24 * 3600
# pg_try_advisory_lock's key for "maintains the subscription" (any fixed bigint; this is
# the first 8 bytes of sha256("ringbridge.subscriptions") as a signed integer).
LEADER_LOCK_KEY = -0x5527A96E3E4B787F
LEADER_RETRY = 30.0  # seconds between a follower's attempts to take the lead

_ACCOUNT = "/restapi/v1.0/account/~"
OUTBOUND_SMS = "?type=SMS&direction=Outbound"  # appended to a mailbox's message-store
_CALL_KINDS = frozenset({"missed_call", "answered_call", "call"})
# RingCentral answers with `~` replaced by the real account id (reference §2.1).
_ACCOUNT_ID = re.compile(r"^/restapi/v1\.0/account/[^/?]+")

Progress = Callable[[str], None]


class _Say(Protocol):
    def __call__(self, line: str, level: int = logging.INFO) -> None: ...


class Reporter(Protocol):
    """The admin channel (`bot.bridge.admin.AdminDesk`): problems and their resolution."""

    async def problem(self, key: str, title: str, detail: str) -> None: ...

    async def resolved(self, key: str, detail: str) -> None: ...


# RingCentral's `disabledFilters` are kept as what it allows (DESIGN §3.10: no re-create
# loop); the subscription is made again with every filter once a day, to try them again.
DISABLED_RETRY = 24 * 3600.0


def webhook_address(public_url: object | None) -> str | None:
    """PUBLIC_URL + `/ringcentral/webhook` (a path prefix in PUBLIC_URL is kept)."""
    if public_url is None or not str(public_url):
        return None
    return str(public_url).rstrip("/") + WEBHOOK_PATH


def event_filters(
    kinds: Iterable[Kind], extension_ids: Sequence[str], senders: Sequence[str] = ()
) -> list[str]:
    """The event filters the routed `kinds` need, per watched extension (DESIGN §3.7).

    Calls come from one account-level telephony-sessions filter when several extensions
    are watched (one filter instead of one per extension), else from the extension's own.
    Pager messages arrive only as message-store changes, and so do voicemail updates such
    as a finished transcript: both need `…/message-store`. The mailboxes texts are sent
    from (`senders`) need their outbound SMS changes, which say how the texts ended and
    which texts were sent outside Slack (§3.8): asked for before the mailbox's whole
    `…/message-store` when that is watched too, so they come under the filter that names
    them.
    """
    wanted = set(kinds)
    if not wanted:
        return []
    ids = list(dict.fromkeys(extension_ids))
    if not ids:
        raise ValueError("event_filters needs at least one extension id")
    calls = bool(wanted & _CALL_KINDS)
    account_calls = calls and len(ids) > 1
    filters = [f"{_ACCOUNT}/telephony/sessions"] if account_calls else []
    for ext in ids:
        base = f"{_ACCOUNT}/extension/{ext}"
        if calls and not account_calls:
            filters.append(f"{base}/telephony/sessions")
        if "voicemail" in wanted:
            filters.append(f"{base}/voicemail")
        if "fax" in wanted:
            filters.append(f"{base}/fax?direction=Inbound")
        if "sms" in wanted:
            filters.append(f"{base}/message-store/instant?type=SMS")
        if "voicemail" in wanted or "internal_message" in wanted:
            filters.append(f"{base}/message-store")
    for ext in dict.fromkeys(senders):
        base = f"{_ACCOUNT}/extension/{ext}/message-store"
        outbound = f"{base}{OUTBOUND_SMS}"
        if base in filters:
            filters.insert(filters.index(base), outbound)
        else:
            filters.append(outbound)
    return filters


def normalise_filter(event_filter: str) -> str:
    """The filter with its account id written `~`, as we ask for it: RingCentral answers
    with real ids (reference §2.1). Extension ids are real on both sides already."""
    return _ACCOUNT_ID.sub(_ACCOUNT, event_filter, count=1)


class Leadership:
    """Whether this process is the one that maintains the subscription.

    PostgreSQL: a session-level advisory lock taken with `pg_try_advisory_lock` on a
    connection held only for this (in autocommit: no transaction stays open). The lock
    lives as long as that database session, so `check()` asks the connection before every
    round: if the connection dropped, the lock went with it and leadership is lost. The
    connection is never given back to the pool (a pooled session would keep the lock):
    `release()` unlocks and closes it. SQLite: always the leader (one process).
    """

    def __init__(
        self, engine: AsyncEngine, *, key: int = LEADER_LOCK_KEY, retry: float = LEADER_RETRY
    ) -> None:
        self._engine = engine
        self.key = key
        self.retry = retry
        self._conn: AsyncConnection | None = None
        self._shared = engine.dialect.name == "postgresql"

    def __repr__(self) -> str:
        return f"Leadership(key={self.key}, leading={self.leading})"

    @property
    def leading(self) -> bool:
        """As of the last `check()`."""
        return not self._shared or self._conn is not None

    async def check(self) -> bool:
        """True while this process leads: keep the lock if it is still held, else try to
        take it (False when another process holds it, or the database is unreachable)."""
        if not self._shared:
            return True
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                return True
            except (SQLAlchemyError, OSError) as exc:
                log.warning("lost the subscription lead: %s", type(exc).__name__)
                await self._drop()
        try:
            conn = await self._engine.connect()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("cannot reach the database to take the lead: %s", type(exc).__name__)
            return False
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
        except (SQLAlchemyError, OSError) as exc:
            log.warning("cannot take the subscription lead: %s", type(exc).__name__)
            await _discard(conn)
            return False
        if not got:
            await conn.close()  # this session holds no lock: the pool may have it back
            return False
        self._conn = conn
        log.info("this process now maintains the webhook subscription")
        return True

    async def release(self) -> None:
        """Stop leading (another process takes over at its next attempt)."""
        if self._conn is None:
            return
        with contextlib.suppress(SQLAlchemyError, OSError):
            await self._conn.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        await self._drop()
        log.info("released the subscription lead")

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _discard(conn)


async def _discard(conn: AsyncConnection) -> None:
    """Close `conn` for good: its session, and any advisory lock of it, ends."""
    with contextlib.suppress(SQLAlchemyError, DBAPIError, OSError):
        await conn.invalidate()
    with contextlib.suppress(SQLAlchemyError, DBAPIError, OSError):
        await conn.close()


class SubscriptionManager:
    """Keeps exactly one webhook subscription for this server at RingCentral."""

    def __init__(
        self,
        rc: RingCentralClient,
        store: SubscriptionStore,
        *,
        address: str | None,
        filters: Sequence[str],
        clock: Clock,
        expires_in: int = DEFAULT_EXPIRES_IN,
        renew_before: float = DEFAULT_RENEW_BEFORE,
        pending_grace: float = 120.0,
        leadership: Leadership | None = None,
        on_change: Callable[[str], None] | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        self._rc = rc
        self.reporter = reporter
        self._leadership = leadership
        # Told when this process starts leading, and when a subscription had to be made
        # (missing, blacklisted or replaced): catch-up's trigger (DESIGN §3.10).
        self.on_change = on_change
        self._store = store
        self._address = address
        self._filters = list(dict.fromkeys(filters))
        self._wanted = frozenset(normalise_filter(f) for f in self._filters)
        self._clock = clock
        self._expires_in = expires_in
        self._renew_before = renew_before
        # How long a token stored for a creation in progress shields unknown subscriptions
        # at our address: another process may have created one and not yet recorded it.
        self._pending_grace = pending_grace

    @property
    def address(self) -> str | None:
        return self._address

    @property
    def filters(self) -> list[str]:
        return list(self._filters)

    async def sync(self, progress: Progress | None = None) -> list[str]:
        """Make RingCentral and the store agree with the config; return what was done,
        one line each (also passed to `progress` as it happens, and logged).

        Raises RingCentralError when RingCentral refuses (what was done before stays done).
        """
        lines: list[str] = []

        def say(line: str, level: int = logging.INFO) -> None:
            lines.append(line)
            log.log(level, "%s", line)
            if progress is not None:
                progress(line)

        if self._address is None:
            say(
                "PUBLIC_URL is not set: no webhook subscription, so RingCentral events "
                "will not reach this server",
                logging.WARNING,
            )
            return lines
        listing = await self._rc.subscriptions.list()
        at_rc = {s.id: s for s in listing.records}
        records = {r.id: r for r in await self._store.all()}
        shielded = await self._forget_gone(records, at_rc, say)
        keep: list[SubscriptionInfo] = []
        inactive: list[str] = []  # what RingCentral stopped delivering, and why
        for sub in listing.records:
            record = records.get(sub.id)
            reason = self._fault(sub, record, shielded)
            if reason is None and record is not None:
                keep.append(sub)
            elif reason:
                await self._delete(sub.id, say, f"deleted subscription {sub.id}: {reason}")
                if record is not None and not sub.is_active:
                    inactive.append(f"{sub.id} was {reason}")
        # Several processes may each have created one: every one of them keeps the newest.
        keep.sort(key=lambda s: (s.creation_time or datetime.min.replace(tzinfo=UTC), s.id))
        for extra in keep[:-1]:
            await self._delete(extra.id, say, f"deleted duplicate subscription {extra.id}")
        if not self._filters:
            say("no notification kind is routed: no webhook subscription needed")
            return lines
        if keep and await self._keep(keep[-1], records[keep[-1].id], say):
            if not inactive:
                await self._report_resolved("subscription", "The webhook subscription is active.")
            return lines
        created = await self._create(say)
        if inactive:
            await self._report(
                "subscription",
                "RingCentral stopped delivering to the webhook subscription",
                f"Subscription {'; '.join(inactive)}: RingCentral sent nothing more to it. The "
                f"bridge deleted it and created {created.id}, and catches up on what was "
                "missed (posted marked late). If it happens again, check that PUBLIC_URL "
                "reaches this server and that it answers quickly.",
            )
        return lines

    async def _report(self, key: str, title: str, detail: str) -> None:
        if self.reporter is not None:
            await self.reporter.problem(key, title, detail)

    async def _report_resolved(self, key: str, detail: str) -> None:
        if self.reporter is not None:
            await self.reporter.resolved(key, detail)

    async def remove_webhooks(self) -> list[str]:
        """In websocket mode (DESIGN §3.11): delete at RingCentral every webhook
        subscription this bridge made (recorded in the store) that RingCentral still has,
        and forget its record; what was done, one line each. Records of subscriptions
        RingCentral no longer has are left alone (they deliver nothing)."""
        lines: list[str] = []
        records = {r.id: r for r in await self._store.all() if not r.id.startswith(PENDING)}
        if not records:
            return lines
        for sub in (await self._rc.subscriptions.list()).records:
            if sub.id in records and sub.delivery_mode.transport_type == "WebHook":
                line = f"deleted webhook subscription {sub.id}: events come over the WebSocket"
                await self._delete(sub.id, _collect(lines), line)
        return lines

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """`sync()` every `interval` seconds of the injected clock until `stop` is set,
        while this process leads (see `Leadership`); a follower asks again every
        `leadership.retry` seconds. A failed round never ends the loop: it is logged and
        tried again next round."""
        leadership = self._leadership
        leading = False
        try:
            while not stop.is_set():
                if leadership is not None and not await leadership.check():
                    leading = False
                    await self._pause(stop, leadership.retry)
                    continue
                try:
                    await self.sync()
                except RingCentralError as exc:
                    log.warning("subscription sync failed, retrying in %.0f s: %s", interval, exc)
                except Exception:
                    log.exception("subscription sync crashed, retrying in %.0f s", interval)
                if not leading:  # at start, or taking over from a process that died
                    leading = True
                    self._changed("this process leads")
                await self._pause(stop, interval)
        finally:
            if leadership is not None:
                await asyncio.shield(leadership.release())

    # -- the steps of sync() ------------------------------------------------------------

    async def _forget_gone(
        self,
        records: dict[str, SubscriptionRecord],
        at_rc: dict[str, SubscriptionInfo],
        say: _Say,
    ) -> bool:
        """Drop records RingCentral no longer has (deleted, expired, or a creation that
        never finished); True while a recent creation may still be in progress."""
        now = self._clock.now()
        shielded = False
        for record in list(records.values()):
            if record.id in at_rc:
                continue
            if record.id.startswith(PENDING):
                if now - record.created_at.timestamp() < self._pending_grace:
                    shielded = True
                    continue
            else:
                say(f"forgot subscription {record.id}: RingCentral no longer has it")
            await self._store.delete(record.id)
            del records[record.id]
        return shielded

    def _fault(
        self, sub: SubscriptionInfo, record: SubscriptionRecord | None, shielded: bool
    ) -> str | None:
        """Why `sub` must go ("" to leave it alone: not ours), or None when it may stay."""
        at_ours = sub.delivery_mode.address == self._address
        if record is None:
            if not at_ours or shielded:
                return ""  # another app's or server's (RingCentral lists all of this user+app)
            # Deliveries would carry a token no server here knows: every one refused.
            return f"at {self._address} but its verification token is not in the database"
        if not at_ours:
            return f"made by this bridge for an old address {sub.delivery_mode.address}"
        if not sub.is_active:
            # RingCentral: a blacklisted subscription stays so; delete it and create anew.
            why = sub.blacklisted_data.reason if sub.blacklisted_data else None
            return f"{sub.status}" + (f" ({why})" if why else "")
        # RingCentral moves the filters the user may not have into `disabledFilters`: asked
        # for, and kept as what it allows (no delete and re-create every round).
        asked = {normalise_filter(f) for f in sub.event_filters}
        asked |= {normalise_filter(d.filter) for d in sub.disabled_filters}
        if frozenset(asked) != self._wanted:
            return "its event filters no longer match the config"
        return None

    async def _keep(self, sub: SubscriptionInfo, record: SubscriptionRecord, say: _Say) -> bool:
        """Renew `sub` if it expires soon; False when it vanished meanwhile."""
        for disabled in sub.disabled_filters:
            say(
                f"warning: RingCentral does not deliver {disabled.filter}: "
                f"{disabled.reason or ''} {disabled.message or ''}".rstrip(),
                logging.WARNING,
            )
        await self.report_disabled(sub)
        made = (sub.creation_time or record.created_at).timestamp()
        if sub.disabled_filters and self._clock.now() - made >= DISABLED_RETRY:
            say(f"trying the disabled filters again: subscription {sub.id} is made anew")
            await self._create(say)
            await self._delete(sub.id, say, f"deleted subscription {sub.id}: replaced")
            return True
        left = _seconds_left(sub, self._clock.now())
        if left > self._renew_before:
            say(f"subscription {sub.id} is active until {_when(sub)}", logging.DEBUG)
            if (record.status, record.expires_at) != (sub.status, sub.expiration_time):
                await self._save(sub, record.verification_token, record.created_at)
            return True
        try:
            renewed = await self._rc.subscriptions.renew(sub.id)
        except ApiError as exc:
            if exc.status != 404:
                raise
            await self._store.delete(sub.id)
            say(f"forgot subscription {sub.id}: RingCentral no longer has it")
            return False
        await self._save(renewed, record.verification_token, record.created_at)
        say(f"renewed subscription {sub.id}: active until {_when(renewed)}")
        return True

    async def report_disabled(self, sub: SubscriptionInfo) -> None:
        """Tell the admin which of `sub`'s filters RingCentral disabled (or that none is
        any more); the WebSocket listener's subscription too."""
        key = "subscription:filters"
        if not sub.disabled_filters:
            await self._report_resolved(key, "RingCentral delivers every event filter asked for.")
            return
        lines = "; ".join(
            f"{d.filter} ({' '.join(p for p in (d.reason, d.message) if p) or 'no reason'})"
            for d in sub.disabled_filters
        )
        count = len(sub.disabled_filters)
        await self._report(
            key,
            f"RingCentral does not deliver {count} of the bridge's event filters",
            f"RingCentral disabled: {lines}. Those notifications are off; the others arrive "
            "as usual (the subscription is kept as RingCentral allows it, and the disabled "
            "filters are tried again once a day). Give the service user permission over "
            "those extensions (an administrator's role), or stop watching them.",
        )

    async def _create(self, say: _Say) -> SubscriptionInfo:
        assert self._address is not None
        token = secrets.token_urlsafe(32)  # 43 characters; RingCentral takes up to 64
        placeholder = PENDING + secrets.token_hex(8)
        created_at = datetime.fromtimestamp(self._clock.now(), UTC)
        # Stored first: RingCentral may deliver as soon as the handshake passes, before it
        # answers us, and every process must already accept that token.
        await self._store.save(
            SubscriptionRecord(
                id=placeholder,
                address=self._address,
                verification_token=token,
                filters=tuple(self._filters),
                expires_at=None,
                status="Pending",
                created_at=created_at,
            )
        )
        try:
            sub = await self._rc.subscriptions.create(
                self._filters,
                self._address,
                verification_token=token,
                expires_in=self._expires_in,
            )
        except Exception:
            await self._store.delete(placeholder)
            raise
        await self._save(sub, token, created_at)
        await self._store.delete(placeholder)
        say(
            f"created subscription {sub.id} at {self._address}: "
            f"{len(sub.event_filters)} event filters, active until {_when(sub)}"
        )
        self._changed(f"subscription {sub.id} created")
        await self.report_disabled(sub)
        return sub

    def _changed(self, reason: str) -> None:
        if self.on_change is not None:
            self.on_change(reason)

    async def _delete(self, subscription_id: str, say: _Say, line: str) -> None:
        try:
            await self._rc.subscriptions.delete(subscription_id)
        except ApiError as exc:
            if exc.status != 404:  # already gone is what we wanted
                raise
        await self._store.delete(subscription_id)
        say(line)

    async def _save(self, sub: SubscriptionInfo, token: str, created_at: datetime) -> None:
        await self._store.save(
            SubscriptionRecord(
                id=sub.id,
                address=sub.delivery_mode.address or self._address or "",
                verification_token=token,
                filters=tuple(sub.event_filters),
                expires_at=sub.expiration_time,
                status=sub.status,
                created_at=sub.creation_time or created_at,
            )
        )

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        await pause(self._clock, stop, seconds)


def _collect(lines: list[str]) -> _Say:
    def say(line: str, level: int = logging.INFO) -> None:
        lines.append(line)
        log.log(level, "%s", line)

    return say


def _seconds_left(sub: SubscriptionInfo, now: float) -> float:
    # RingCentral's `expiresIn` is the lifetime left when it answered (its examples: 687 s
    # left of a 900 s subscription), which no clock skew between us and it can distort.
    if sub.expires_in is not None:
        return float(sub.expires_in)
    if sub.expiration_time is not None:
        return sub.expiration_time.timestamp() - now
    return 0.0  # no expiry given: renew, which answers with one


def _when(sub: SubscriptionInfo) -> str:
    moment = sub.expiration_time
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "unknown"
