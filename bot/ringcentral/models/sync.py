"""Message and call-log synchronisation answers (SPEC `GetMessageSyncResponse`,
`CallLogSyncResponse`): the records of a sync frame, and the token that continues it.

A full sync (`FSync`) opens a frame and answers its newest records; an incremental sync
(`ISync`) with the frame's token answers what changed since (new, updated and deleted
records) and a token to continue from there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ._base import Inbound
from .calls import CallLogRecord
from .messages import MessageRecord

__all__ = [
    "CallLogStatusGroup",
    "CallLogSync",
    "CallLogSyncInfo",
    "MessageSync",
    "MessageSyncInfo",
    "SyncType",
]

SyncType = Literal["FSync", "ISync"]
CallLogStatusGroup = Literal["Missed", "All"]


class MessageSyncInfo(Inbound):
    """`syncInfo` of a message sync; `older_records_exist` says the frame holds records
    older than those answered (ask again with `dateTo` = the oldest one's time)."""

    sync_type: str | None = None
    sync_token: str | None = None
    sync_time: datetime | None = None
    older_records_exist: bool = False


class MessageSync(Inbound):
    """Answer of `GET …/extension/{id}/message-sync`."""

    uri: str | None = None
    records: tuple[MessageRecord, ...]
    sync_info: MessageSyncInfo


class CallLogSyncInfo(Inbound):
    """`syncInfo` of a call-log sync (no `olderRecordsExist`: the record limit is the only
    sign that more exists)."""

    sync_type: str
    sync_token: str
    sync_time: datetime


class CallLogSync(Inbound):
    """Answer of `GET …/call-log-sync` (extension or account level)."""

    uri: str | None = None
    records: tuple[CallLogRecord, ...]
    sync_info: CallLogSyncInfo
