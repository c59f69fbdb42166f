"""Catch-up (DESIGN §3.10): what RingCentral has that its events did not bring to Slack.

RingCentral does not deliver a webhook again (it blacklists the subscription instead), so
whatever happened while the bridge was down, while the subscription was missing or
blacklisted, or in a delivery that failed, is read back from RingCentral:

- **Sources**, each with a cursor in the database (`bot.store.Cursors`): the messages of
  every watched extension (`message-sync`), and the call log (`call-log-sync` of the
  account when several extensions are watched and the service user has FullCompanyCallLog,
  else of each watched extension; missed calls only unless finished calls are routed).
  `bot.bridge._catchup_read` reads them: an ISync from the cursor's token, a full sync
  when there is none or RingCentral refuses it.
- **No history**: a source without a cursor (a first start, a newly watched extension) gets
  one set to now, and nothing is posted; a kind newly routed has its floor set to now.
  Nothing that happened before its kind's floor is ever posted by a pass; only
  `backfill()` (`python -m bot catchup --since …`) reaches further back.
- **Judged and deduplicated as live**: messages become notices as their events do; calls
  are judged per call (`bot.bridge._call_log`) and recorded in `call_state`, so a call
  judged live is not posted again and a recovered one is never judged live later; posts
  are unique on (kind, item, channel), so nothing shown is shown again. What is new is
  marked `late` ("arrived late: happened at …", `"late": true` in its metadata).
- **One transaction** per source and pass holds its posts and its cursor past them: a
  crash between reading and committing loses nothing (the next pass reads it again). Names
  and transcripts are read before it (no network inside a transaction).
- **Triggers**: `trigger()` — at start and when this process takes the lead, whenever the
  subscription was found missing, blacklisted or replaced (the subscription manager calls
  it), and from the WebSocket listener (`bot.bridge.listener`) after a recovery that did
  not cover its gap — runs a pass now and a second one `SECOND_PASS` later, for records
  RingCentral files late; after any other WebSocket reconnect, the one pass only. A
  message-store change keeps its extension's token current (`note_message_change()`):
  one ISync of that source `ADVANCE_DELAY` after the change (by then its own event has
  been handled, so a message posted then was really lost), however many changes came
  meanwhile.
- **Leader only**: passes run in the process holding the subscription's leader lock
  (`Leadership`); another process's passes are skipped.

Seams for features to come: routing reads a recovered notice's `at` (when it happened),
which is what routing by the hours of that time needs; a `late` notice is what auto reply
must never answer, and what reminders count from its post; `on_report` hears what each
pass recovered (the admin channel's "what a catch-up recovered").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.notices import CallNotice, Notice
from bot.ringcentral import ApiError, RingCentralClient, RingCentralError
from bot.ringcentral.models import CallLogRecord, MessageRecord, MessageStoreEvent, parse_event
from bot.store import CursorRecord, Cursors
from bot.store.schema import CallState, Delivery, Post
from bot.store.work import insert_ignoring_duplicates

from ._call_log import calls_from_log
from ._catchup_read import CallLogReader, MessageReader, Read, start_of_frame
from ._session import NoticeKind, SessionState
from .classify import notice_from_event, notice_from_message
from .ingest import Ingest
from .subscriptions import Leadership
from .watch import Watch

__all__ = [
    "ADVANCE_DELAY",
    "CALL_KINDS",
    "MESSAGE_KINDS",
    "SECOND_PASS",
    "Backfill",
    "Catchup",
    "PassReport",
    "SourceReport",
]

log = logging.getLogger("bot.bridge.catchup")

SECOND_PASS = 600.0  # seconds: DESIGN §3.10, a second pass 10 min after each trigger
ADVANCE_DELAY = 60.0  # seconds from a message-store change to the ISync it asks for
BACKFILL_MAX = timedelta(days=30)  # RingCentral's call-log sync reaches 30 days back
MESSAGE_KINDS = frozenset({"sms", "voicemail", "fax", "internal_message"})
# Never `answered_call`: it is only news while it happens.
CALL_KINDS = frozenset({"missed_call", "call"})
ADVANCED = "message-store changes"  # the reason of a pass that keeps tokens current
SECOND = ", second pass"
COALESCE = 60.0  # seconds: second passes due closer than this are one
_EXTENSION_IN_PATH = re.compile(r"/extension/(\d+)")
_ALL_CALL_KINDS: tuple[NoticeKind, ...] = ("answered_call", "missed_call", "call")


@dataclass(frozen=True, slots=True)
class Source:
    key: str  # the cursor's: messages:<id>, calls:account, calls:<id>
    messages: bool
    extension_id: str | None  # None: the account's call log
    kinds: frozenset[str]


@dataclass
class SourceReport:
    source: str
    started: bool = False  # it had no cursor: set to now, nothing posted
    full: bool = False  # a full sync was needed
    read: int = 0  # records RingCentral answered
    recovered: list[Notice] = field(default_factory=list)  # new, not shown before
    posts: int = 0  # posts made of them (one per channel routed)
    requests: int = 0  # RingCentral requests it took
    error: str | None = None


@dataclass
class PassReport:
    reason: str
    rc_uuid: str
    sources: list[SourceReport] = field(default_factory=list)
    skipped: bool = False  # another process leads

    @property
    def recovered(self) -> list[Notice]:
        return [n for s in self.sources for n in s.recovered]

    @property
    def posts(self) -> int:
        return sum(s.posts for s in self.sources)

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.sources)

    @property
    def errors(self) -> list[str]:
        return [f"{s.source}: {s.error}" for s in self.sources if s.error]


@dataclass(frozen=True, slots=True)
class Backfill:
    """What `backfill()` found (and, unless a dry run, stored to post): each notice with
    the channels it goes to."""

    rc_uuid: str
    items: list[tuple[Notice, list[str]]]
    posts: int
    requests: int


Progress = Callable[[str, int, int], None]  # (what, done, of)


class Catchup:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        rc: RingCentralClient,
        ingest: Ingest,
        watch: Watch,
        clock: Clock,
        leadership: Leadership | None = None,
        account_call_log: bool | None = None,
        on_posted: Callable[[], None] = lambda: None,
        on_report: Callable[[PassReport], Awaitable[None]] | None = None,
        second_pass: float = SECOND_PASS,
        advance_delay: float = ADVANCE_DELAY,
    ) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._cursors = Cursors(engine)
        self._rc = rc
        self._ingest = ingest
        self._watch = watch
        self._clock = clock
        self._leadership = leadership
        # One request for the company instead of one per extension (DESIGN §3.10); it
        # needs FullCompanyCallLog, and a refusal turns it off for this process.
        self.account_call_log = (
            len(watch.extension_ids) > 1 if account_call_log is None else account_call_log
        )
        self.on_posted = on_posted
        self.on_report = on_report
        self.second_pass = second_pass
        self.advance_delay = advance_delay
        self._due: list[tuple[float, str]] = []  # (monotonic time, why)
        self._advances: dict[str, float] = {}  # message source -> when to advance it
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def leadership(self) -> Leadership | None:
        """The subscription's leader lock this process must hold to catch up."""
        return self._leadership

    # -- what to read ------------------------------------------------------------------------

    def sources(self) -> list[Source]:
        kinds = frozenset(str(k) for k in self._watch.kinds)
        found: list[Source] = []
        message_kinds = kinds & MESSAGE_KINDS
        if message_kinds:
            found += [
                Source(f"messages:{ext}", True, ext, message_kinds)
                for ext in self._watch.extension_ids
            ]
        call_kinds = kinds & CALL_KINDS
        if call_kinds:
            if self.account_call_log:
                found.append(Source("calls:account", False, None, call_kinds))
            else:
                found += [
                    Source(f"calls:{ext}", False, ext, call_kinds)
                    for ext in self._watch.extension_ids
                ]
        return found

    # -- triggers ----------------------------------------------------------------------------

    def trigger(self, reason: str, *, second_pass: bool = True) -> None:
        """A pass now and a second one `second_pass` seconds later (run by `run()`); the
        second passes of triggers that came together are one. Without `second_pass`, the
        one pass only (after a WebSocket reconnect, DESIGN §3.10)."""
        now = self._clock.monotonic()
        later = now + self.second_pass
        self._due.append((now, reason))
        if second_pass and not any(
            abs(t - later) < COALESCE for t, r in self._due if r.endswith(SECOND)
        ):
            self._due.append((later, f"{reason}{SECOND}"))
        log.info("catch-up asked for: %s", reason)
        self._wake.set()

    def note_message_change(self, event: MessageStoreEvent) -> None:
        """A message-store change: that extension's source is read `advance_delay` later
        (its token stays current, and a message whose event was lost is found)."""
        extension = (
            event.body.extension_id
            or next(iter(_EXTENSION_IN_PATH.findall(event.event)), None)
            or event.owner_id
        )
        key = f"messages:{extension}"
        if self._leadership is not None and not self._leadership.leading:
            return  # the leading process reads RingCentral; this one only delivers
        if key not in {s.key for s in self.sources()} or key in self._advances:
            return
        self._advances[key] = self._clock.monotonic() + self.advance_delay
        self._wake.set()

    def next_due(self) -> float | None:
        """When (monotonic) the next pass or advance is due; None when none is."""
        times = [t for t, _ in self._due] + list(self._advances.values())
        return min(times) if times else None

    async def run(self, stop: asyncio.Event, *, lead: bool = False) -> None:
        """Run the passes as they come due, until `stop`. With `lead` (no subscription
        manager runs in this process to take the lead and trigger), it takes the lead
        itself and triggers the first pass."""
        try:
            if lead:
                await self._take_lead(stop)
            while not stop.is_set():
                try:
                    await self.run_due()
                except Exception:  # one failed pass must not end catch-up for good
                    log.exception("catch-up pass crashed")
                self._wake.clear()
                due = self.next_due()
                await self._wait(stop, None if due is None else due - self._clock.monotonic())
        finally:
            if lead and self._leadership is not None:
                await asyncio.shield(self._leadership.release())

    async def _take_lead(self, stop: asyncio.Event) -> None:
        leadership = self._leadership
        while not stop.is_set():
            if leadership is None or await leadership.check():
                self.trigger("start")
                return
            await self._wait(stop, leadership.retry)

    async def _wait(self, stop: asyncio.Event, seconds: float | None) -> None:
        waits: list[asyncio.Future[object]] = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._wake.wait()),
        ]
        if seconds is not None:
            waits.append(asyncio.ensure_future(self._clock.sleep(max(0.0, seconds))))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def run_due(self) -> list[PassReport]:
        """Every pass (and token advance) due by now, as one pass."""
        now = self._clock.monotonic()
        reasons = list(dict.fromkeys(r for t, r in self._due if t <= now))
        self._due = [(t, r) for t, r in self._due if t > now]
        advances = {key for key, t in self._advances.items() if t <= now}
        for key in advances:
            del self._advances[key]
        if reasons:
            return [await self.catch_up("; ".join(reasons))]
        if advances:
            return [await self.catch_up(ADVANCED, only=advances)]
        return []

    # -- a pass ------------------------------------------------------------------------------

    async def catch_up(self, reason: str, *, only: Iterable[str] | None = None) -> PassReport:
        """One pass over every source (or those of `only`), if this process leads."""
        report = PassReport(reason, f"catchup:{uuid.uuid4().hex[:16]}")
        if self._leadership is not None and not self._leadership.leading:
            log.info("catch-up (%s) skipped: another process maintains the subscription", reason)
            report.skipped = True
            return report
        wanted = set(only) if only is not None else None
        async with self._lock:
            for source in self._sources_to_read(wanted):
                report.sources.append(await self._pass_one(source, report.rc_uuid))
            if self._fell_back(report):  # the company call log was refused: each extension's
                for source in self._sources_to_read(wanted, calls_only=True):
                    report.sources.append(await self._pass_one(source, report.rc_uuid))
        self._log(report)
        if report.posts:
            self.on_posted()
        if self.on_report is not None:
            await self.on_report(report)
        return report

    def _sources_to_read(self, only: set[str] | None, *, calls_only: bool = False) -> list[Source]:
        return [
            s
            for s in self.sources()
            if (only is None or s.key in only) and not (calls_only and s.messages)
        ]

    def _fell_back(self, report: PassReport) -> bool:
        return any(s.source == "calls:account" and s.error == "refused" for s in report.sources)

    async def _pass_one(self, source: Source, rc_uuid: str) -> SourceReport:
        report = SourceReport(source.key)
        try:
            await self._read_source(source, rc_uuid, report)
        except ApiError as exc:
            if source.extension_id is None and exc.status == 403 and self.account_call_log:
                log.warning(
                    "the company call log is refused (%s): reading each watched extension's "
                    "instead (the service user lacks FullCompanyCallLog)",
                    exc.error_code,
                )
                self.account_call_log = False
                report.error = "refused"
            else:
                log.warning("catch-up of %s failed: %s", source.key, exc)
                report.error = exc.error_code
        except RingCentralError as exc:
            log.warning("catch-up of %s failed: %s", source.key, exc)
            report.error = type(exc).__name__
        return report

    async def _read_source(self, source: Source, rc_uuid: str, report: SourceReport) -> None:
        now = self._now()
        cursor = await self._cursors.get(source.key)
        reader = self._reader(source)
        if cursor is None:
            started: Read[MessageRecord] | Read[CallLogRecord] = await reader.start(now)
            floors = dict.fromkeys(source.kinds, now)
            record = CursorRecord(source.key, started.token, started.frame, now, floors)
            await self._cursors.save(record, now=now)
            report.started, report.requests = True, started.requests
            log.info("catch-up of %s starts now: nothing before is posted", source.key)
            return
        floors = {kind: cursor.floors.get(kind, now) for kind in source.kinds}
        date_from = start_of_frame(cursor.synced_at, now, min(floors.values()))
        read = await reader.read(cursor.token, cursor.frame, date_from)
        report.full, report.read, report.requests = read.full, len(read.records), read.requests
        notices = [n for n in self._notices(source, read.records) if n.at >= floors[n.kind]]
        recovered = await self._prepare(await self._unposted(notices))
        after = CursorRecord(source.key, read.token, read.frame, now, floors)
        report.posts = await self._commit(recovered, rc_uuid, now, after)
        report.recovered = recovered

    def _reader(self, source: Source) -> MessageReader | CallLogReader:
        if source.messages:
            assert source.extension_id is not None
            return MessageReader(self._rc, source.extension_id)
        # Finished calls need the whole log; missed calls alone, only the missed ones.
        return CallLogReader(
            self._rc, source.extension_id, "All" if "call" in source.kinds else "Missed"
        )

    def _notices(
        self, source: Source, records: Sequence[MessageRecord | CallLogRecord]
    ) -> list[Notice]:
        if not source.messages:
            logged = [r for r in records if isinstance(r, CallLogRecord)]
            return list(
                calls_from_log(
                    logged,
                    watched=self._watch.watched,
                    kinds=source.kinds,
                    extension_id=source.extension_id,
                )
            )
        found: dict[tuple[str, str], Notice] = {}
        for record in records:
            if not isinstance(record, MessageRecord) or record.availability not in (None, "Alive"):
                continue
            notice = notice_from_message(record)
            if notice is None or notice.kind not in source.kinds:
                continue
            if notice.extension_id is None:  # a message-sync record need not say whose
                notice = dataclasses.replace(notice, extension_id=source.extension_id)
            found[(notice.kind, notice.item)] = notice
        return sorted(found.values(), key=lambda n: n.at)

    async def _unposted(self, notices: list[Notice]) -> list[Notice]:
        """Those not shown yet: no post of theirs, no live event of theirs in the inbox
        waiting to be dispatched, and (calls) no call judged live."""
        if not notices:
            return []
        items = sorted({n.item for n in notices})
        sessions = sorted({n.session_id for n in notices if isinstance(n, CallNotice)})
        posted: set[tuple[str, str]] = set()
        judged: set[str] = set()
        async with self._sessions() as session:
            posted |= await _in_the_inbox(session)
            for chunk in _chunks(items):
                rows = await session.execute(
                    select(Post.kind, Post.item).where(Post.item.in_(chunk))
                )
                posted.update((kind, item) for kind, item in rows)
            for chunk in _chunks(sessions):
                judged.update(
                    await session.scalars(
                        select(CallState.session_id).where(CallState.session_id.in_(chunk))
                    )
                )
        return [
            n
            for n in notices
            if (n.kind, n.item) not in posted
            and not (isinstance(n, CallNotice) and n.session_id in judged)
        ]

    async def _prepare(self, notices: list[Notice]) -> list[Notice]:
        """Transcripts and names read as a live notice's are, then marked late."""
        prepared: list[Notice] = []
        for notice in notices:
            complete = await self._ingest.complete(notice)
            prepared.append(dataclasses.replace(complete, late=True))
        return prepared

    async def _commit(
        self, notices: list[Notice], rc_uuid: str, now: datetime, cursor: CursorRecord | None
    ) -> int:
        """The posts of `notices` and the cursor past them, in one transaction."""
        made = 0
        async with self._sessions.begin() as session:
            judged: set[str] = set()
            for notice in sorted(notices, key=lambda n: n.at):
                if isinstance(notice, CallNotice) and notice.session_id not in judged:
                    # Judged here for good: a late event of it changes nothing (calls.apply
                    # sends no kind twice), and the next pass skips it.
                    new = await insert_ignoring_duplicates(
                        session, CallState, _judged_call(notice, now)
                    )
                    if not new:
                        continue  # judged live meanwhile
                    judged.add(notice.session_id)
                made += await self._ingest.add_posts(session, rc_uuid, notice, now)
            if cursor is not None:
                await Cursors.write(session, cursor, now=now)
        return made

    def _log(self, report: PassReport) -> None:
        started = [s.source for s in report.sources if s.started]
        quiet = not (report.recovered or report.errors or started)
        log.log(
            logging.DEBUG if quiet and report.reason == ADVANCED else logging.INFO,
            "catch-up (%s): %d sources, %d recovered, %d posts, %d RingCentral requests%s%s",
            report.reason,
            len(report.sources),
            len(report.recovered),
            report.posts,
            report.requests,
            f"; started {', '.join(started)}" if started else "",
            f"; failed {'; '.join(report.errors)}" if report.errors else "",
        )
        for notice in report.recovered:
            log.warning(
                "catch-up recovered %s %s (happened %s)", notice.kind, notice.item, notice.at
            )

    # -- backfill (`python -m bot catchup --since`) ------------------------------------------

    async def backfill(
        self, since: datetime, *, dry_run: bool = False, progress: Progress | None = None
    ) -> Backfill:
        """Everything since `since` (at most 30 days back) that Slack was not shown: stored
        to be posted (marked late), or with `dry_run` only listed. Cursors are left as they
        are: a server's passes go on from where they were."""
        now = self._now()
        since = max(since, now - BACKFILL_MAX)
        rc_uuid = f"catchup:{uuid.uuid4().hex[:16]}"
        items: list[tuple[Notice, list[str]]] = []
        posts = requests = 0
        sources = self.sources()
        done = 0
        while done < len(sources):
            source = sources[done]
            if progress is not None:
                progress(f"reading {source.key}", done, len(sources))
            try:
                read = await self._reader(source).full(since)
            except ApiError as exc:
                if source.extension_id is None and exc.status == 403 and self.account_call_log:
                    self.account_call_log = False  # each watched extension's log instead
                    sources[done : done + 1] = [s for s in self.sources() if not s.messages]
                    continue
                raise
            requests += read.requests
            notices = [n for n in self._notices(source, read.records) if n.at >= since]
            fresh = await self._unposted(notices)
            routed = [(n, self._ingest.router.channels(n)) for n in fresh]
            routed = [(n, channels) for n, channels in routed if channels]
            if not dry_run:
                prepared = await self._prepare([n for n, _ in routed])
                posts += await self._commit(prepared, rc_uuid, now, None)
                routed = list(zip(prepared, [c for _, c in routed], strict=True))
            items += routed
            done += 1
        if progress is not None:
            progress("read", len(sources), len(sources))
        if posts:
            self.on_posted()
        return Backfill(rc_uuid, sorted(items, key=lambda i: i[0].at), posts, requests)

    async def progress_of(self, rc_uuid: str) -> tuple[int, int]:
        """(posts finished — done or dead —, posts) stored under `rc_uuid`."""
        async with self._sessions() as session:
            states = list(await session.scalars(select(Post.state).where(Post.rc_uuid == rc_uuid)))
        return sum(1 for s in states if s in ("done", "dead")), len(states)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)


# How many of the inbox's waiting deliveries a pass looks through (the newest): under a
# backlog larger than this, a message may be posted by both paths' race as late.
INBOX_LOOK = 1000


async def _in_the_inbox(session: AsyncSession) -> set[tuple[str, str]]:
    """(kind, item) of the texts, voicemails and faxes whose live event reached the bridge
    and waits in the inbox: the live path posts them. A pass that took them first would
    post them marked late although they were not (under load the dispatcher may be a few
    seconds behind a pass that reads the message store)."""
    bodies = await session.scalars(
        select(Delivery.body)
        .where(Delivery.state == "pending")
        .order_by(Delivery.id.desc())
        .limit(INBOX_LOOK)
    )
    found: set[tuple[str, str]] = set()
    for body in bodies:
        try:
            notice = notice_from_event(parse_event(body))
        except (ValidationError, ValueError):  # not for us to judge: the dispatcher does
            continue
        if notice is not None:
            found.add((notice.kind, notice.item))
    return found


def _chunks(values: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    """Bound the parameters of one query (a full sync may answer thousands of records)."""
    return (values[i : i + size] for i in range(0, len(values), size))


def _judged_call(notice: CallNotice, now: datetime) -> dict[str, object]:
    state = SessionState(
        session_id=notice.session_id,
        first_event_at=notice.at,
        last_event_at=notice.at,
        updated_at=now,
        emitted=_ALL_CALL_KINDS,
        expired_at=now,
    )
    return {
        "session_id": notice.session_id,
        "state": state.model_dump_json(),
        "updated_at": now,
        "open": False,
    }
