"""`/calllog`: calls newest first, filtered, paged; `/calllog <id>` with its legs. Its
grammar, and its work."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypedDict

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.ringcentral import ApiError, RingCentralClient, RingCentralError
from bot.ringcentral.models import (
    CallDirection,
    CallLogList,
    CallLogRecord,
    CallLogView,
    CallType,
    RecordingType,
)
from bot.slack import render
from bot.slack._reply import answer
from bot.slack.deps import SlackDeps
from bot.slack.explain import explain
from bot.slack.payloads import ChannelRef, SlashCommand
from bot.slack.personal import SessionEnded
from bot.slack.render import PageValue
from bot.slack.text import to_plain

from ._grammar import DEFAULT_COUNT, Help, Period, UsageError, choice, fold_period, tokens
from .usage import CALLLOG_USAGE, help_reply

# The call log has no result filter: `missed` keeps the inbound calls nobody answered.
MISSED_RESULTS = frozenset({"Missed", "Voicemail", "No Answer", "Hang Up", "Abandoned"})
# For `missed` the bridge reads one large page and filters it (RingCentral's maximum).
MISSED_SCAN = 1000


@dataclass(frozen=True, slots=True)
class CallLogQuery:
    period: Period
    count: int = DEFAULT_COUNT
    missed: bool = False
    direction: Literal["Inbound", "Outbound"] | None = None
    phone_number: str | None = None
    extension_number: str | None = None
    call_type: Literal["Voice", "Fax"] | None = None
    transport: Literal["PSTN", "VoIP"] | None = None
    recording_type: Literal["Automatic", "OnDemand", "All"] | None = None
    session_id: str | None = None
    blocked: bool = False
    deleted: bool = False
    detailed: bool = False


@dataclass(frozen=True, slots=True)
class ShowCall:
    record_id: str


# --- grammar ---------------------------------------------------------------------------------


_CALL_TYPES = {"voice": "Voice", "fax": "Fax"}
_TRANSPORTS = {"pstn": "PSTN", "voip": "VoIP"}
_RECORDINGS = {"automatic": "Automatic", "ondemand": "OnDemand", "all": "All"}


def parse_calllog(text: str, *, region: str, now: datetime) -> CallLogQuery | ShowCall | Help:
    words = text.split()
    if words and words[0].lower() == "help":
        return Help(CALLLOG_USAGE)
    fields: dict[str, object] = {}
    period: Period | None = None
    record_id: str | None = None
    for token in tokens(text, region, CALLLOG_USAGE):
        kind, value = token.kind, token.value
        if kind == "phone":
            fields["phone_number"] = value
        elif kind == "count":
            fields["count"] = int(value)
        elif kind == "word" and value == "missed":
            fields["missed"] = True
        elif kind == "word" and value in ("inbound", "outbound"):
            fields["direction"] = value.capitalize()
        elif kind == "word" and value in ("blocked", "deleted", "detailed"):
            fields[value] = True
        elif kind == "option" and token.key == "ext":
            fields["extension_number"] = value
        elif kind == "option" and token.key == "type":
            fields["call_type"] = choice(token, _CALL_TYPES)
        elif kind == "option" and token.key == "transport":
            fields["transport"] = choice(token, _TRANSPORTS)
        elif kind == "option" and token.key == "recording":
            fields["recording_type"] = choice(token, _RECORDINGS)
        elif kind == "option" and token.key == "session":
            fields["session_id"] = value
        elif (found := fold_period(token, now, period)) is not None:
            period = found
        elif kind == "id" and record_id is None:
            record_id = value
        else:
            raise UsageError(f"I don't know `{token}` here. {CALLLOG_USAGE}")
    if record_id is not None:
        if fields or period is not None:
            raise UsageError("Show one call with `/calllog <record id>` alone.")
        return ShowCall(record_id)
    if "session_id" in fields and (len(fields) > 1 or period is not None):
        # RingCentral CLG-110: sessionId cannot be combined with other filters.
        raise UsageError("`session:` cannot be combined with other filters; use it alone.")
    if fields.get("missed") and fields.get("direction") == "Outbound":
        raise UsageError("Missed calls are inbound; drop `outbound` or `missed`.")
    return CallLogQuery(period=period or Period(), **fields)  # type: ignore[arg-type]


# --- work ------------------------------------------------------------------------------------


async def run(deps: SlackDeps, command: SlashCommand, respond: AsyncRespond) -> None:
    text = to_plain(command.text).strip()
    at = await deps.now()
    if refusal := await company_refusal(deps, command.user_id, command.channel_ref, text, at):
        await answer(deps, respond, render.usage_error(refusal))
        return
    try:
        acting = await deps.acting(command.team_id, command.user_id)
    except SessionEnded as exc:
        await answer(deps, respond, render.ringcentral_refused(str(exc)))
        return
    page = PageValue(text=text, page=1, at=at)
    own = acting.rc if acting.personal else None
    await show_page(deps, respond, page, user_id=command.user_id, own=own)


async def company_refusal(
    deps: SlackDeps, user_id: str, channel: ChannelRef | None, text: str, at: datetime
) -> str | None:
    """`ext:` naming another extension than the person's own needs `[permissions]
    company_calllog` (DESIGN §3.9); the sentence saying no, or None."""
    if "ext:" not in text.lower():
        return None
    try:
        # Only `ext:` matters here, which no region changes: RingCentral is not asked.
        request = parse_calllog(text, region="US", now=at)
    except UsageError:
        return None  # show_page says what to type instead
    if not isinstance(request, CallLogQuery) or request.extension_number is None:
        return None
    own = await deps.links.of_user(user_id)
    if own is not None and own.extension_number == request.extension_number:
        return None
    return await deps.permissions.refusal("company_calllog", user_id, channel)


async def show_page(
    deps: SlackDeps,
    respond: AsyncRespond,
    page: PageValue,
    *,
    replace: bool = False,
    user_id: str | None = None,
    own: RingCentralClient | None = None,
) -> None:
    """One page of `/calllog <page.text>`, as typed at `page.at` (Previous/Next, which carry
    the same value with another page, come back here). Without `ext:`, a connected
    person's own calls, read with their session `own` (DESIGN §3.9); else the calls of the
    extension `user_id` is linked to, where the service user may read them; else its own,
    and the reply says whose. `ext:` reads the company's call log on the shared session."""
    locale = await deps.locale()
    text = page.text
    try:
        request = parse_calllog(text, region=locale.region, now=page.at)
    except UsageError as exc:
        await answer(deps, respond, render.usage_error(str(exc)), replace=replace)
        return
    try:
        if isinstance(request, Help):
            reply = help_reply()
        elif isinstance(request, ShowCall):
            record = await (own or deps.rc).call_log.get(request.record_id, view="Detailed")
            reply = render.call_detail(record, locale=locale)
        else:
            records, more, whose = await _fetch_for(deps, request, page.page, user_id, own)
            reply = render.call_log_page(
                records,
                locale=locale,
                description=f"/calllog {text}".rstrip() + whose,
                previous=page.model_copy(update={"page": page.page - 1}) if page.page > 1 else None,
                following=page.model_copy(update={"page": page.page + 1}) if more else None,
            )
    except UsageError as exc:
        reply = render.usage_error(str(exc))
    except RingCentralError as exc:
        reply = render.ringcentral_refused(explain(exc))
    await answer(deps, respond, reply, replace=replace)


async def _fetch_for(
    deps: SlackDeps,
    query: CallLogQuery,
    page: int,
    user_id: str | None,
    own: RingCentralClient | None,
) -> tuple[list[CallLogRecord], bool, str]:
    """`_fetch`, of the person's own extension when the query names none: with their own
    session `own` when connected, else (linked to another extension than the service
    user's) on the shared one; the words saying whose."""
    if own is not None and query.extension_number is None:
        return (*await _fetch(own, query, page), "")
    rc = deps.rc
    link = await deps.links.of_user(user_id) if user_id else None
    plain = query.extension_number is None and not (query.transport or query.blocked)
    if link is None or not plain or not link.extension_number:
        return (*await _fetch(rc, query, page), "")
    if link.extension_id == (await deps.facts.extension()).id:
        return (*await _fetch(rc, query, page), f" (ext. {link.extension_number}, yours)")
    mine = dataclasses.replace(query, extension_number=link.extension_number)
    try:
        return (*await _fetch(rc, mine, page), f" (ext. {link.extension_number}, yours)")
    except ApiError as exc:
        if exc.status != 403:
            raise
    service = (await deps.facts.extension()).extension_number or "?"
    whose = (
        f" (the calls of ext. {service}, the RingBridge service user: it may not read "
        f"those of your ext. {link.extension_number})"
    )
    return (*await _fetch(rc, query, page), whose)


async def _fetch(
    rc: RingCentralClient, query: CallLogQuery, page: int
) -> tuple[list[CallLogRecord], bool]:
    """One page of calls, and whether another follows."""
    if query.missed:
        listing = await _list(rc, query, page=1, per_page=MISSED_SCAN)
        missed = [r for r in listing.records if r.result in MISSED_RESULTS]
        start = (page - 1) * query.count
        return missed[start : start + query.count], len(missed) > start + query.count
    listing = await _list(rc, query, page=page, per_page=query.count)
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


async def _list(
    rc: RingCentralClient, query: CallLogQuery, *, page: int, per_page: int
) -> CallLogList:
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
        return await rc.call_log.list(
            show_blocked=query.blocked, transport=query.transport, **common
        )
    if query.transport or query.blocked:
        raise UsageError("`transport:` and `blocked` apply to your own call log, not with `ext:`.")
    return await rc.call_log.list_account(extension_number=query.extension_number, **common)
