"""The call log: stored records, the list query with every documented filter, lookups.

Filters follow reference §4.4 / SPEC `readUserCallLog` and `readCompanyCallLog`.
`showBlocked` and `transport` exist at extension level only; at account level they are
ignored (and not echoed), as RingCentral ignores unknown query parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.sim._rc_data_errors import JSON, Query, SimError, first, invalid, not_found, values
from bot.sim._rc_data_paging import (
    Listing,
    iso,
    paginate,
    parse_bool,
    parse_date,
    parse_page,
    parse_per_page,
)
from bot.sim._rc_data_people import digits

DIRECTIONS = ("Inbound", "Outbound")
TYPES = ("Voice", "Fax")
TRANSPORTS = ("PSTN", "VoIP")
RECORDING_TYPES = ("Automatic", "OnDemand", "All")
DETAILED_KEYS = ("transport", "lastModifiedTime", "billing", "legs")
# Everything but view, paging, dates and the show* switches narrows the set: these are the
# "other filters" sessionId refuses (CLG-110).
_FILTERS = (
    "extensionNumber",
    "phoneNumber",
    "direction",
    "type",
    "transport",
    "recordingType",
    "telephonySessionId",
    "metadataCategory",
)


@dataclass
class CallRecord:
    """One call-log record of one extension; `body` holds Simple and Detailed fields."""

    owner_id: str  # extension whose log this is
    owner_number: str
    start: datetime
    body: JSON  # relative URIs; no record `uri` (it depends on the level asked)
    blocked: bool = False
    deleted: bool = False

    @property
    def id(self) -> str:
        return str(self.body["id"])

    @property
    def recording_type(self) -> str | None:
        recording = self.body.get("recording")
        return str(recording["type"]) if recording else None

    def render(self, level_path: str, view: str) -> JSON:
        """The record as `view` shows it; `level_path` is the account or extension path."""
        out: JSON = {"uri": f"{level_path}/call-log/{self.id}?view={view}"}
        out.update(
            (k, v) for k, v in self.body.items() if view == "Detailed" or k not in DETAILED_KEYS
        )
        return out


def _view(query: Query) -> str:
    view = first(query, "view") or "Simple"
    if view not in ("Simple", "Detailed"):
        raise invalid("view", view)
    return view


def _enum_values(query: Query, name: str, allowed: tuple[str, ...]) -> list[str]:
    found = values(query, name)
    for value in found:
        if value not in allowed:
            raise invalid(name, value)
    return found


def _field_in(key: str, allowed: list[str]) -> Callable[[CallRecord], bool]:
    return lambda record: record.body.get(key) in allowed


def _parties(record: CallRecord) -> list[JSON]:
    return [record.body.get("from") or {}, record.body.get("to") or {}]


def call_log(
    records: list[CallRecord],
    level_path: str,
    query: Query,
    *,
    extension_level: bool,
    now: datetime,
) -> JSON:
    """The list response: filter, newest first, page; `uri` echoes defaults like RingCentral."""
    view = _view(query)
    echo: list[tuple[str, str]] = [("view", view)]
    checks: list[Callable[[CallRecord], bool]] = []

    present = [name for name in _FILTERS if first(query, name) is not None]
    if not extension_level:
        present = [name for name in present if name != "transport"]
    if first(query, "sessionId") is not None and present:
        raise SimError(
            400,
            "CLG-110",
            "Parameter [sessionId] cannot be combined with other filters",
            "sessionId",
        )
    if "extensionNumber" in present and "phoneNumber" in present:
        raise invalid("phoneNumber", "cannot be combined with extensionNumber")

    if extension_level:
        show_blocked = parse_bool(query, "showBlocked", True)
        echo.append(("showBlocked", "true" if show_blocked else "false"))
        if not show_blocked:
            checks.append(lambda r: not r.blocked)
    if (with_recording := first(query, "withRecording")) is not None:
        echo.append(("withRecording", with_recording))
    recording_type = first(query, "recordingType")
    if recording_type is not None:
        if recording_type not in RECORDING_TYPES:
            raise invalid("recordingType", recording_type)
        echo.append(("recordingType", recording_type))
        if recording_type == "All":
            checks.append(lambda r: r.recording_type is not None)
        else:
            checks.append(lambda r: r.recording_type == recording_type)
    elif parse_bool(query, "withRecording", False):
        # SPEC: withRecording is ignored when recordingType is given.
        checks.append(lambda r: r.recording_type is not None)

    if (number := first(query, "extensionNumber")) is not None:
        echo.append(("extensionNumber", number))
        checks.append(lambda r: r.owner_number == number)
    if (phone := first(query, "phoneNumber")) is not None:
        # SPEC: E.164 without '+'; a '+' sent unencoded arrives as a space, so compare digits.
        wanted = digits(phone)
        echo.append(("phoneNumber", phone))
        checks.append(
            lambda r: any(digits(p.get("phoneNumber", "")) == wanted for p in _parties(r))
        )
    if (session := first(query, "sessionId")) is not None:
        echo.append(("sessionId", session))
        checks.append(lambda r: r.body.get("sessionId") == session)
    if (tsid := first(query, "telephonySessionId")) is not None:
        echo.append(("telephonySessionId", tsid))
        checks.append(lambda r: r.body.get("telephonySessionId") == tsid)
    for name, allowed, key in (
        ("direction", DIRECTIONS, "direction"),
        ("type", TYPES, "type"),
        ("transport", TRANSPORTS, "transport"),
    ):
        if name == "transport" and not extension_level:
            continue
        if wanted_values := _enum_values(query, name, allowed):
            echo += [(name, v) for v in wanted_values]
            checks.append(_field_in(key, wanted_values))
    if categories := values(query, "metadataCategory"):
        echo += [("metadataCategory", c) for c in categories]
        checks.append(lambda r: bool(set(r.body.get("metadataCategories", ())) & set(categories)))
    show_deleted = parse_bool(query, "showDeleted", False)
    if first(query, "showDeleted") is not None:
        echo.append(("showDeleted", "true" if show_deleted else "false"))
    if not show_deleted:
        checks.append(lambda r: not r.deleted)

    date_to = parse_date(query, "dateTo")
    date_from = parse_date(query, "dateFrom")
    upper = date_to or now
    lower = date_from or upper - timedelta(hours=24)  # SPEC: default dateTo minus 24 hours
    echo.append(("dateFrom", iso(lower)))
    if date_to is not None:
        echo.append(("dateTo", iso(date_to)))
    checks.append(lambda r: lower <= r.start <= upper)

    found = [r for r in records if all(check(r) for check in checks)]
    found.sort(key=lambda r: (r.start, r.id), reverse=True)
    listing = Listing(
        f"{level_path}/call-log",
        echo,
        parse_page(query),
        parse_per_page(query, allow_max=True),
        totals=False,
    )
    return paginate(found, listing, render=lambda r: r.render(level_path, view))


def find(records: list[CallRecord], record_id: str) -> CallRecord:
    for record in records:
        if record.id == record_id:
            return record
    raise not_found("callRecordId")


def call_record(records: list[CallRecord], level_path: str, record_id: str, query: Query) -> JSON:
    return find(records, record_id).render(level_path, _view(query))


def call_records(
    records: list[CallRecord], level_path: str, record_ids: str, query: Query
) -> list[JSON]:
    """The 207 parts for comma-separated ids (SPEC: up to 50)."""
    ids = [i.strip() for i in record_ids.split(",") if i.strip()]
    if len(ids) > 50:
        raise invalid("callRecordId", "at most 50 ids")
    view = _view(query)
    parts: list[JSON] = []
    for record_id in ids:
        try:
            body = find(records, record_id).render(level_path, view)
            parts.append({"resourceId": record_id, "status": 200, "body": body})
        except SimError as err:
            parts.append({"resourceId": record_id, "status": err.status, "body": err.body()})
    return parts
