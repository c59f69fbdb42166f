"""`/calllog`: calls newest first, filtered, paged; `/calllog <id>` with its legs."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.ringcentral import RingCentralError
from bot.ringcentral.models import (
    CallDirection,
    CallLogList,
    CallLogRecord,
    CallLogView,
    CallType,
    RecordingType,
)
from bot.slack import blocks
from bot.slack._reply import answer, page_value, read_page_value
from bot.slack.deps import SlackDeps
from bot.slack.explain import explain
from bot.slack.grammar import CallLogQuery, Help, ShowCall, UsageError, parse_calllog
from bot.slack.payloads import SlashCommand
from bot.slack.text import to_plain

# The call log has no result filter: `missed` keeps the inbound calls nobody answered.
MISSED_RESULTS = frozenset({"Missed", "Voicemail", "No Answer", "Hang Up", "Abandoned"})
# For `missed` the bridge reads one large page and filters it (RingCentral's maximum).
MISSED_SCAN = 1000


async def run(deps: SlackDeps, command: SlashCommand, respond: AsyncRespond) -> None:
    text = to_plain(command.text).strip()
    await show_page(deps, respond, text, 1, await deps.now())


async def turn_page(deps: SlackDeps, value: str, respond: AsyncRespond) -> None:
    text, page, now = read_page_value(value)
    await show_page(deps, respond, text, page, now, replace=True)


async def show_page(
    deps: SlackDeps, respond: AsyncRespond, text: str, page: int, now: datetime, *,
    replace: bool = False,
) -> None:  # fmt: skip
    region = await deps.facts.region()
    try:
        request = parse_calllog(text, region=region, now=now)
    except UsageError as exc:
        await answer(respond, blocks.usage_error(str(exc)), replace=replace)
        return
    try:
        if isinstance(request, Help):
            reply = blocks.help_reply()
        elif isinstance(request, ShowCall):
            record = await deps.rc.call_log.get(request.record_id, view="Detailed")
            reply = blocks.call_detail(record, region=region)
        else:
            records, more = await _fetch(deps, request, page)
            reply = blocks.call_log_page(
                records,
                region=region,
                description=f"/calllog {text}".rstrip(),
                prev_value=page_value(text, page - 1, now) if page > 1 else None,
                next_value=page_value(text, page + 1, now) if more else None,
            )
    except UsageError as exc:
        reply = blocks.usage_error(str(exc))
    except RingCentralError as exc:
        reply = blocks.ringcentral_refused(explain(exc))
    await answer(respond, reply, replace=replace)


async def _fetch(
    deps: SlackDeps, query: CallLogQuery, page: int
) -> tuple[list[CallLogRecord], bool]:
    """One page of calls, and whether another follows."""
    if query.missed:
        listing = await _list(deps, query, page=1, per_page=MISSED_SCAN)
        missed = [r for r in listing.records if r.result in MISSED_RESULTS]
        start = (page - 1) * query.count
        return missed[start : start + query.count], len(missed) > start + query.count
    listing = await _list(deps, query, page=page, per_page=query.count)
    return list(listing.records), listing.has_next


class _Filters(TypedDict):
    """The call-log filters both levels (extension and account) take."""

    phone_number: str | None
    direction: CallDirection | None
    session_id: str | None
    type: CallType | None
    view: CallLogView | None
    recording_type: RecordingType | None
    date_from: datetime | None
    date_to: datetime | None
    show_deleted: bool | None
    page: int
    per_page: int


async def _list(deps: SlackDeps, query: CallLogQuery, *, page: int, per_page: int) -> CallLogList:
    common: _Filters = {
        "phone_number": query.phone_number,
        "direction": "Inbound" if query.missed else query.direction,
        "session_id": query.session_id,
        "type": query.call_type,
        "view": "Detailed" if query.detailed else None,
        "recording_type": query.recording_type,
        "date_from": query.period.date_from,
        "date_to": query.period.date_to,
        "show_deleted": query.deleted or None,
        "page": page,
        "per_page": per_page,
    }
    if query.extension_number is None:
        # RingCentral shows blocked calls unless told not to; the bridge hides them
        # unless asked (`blocked`), as a person scanning their calls expects.
        return await deps.rc.call_log.list(
            show_blocked=query.blocked, transport=query.transport, **common
        )
    if query.transport or query.blocked:
        raise UsageError("`transport:` and `blocked` apply to your own call log, not with `ext:`.")
    return await deps.rc.call_log.list_account(extension_number=query.extension_number, **common)
