"""Read endpoints answered from the World: extensions, numbers, directory, call log,
message store (the message content is served by the media host only)."""

from __future__ import annotations

import json
from typing import Any

from ._rc_http import SimResponse, not_found
from ._rc_permissions import permissions_of
from ._rc_state import Call, SimState, json_ok

# RingCentral answers comma-separated ids with 207 (reference §4.5): in this JSON form when
# the request's Accept asks for it, else as multipart/mixed (DOCS batch-requests: a first
# part listing each part's status, then one JSON part per id). A client that reads the
# answer as JSON without asking for it fails here as it would against RingCentral.
MULTIPART_JSON = "application/vnd.ringcentral.multipart+json"
_BOUNDARY = "Boundary_1_sim_batch"


def _multi(call: Call, parts: list[dict[str, Any]]) -> SimResponse:
    if MULTIPART_JSON in (call.req.header("accept") or ""):
        return SimResponse.json(207, parts, {"Content-Type": MULTIPART_JSON})
    summary = {"response": [{"status": p["status"]} for p in parts]}
    chunks = [json.dumps(summary), *(json.dumps(p["body"]) for p in parts)]
    body = "".join(
        f"--{_BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{chunk}\r\n" for chunk in chunks
    )
    content_type = f"multipart/mixed; boundary={_BOUNDARY}"
    return SimResponse(207, {"Content-Type": content_type}, f"{body}--{_BOUNDARY}--\r\n".encode())


async def extension_info(st: SimState, call: Call) -> SimResponse:
    ext = call.extension(st.world)
    info = st.world.extension_info(ext)
    # `permissions.admin` tells what the permission model (_rc_permissions) grants.
    info["permissions"]["admin"] = {"enabled": permissions_of(st.extras).is_admin(ext)}
    return json_ok(info)


async def extension_list(st: SimState, call: Call) -> SimResponse:
    st.world.check_account(call.params["accountId"])
    return json_ok(st.world.extension_list(call.query))


# A new account's company hours (RingCentral's default: weekdays 09:00-18:00).
DEFAULT_BUSINESS_HOURS: dict[str, list[tuple[str, str]]] = {
    day: [("09:00", "18:00")] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}


def business_hours_of(extras: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """The company's weekly hours, day name -> (from, to) `hh:mm` pairs; empty: 24/7."""
    value = extras.setdefault("business_hours", dict(DEFAULT_BUSINESS_HOURS))
    assert isinstance(value, dict)
    return value


async def business_hours(st: SimState, call: Call) -> SimResponse:
    """SPEC `CompanyBusinessHours`; "24 hours/7 days a week" is an empty schedule."""
    st.world.check_account(call.params["accountId"])
    weekly = {
        day: [{"from": start, "to": end} for start, end in ranges]
        for day, ranges in business_hours_of(st.extras).items()
        if ranges
    }
    schedule: dict[str, Any] = {"weeklyRanges": weekly} if weekly else {}
    uri = f"{st.server_url}/restapi/v1.0/account/{st.world.account_id}/business-hours"
    return json_ok({"uri": uri, "schedule": schedule})


async def phone_numbers(st: SimState, call: Call) -> SimResponse:
    return json_ok(st.world.phone_numbers(call.extension(st.world), call.query))


async def directory_entries(st: SimState, call: Call) -> SimResponse:
    st.world.check_account(call.params["accountId"])
    return json_ok(st.world.directory_entries(call.query))


async def directory_entry(st: SimState, call: Call) -> SimResponse:
    st.world.check_account(call.params["accountId"])
    return json_ok(st.world.directory_entry(call.params["entryId"]))


async def directory_search(st: SimState, call: Call) -> SimResponse:
    st.world.check_account(call.params["accountId"])
    body = call.req.json_body() or {}
    return json_ok(st.world.directory_search(body))


async def contacts(st: SimState, call: Call) -> SimResponse:
    return json_ok(st.world.contacts(call.extension(st.world), call.query))


async def call_log_extension(st: SimState, call: Call) -> SimResponse:
    return json_ok(st.world.call_log(call.extension(st.world), call.query))


async def call_log_account(st: SimState, call: Call) -> SimResponse:
    st.world.check_account(call.params["accountId"])
    return json_ok(st.world.call_log(None, call.query))


async def call_record_extension(st: SimState, call: Call) -> SimResponse:
    return _call_record(st, call, call.extension(st.world))


async def call_record_account(st: SimState, call: Call) -> SimResponse:
    st.world.check_account(call.params["accountId"])
    return _call_record(st, call, None)


def _call_record(st: SimState, call: Call, ext: str | None) -> SimResponse:
    ids = call.params["callRecordId"]
    if "," in ids:
        return _multi(call, st.world.call_records(ext, ids, call.query))
    return json_ok(st.world.call_record(ext, ids, call.query))


async def message_list(st: SimState, call: Call) -> SimResponse:
    return json_ok(st.world.message_store(call.extension(st.world), call.query))


async def message_get(st: SimState, call: Call) -> SimResponse:
    ext = call.extension(st.world)
    ids = call.params["messageId"]
    if "," in ids:
        return _multi(call, st.world.messages(ext, ids))
    return json_ok(st.world.message(ext, ids))


async def message_update(st: SimState, call: Call) -> SimResponse:
    ext = call.extension(st.world)
    body = call.req.json_body() or {}
    record = st.world.update_message(
        ext,
        call.params["messageId"],
        read_status=body.get("readStatus"),
        availability=body.get("availability"),
    )
    return json_ok(record)


async def message_content(st: SimState, call: Call) -> SimResponse:
    ext = call.extension(st.world)
    content = st.world.message_content(ext, call.params["messageId"], call.params["attachmentId"])
    if not content.body and not content.content_type:
        return not_found("attachmentId")
    # SPEC: contentDisposition=Inline|Attachment (default Attachment), optional filename
    disposition = (call.req.query_first("contentDisposition") or "Attachment").lower()
    filename = call.req.query_first("contentDispositionFilename") or content.filename
    headers = {
        "Content-Type": content.content_type,
        "Content-Disposition": f"{disposition};filename={filename}",
        "Content-Length": str(len(content.body)),
    }
    return SimResponse(200, headers, content.body)
