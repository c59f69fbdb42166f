"""Message sync and call-log sync over the world's stores (SPEC `syncMessages`,
`syncUserCallLog`, `syncAccountCallLog`).

A full sync (`FSync`) answers the newest records of a frame (dates and filters) and a token;
an incremental sync (`ISync`) with that token answers what changed in the frame since. A
token here is an opaque string holding the frame and a position: for messages the message
store's revision (every add or change counts one up), for the call log the length of the
log (records are only ever added). Tokens carry a generation: `SyncTokens.expire()` makes
every token issued before it stale, as RingCentral's reset would.

Where RingCentral documents nothing, the simulator is strict, and says so:
- a stale message token answers 400 `MSG-333` ("full synchronization is required"), and so
  does an ISync that would answer more than `isync_limit` (250) records (the real limit of
  a message ISync is not documented; being refused is the strictest reading);
- a stale call-log token answers 400 `CLG-104` (DOCS errors table: CLG-101…105, "Sync token
  expired, call log was reset"); an ISync answers at most 250 records, the newest, as the
  spec says, and the rest of the changes are not answered again: a client that gets 250
  must full-sync;
- a call-log FSync without `recordCount`, or with more than 250, is refused (the spec calls
  it mandatory); `dateFrom` older than 30 days is refused (the spec's limit);
- `statusGroup=Missed` keeps the results `Missed` and `Voicemail` (what RingCentral's apps
  list as missed calls; the grouping itself is not documented);
- parameters the simulator does not model (owner filters, distinct conversations,
  recording filters) are refused rather than ignored, so a client relying on them fails.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.sim._rc_data_base import WorldBase
from bot.sim._rc_data_calls import CallRecord
from bot.sim._rc_data_errors import JSON, Query, SimError, first, invalid, values
from bot.sim._rc_data_messages import DIRECTIONS, MESSAGE_TYPES, Message
from bot.sim._rc_data_paging import iso, parse_bool, parse_date

RECORD_LIMIT = 250  # SPEC CallLogSyncResponse: an ISync answers at most 250 records
CALL_LOG_HISTORY = timedelta(days=30)  # SPEC call-log-sync dateFrom: the last 30 days
MISSED_RESULTS = frozenset({"Missed", "Voicemail"})
STATUS_GROUPS = ("Missed", "All")
VIEWS = ("Simple", "Detailed")
_MESSAGE_UNMODELLED = ("owner", "voicemailOwner", "ownerExtensionType", "distinctConversations")
_CALL_UNMODELLED = ("withRecording", "recordingType", "metadataCategory")


@dataclass
class SyncTokens:
    """What decides whether a token is still good: its generation, and its age."""

    generation: int = 0
    ttl: float | None = None  # seconds a token stays good; None: until `expire()`
    isync_limit: int = RECORD_LIMIT  # records a message ISync answers before MSG-333

    def expire(self) -> None:
        self.generation += 1


def _encode(token: JSON) -> str:
    raw = json.dumps(token, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, kind: str, owner: str) -> JSON:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        raise invalid("syncToken") from None
    if not isinstance(data, dict) or data.get("k") != kind or data.get("o") != owner:
        raise invalid("syncToken")  # not a token of this resource
    return data


def _stale(data: JSON, tokens: SyncTokens, now: datetime) -> bool:
    if data.get("g") != tokens.generation:
        return True
    return tokens.ttl is not None and now.timestamp() - float(data.get("t", 0)) > tokens.ttl


def _refuse_unmodelled(query: Query, names: Sequence[str]) -> None:
    for name in names:
        if first(query, name) is not None:
            raise SimError(
                400,
                "CMN-101",
                f"Parameter [{name}] value is invalid (not simulated: the simulator refuses "
                "what it cannot answer truthfully)",
                name,
            )


def _record_count(query: Query, *, required: bool, limit: int | None) -> int | None:
    raw = first(query, "recordCount")
    if raw is None:
        if required:
            raise invalid("recordCount", "mandatory for FSync")
        return None
    if not raw.isdigit() or int(raw) < 1 or (limit is not None and int(raw) > limit):
        raise invalid("recordCount", raw)
    return int(raw)


def _sync_type(query: Query) -> str:
    sync_type = first(query, "syncType") or "FSync"
    if sync_type not in ("FSync", "ISync"):
        raise invalid("syncType", sync_type)
    return sync_type


def _enum(query: Query, name: str, allowed: tuple[str, ...]) -> list[str]:
    found = values(query, name)
    for value in found:
        if value not in allowed:
            raise invalid(name, value)
    return found


class WorldSync(WorldBase):
    """The sync half of the world's public interface."""

    # -- message sync ------------------------------------------------------------------------

    def message_sync(self, extension_id: str, query: Query, tokens: SyncTokens) -> JSON:
        """`GET …/extension/{id}/message-sync` over the extension's own mailbox."""
        ext_id = self.resolve_extension_id(extension_id)
        _refuse_unmodelled(query, _MESSAGE_UNMODELLED)
        now = self.now()
        path = self._acc.path(ext_id)
        if _sync_type(query) == "FSync":
            frame = self._message_frame(query, now)
            found = self._messages_in(ext_id, frame)
            limit = _record_count(query, required=False, limit=None)
            shown = found if limit is None else found[:limit]
            older = len(found) > len(shown)
            sync_type = "FSync"
        else:
            token = first(query, "syncToken")
            if not token:
                raise invalid("syncToken", "mandatory for ISync")
            frame = _decode(token, "m", ext_id)
            if _stale(frame, tokens, now):
                raise _full_sync_required()
            since = int(frame["r"])
            changed = [
                m
                for m in self._messages_in(ext_id, frame)
                if self._store.revisions.get(m.id, 0) > since
            ]
            if len(changed) > tokens.isync_limit:
                raise _full_sync_required()
            shown, older, sync_type = changed, False, "ISync"
        next_token = {**frame, "k": "m", "o": ext_id}
        next_token.update(r=self._store.revision, g=tokens.generation, t=now.timestamp())
        return self._out(  # type: ignore[no-any-return]
            {
                "uri": f"{path}/message-sync",
                "records": [m.render(path) for m in shown],
                "syncInfo": {
                    "syncType": sync_type,
                    "syncToken": _encode(next_token),
                    "syncTime": iso(now),
                    "olderRecordsExist": older,
                },
            }
        )

    def _message_frame(self, query: Query, now: datetime) -> JSON:
        date_to = parse_date(query, "dateTo")
        date_from = parse_date(query, "dateFrom") or (date_to or now) - timedelta(hours=24)
        conversation = first(query, "conversationId")
        return {
            "from": iso(date_from),
            "to": iso(date_to) if date_to else None,
            "types": _enum(query, "messageType", MESSAGE_TYPES),
            "dirs": _enum(query, "direction", DIRECTIONS),
            "conv": conversation,
        }

    def _messages_in(self, ext_id: str, frame: JSON) -> list[Message]:
        """The extension's messages in `frame`, newest first: a frame without `dateTo` is
        open (an ISync sees messages created after its FSync), one with it is closed."""
        lower = datetime.fromisoformat(frame["from"])
        upper = datetime.fromisoformat(frame["to"]) if frame.get("to") else None
        checks: list[Callable[[Message], bool]] = [
            lambda m: m.mailbox_id == ext_id,
            lambda m: m.created >= lower,
        ]
        if upper is not None:
            checks.append(lambda m: m.created <= upper)
        if types := frame.get("types"):
            checks.append(lambda m: m.body.get("type") in types)
        if dirs := frame.get("dirs"):
            checks.append(lambda m: m.body.get("direction") in dirs)
        if conv := frame.get("conv"):
            checks.append(lambda m: str(m.body.get("conversationId")) == conv)
        found = [m for m in self._store.messages.values() if all(c(m) for c in checks)]
        found.sort(key=lambda m: (m.created, m.id), reverse=True)
        return found

    # -- call-log sync -----------------------------------------------------------------------

    def call_log_sync(self, extension_id: str | None, query: Query, tokens: SyncTokens) -> JSON:
        """`GET …/call-log-sync` of an extension, or of the account (`extension_id` None)."""
        owner = "account" if extension_id is None else self.resolve_extension_id(extension_id)
        _refuse_unmodelled(query, _CALL_UNMODELLED)
        now = self.now()
        path = self._acc.path() if extension_id is None else self._acc.path(owner)
        view = first(query, "view") or "Simple"
        if view not in VIEWS:
            raise invalid("view", view)
        groups = _enum(query, "statusGroup", STATUS_GROUPS)
        show_deleted = parse_bool(query, "showDeleted", False)
        if _sync_type(query) == "FSync":
            count = _record_count(query, required=True, limit=RECORD_LIMIT)
            date_from = parse_date(query, "dateFrom")
            if date_from is not None and date_from < now - CALL_LOG_HISTORY:
                raise invalid("dateFrom", "the range is limited to the last 30 days")
            frame: JSON = {"from": iso(date_from) if date_from else None, "sg": groups}
            found = [r for _, r in self._calls_in(owner, frame) if not r.deleted]
            shown = found[:count]
            sync_type = "FSync"
        else:
            _record_count(query, required=False, limit=RECORD_LIMIT)  # extends to the past
            token = first(query, "syncToken")
            if not token:
                raise invalid("syncToken", "mandatory for ISync")
            frame = _decode(token, "c", owner)
            if groups:  # the frame's own filter, unless the request names one
                frame = {**frame, "sg": groups}
            if _stale(frame, tokens, now):
                raise SimError(
                    400,
                    "CLG-104",
                    "Parameter [syncToken] is invalid [Sync token expired, call log was reset]",
                    "syncToken",
                )
            since = int(frame["r"])
            found = [
                r
                for index, r in self._calls_in(owner, frame)
                if index >= since and (show_deleted or not r.deleted)
            ]
            shown = found[:RECORD_LIMIT]
            sync_type = "ISync"
        next_token = {"k": "c", "o": owner, "from": frame["from"], "sg": frame["sg"]}
        next_token.update(r=len(self._calls), g=tokens.generation, t=now.timestamp())
        records = [r.render(path, view) for r in shown]
        if extension_id is None:
            # Company records name whose log they are from (SPEC BaseCallLogRecord.extension).
            for record, rendered in zip(shown, records, strict=True):
                rendered["extension"] = {
                    "uri": self._acc.path(record.owner_id),
                    "id": int(record.owner_id),
                }
        return self._out(  # type: ignore[no-any-return]
            {
                "uri": f"{path}/call-log-sync",
                "records": records,
                "syncInfo": {
                    "syncType": sync_type,
                    "syncToken": _encode(next_token),
                    "syncTime": iso(now),
                },
            }
        )

    def _calls_in(self, owner: str, frame: JSON) -> list[tuple[int, CallRecord]]:
        """(position in the log, record) of `owner`'s log (or the account's) in `frame`,
        newest first."""
        lower = datetime.fromisoformat(frame["from"]) if frame.get("from") else None
        missed_only = "Missed" in frame.get("sg", []) and "All" not in frame.get("sg", [])

        def wanted(record: CallRecord) -> bool:
            if owner != "account" and record.owner_id != owner:
                return False
            if lower is not None and record.start < lower:
                return False
            return not missed_only or record.body.get("result") in MISSED_RESULTS

        found = [(i, r) for i, r in enumerate(self._calls) if wanted(r)]
        found.sort(key=lambda pair: (pair[1].start, pair[1].id), reverse=True)
        return found


def _full_sync_required() -> SimError:
    return SimError(
        400,
        "MSG-333",
        "Invalid message synchronisation request: full synchronization is required",
        "syncToken",
    )
