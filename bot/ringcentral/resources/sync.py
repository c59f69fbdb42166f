"""Message and call-log synchronisation (SPEC `syncMessages`, `syncUserCallLog`,
`syncAccountCallLog`): what catch-up reads to find what the events did not bring.

Errors worth knowing (reference §1.7, DOCS errors table): `MSG-333` "full synchronization
is required" for a message-sync token RingCentral will not continue; `CLG-101`…`CLG-105`
"Sync token expired, call log was reset" for a call-log token. Both are ApiErrors (400);
`needs_full_sync()` recognises them, at the top of the body or in `errors[]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .._errors import ApiError
from ..models.calls import CallLogView
from ..models.messages import MessageDirection, MessageType
from ..models.sync import CallLogStatusGroup, CallLogSync, MessageSync
from ._base import Resource, flag, iso, many, one, query

__all__ = ["RECORD_LIMIT", "CallLogSyncs", "MessageSyncs", "needs_full_sync"]

# RingCentral: an ISync of the call log answers at most 250 records (SPEC
# `CallLogSyncResponse`); catch-up asks for as many per full sync page.
RECORD_LIMIT = 250
_FULL_SYNC_CODES = ("MSG-333", "CLG-101", "CLG-102", "CLG-103", "CLG-104", "CLG-105")


def needs_full_sync(exc: ApiError) -> bool:
    """True when RingCentral refused a sync token and wants a full sync instead."""
    codes = {exc.error_code, *(detail.error_code for detail in exc.errors)}
    return exc.status == 400 and any(code in _FULL_SYNC_CODES for code in codes)


class MessageSyncs(Resource):
    """`…/extension/{id}/message-sync` (Light group)."""

    async def full(
        self,
        *,
        date_from: datetime,
        date_to: datetime | None = None,
        record_count: int | None = None,
        message_type: MessageType | Sequence[MessageType] | None = None,
        direction: MessageDirection | Sequence[MessageDirection] | None = None,
    ) -> MessageSync:
        """FSync: the frame from `date_from` (to `date_to`), newest first, at most
        `record_count` records; its token continues the frame (only one without `date_to`
        stays open to new messages)."""
        params = query(
            syncType="FSync",
            dateFrom=iso(date_from),
            dateTo=iso(date_to) if date_to else None,
            recordCount=record_count,
            messageType=many(message_type, MessageType),
            direction=many(direction, MessageDirection),
        )
        return await self._get(MessageSync, self._extension_path("/message-sync"), params)

    async def incremental(self, sync_token: str) -> MessageSync:
        """ISync: what changed in the frame since `sync_token`."""
        params = query(syncType="ISync", syncToken=sync_token)
        return await self._get(MessageSync, self._extension_path("/message-sync"), params)


class CallLogSyncs(Resource):
    """`…/extension/{id}/call-log-sync`, and `…/account/{id}/call-log-sync` with
    `account=True` (Heavy group). DESIGN §3.10: the account level needs the service user's
    FullCompanyCallLog permission."""

    async def full(
        self,
        *,
        record_count: int,
        date_from: datetime | None = None,
        status_group: CallLogStatusGroup | None = None,
        view: CallLogView | None = None,
        account: bool = False,
    ) -> CallLogSync:
        """FSync: the newest `record_count` records from `date_from` (RingCentral: within
        the last 30 days)."""
        if not 1 <= record_count <= RECORD_LIMIT:
            raise ValueError(f"record_count is 1-{RECORD_LIMIT}")
        params = query(
            syncType="FSync",
            dateFrom=iso(date_from) if date_from else None,
            recordCount=record_count,
            statusGroup=many(status_group, CallLogStatusGroup),
            view=one(view, CallLogView),
        )
        return await self._get(CallLogSync, self._path(account), params)

    async def incremental(
        self,
        sync_token: str,
        *,
        status_group: CallLogStatusGroup | None = None,
        view: CallLogView | None = None,
        show_deleted: bool | None = None,
        account: bool = False,
    ) -> CallLogSync:
        """ISync: the records added or changed since `sync_token`, at most 250 (more may
        exist when that many come back: a full sync then)."""
        params = query(
            syncType="ISync",
            syncToken=sync_token,
            statusGroup=many(status_group, CallLogStatusGroup),
            view=one(view, CallLogView),
            showDeleted=flag(show_deleted),
        )
        return await self._get(CallLogSync, self._path(account), params)

    def _path(self, account: bool) -> str:
        return (
            self._account_path("/call-log-sync")
            if account
            else self._extension_path("/call-log-sync")
        )
