"""Reading one RingCentral source for catch-up (DESIGN §3.10): a watched extension's
messages (`message-sync`), or the call log (`call-log-sync`, of the account or of one
extension).

Each reader goes on from a cursor's token with an incremental sync (one request in the
steady state). Without a token, when RingCentral refuses it (`MSG-333`, `CLG-10x`), or when a
call-log ISync comes back full (250 records: more may exist that it did not answer), it
syncs in full from `date_from` = max(the last sync - OVERLAP, now - MAX_BACK, the source's
floor), `RECORD_LIMIT` records a page, going backwards while older records exist (messages:
`olderRecordsExist`, asking again up to the oldest one's time; the call log: a full page,
read on through the call-log list, which takes a `dateTo`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

from bot.ringcentral import ApiError, RingCentralClient
from bot.ringcentral.models import CallLogRecord, MessageRecord
from bot.ringcentral.resources import RECORD_LIMIT, needs_full_sync

log = logging.getLogger("bot.bridge.catchup")

# A message created just before the last sync may be filed after it; the clocks of
# RingCentral and of this server differ a little. Five minutes covers both.
OVERLAP = timedelta(minutes=5)
# DESIGN §3.10: a full sync goes back at most a week (the call log keeps 30 days of sync).
MAX_BACK = timedelta(days=7)
MAX_PAGES = 40  # 10,000 records a source a pass: beyond it, the rest waits for the next pass
MESSAGE_FRAME = "messages/v1"  # every type and direction: kinds are chosen here, not there

StatusGroup = Literal["Missed", "All"]
R = TypeVar("R", MessageRecord, CallLogRecord)


@dataclass(frozen=True, slots=True)
class Read(Generic[R]):
    """What one sync of a source found: its records, the token to go on from, the frame the
    token belongs to, whether a full sync was needed, and how many requests it took."""

    records: tuple[R, ...]
    token: str | None
    frame: str
    full: bool
    requests: int


def start_of_frame(since: datetime, now: datetime, floor: datetime) -> datetime:
    """Where a full sync begins: never before the floor, never more than MAX_BACK ago."""
    return max(since - OVERLAP, now - MAX_BACK, floor)


class MessageReader:
    """`…/extension/{id}/message-sync` of one watched extension."""

    def __init__(self, rc: RingCentralClient, extension_id: str) -> None:
        self._sync = rc.message_sync.for_extension(extension_id)
        self.extension_id = extension_id

    async def start(self, now: datetime) -> Read[MessageRecord]:
        """A token for the frame that opens now, and no record: history is not news."""
        answer = await self._sync.full(date_from=now, record_count=1)
        return Read((), answer.sync_info.sync_token, MESSAGE_FRAME, True, 1)

    async def read(
        self, token: str | None, frame: str | None, date_from: datetime
    ) -> Read[MessageRecord]:
        if token and frame == MESSAGE_FRAME:
            try:
                answer = await self._sync.incremental(token)
            except ApiError as exc:
                if not needs_full_sync(exc):
                    raise
                log.info("messages of %s: %s, syncing in full", self.extension_id, exc.error_code)
            else:
                return Read(answer.records, answer.sync_info.sync_token, MESSAGE_FRAME, False, 1)
        return await self.full(date_from)

    async def full(self, date_from: datetime) -> Read[MessageRecord]:
        """Every message from `date_from` on, newest first, page by page backwards."""
        first = await self._sync.full(date_from=date_from, record_count=RECORD_LIMIT)
        records: dict[str, MessageRecord] = {r.id: r for r in first.records}
        older, page, requests = first.sync_info.older_records_exist, first.records, 1
        while older and page and requests < MAX_PAGES:
            date_to = min((r.creation_time for r in page if r.creation_time), default=None)
            if date_to is None:
                break
            answer = await self._sync.full(
                date_from=date_from, date_to=date_to, record_count=RECORD_LIMIT
            )
            requests += 1
            page = tuple(r for r in answer.records if r.id not in records)
            records.update((r.id, r) for r in page)
            older = answer.sync_info.older_records_exist
        if older:
            log.warning(
                "messages of %s: more than %d pages to catch up; the rest waits",
                self.extension_id,
                MAX_PAGES,
            )
        token = first.sync_info.sync_token  # the open frame's: later pages' frames are closed
        return Read(tuple(records.values()), token, MESSAGE_FRAME, True, requests)


class CallLogReader:
    """`call-log-sync` of the account (`extension_id` None) or of one extension, for the
    calls the routes want (`status_group` Missed unless finished calls are routed)."""

    def __init__(
        self, rc: RingCentralClient, extension_id: str | None, status_group: StatusGroup
    ) -> None:
        self._rc = rc
        self._sync = rc.call_log_sync.for_extension(extension_id or "~")
        self.extension_id = extension_id
        self.status_group = status_group
        self.frame = f"calls/{status_group}/v1"

    @property
    def _account(self) -> bool:
        return self.extension_id is None

    async def start(self, now: datetime) -> Read[CallLogRecord]:
        answer = await self._sync.full(
            record_count=1,
            date_from=now,
            status_group=self.status_group,
            view="Detailed",
            account=self._account,
        )
        return Read((), answer.sync_info.sync_token, self.frame, True, 1)

    async def read(
        self, token: str | None, frame: str | None, date_from: datetime
    ) -> Read[CallLogRecord]:
        kept: tuple[CallLogRecord, ...] = ()
        if token and frame == self.frame:
            try:
                answer = await self._sync.incremental(
                    token, status_group=self.status_group, view="Detailed", account=self._account
                )
            except ApiError as exc:
                if not needs_full_sync(exc):
                    raise
                log.info("call log: %s, syncing in full", exc.error_code)
            else:
                if len(answer.records) < RECORD_LIMIT:
                    return Read(answer.records, answer.sync_info.sync_token, self.frame, False, 1)
                # RingCentral answers at most 250 records to an ISync: more may exist.
                log.info("call log: %d changes at once, syncing in full", len(answer.records))
                kept = answer.records
        found = await self.full(date_from)
        merged = {r.id: r for r in (*found.records, *kept)}
        return Read(tuple(merged.values()), found.token, self.frame, True, found.requests + 1)

    async def full(self, date_from: datetime) -> Read[CallLogRecord]:
        first = await self._sync.full(
            record_count=RECORD_LIMIT,
            date_from=date_from,
            status_group=self.status_group,
            view="Detailed",
            account=self._account,
        )
        records = {r.id: r for r in first.records}
        requests = 1
        if len(first.records) >= RECORD_LIMIT:
            # The call-log sync takes no `dateTo`: the older rest comes from the call log.
            oldest = min(r.start_time for r in first.records if r.start_time)
            for page in range(1, MAX_PAGES):
                listing = await self._list(date_from, oldest, page)
                requests += 1
                records.update((r.id, r) for r in listing[0] if _in_group(r, self.status_group))
                if not listing[1]:
                    break
        return Read(tuple(records.values()), first.sync_info.sync_token, self.frame, True, requests)

    async def _list(
        self, date_from: datetime, date_to: datetime, page: int
    ) -> tuple[tuple[CallLogRecord, ...], bool]:
        call_log = self._rc.call_log
        if self._account:
            listing = await call_log.list_account(
                date_from=date_from,
                date_to=date_to,
                view="Detailed",
                page=page,
                per_page=RECORD_LIMIT,
            )
        else:
            listing = await call_log.for_extension(self.extension_id or "~").list(
                date_from=date_from,
                date_to=date_to,
                view="Detailed",
                page=page,
                per_page=RECORD_LIMIT,
            )
        return listing.records, listing.has_next


def _in_group(record: CallLogRecord, group: StatusGroup) -> bool:
    return group == "All" or record.result in ("Missed", "Voicemail")
