"""RingOut (click-to-call) and the call log (reference §4.3, §4.4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from .._requester import QueryValue
from ..models.calls import (
    CallDirection,
    CallLogList,
    CallLogRecord,
    CallLogView,
    CallTransport,
    CallType,
    RecordingType,
    RingOutCountry,
    RingOutFrom,
    RingOutPhone,
    RingOutRequest,
    RingOutStatus,
)
from ._base import Resource, flag, iso, many, one, query, seg

__all__ = ["CallLog", "RingOut"]

PerPage = int | Literal["max"]


class RingOut(Resource):
    """`…/extension/{id}/ring-out`: ring `from` first, then connect it to `to`."""

    async def create(
        self,
        to: str,
        from_: str | None = None,
        *,
        forwarding_number_id: str | None = None,
        caller_id: str | None = None,
        play_prompt: bool | None = None,
        country_id: str | None = None,
    ) -> RingOutStatus:
        """Start a RingOut. Give `from_` (a phone number) or `forwarding_number_id`, not
        both; `caller_id` must be a number with the CallerId feature."""
        body = RingOutRequest(
            from_=RingOutFrom(phone_number=from_, forwarding_number_id=forwarding_number_id),
            to=RingOutPhone(phone_number=to),
            caller_id=RingOutPhone(phone_number=caller_id) if caller_id else None,
            play_prompt=play_prompt,
            country=RingOutCountry(id=country_id) if country_id else None,
        )
        return await self._read(
            RingOutStatus, "POST", self._extension_path("/ring-out"), json=body.to_wire()
        )

    async def status(self, ringout_id: str) -> RingOutStatus:
        """Poll a RingOut's status."""
        return await self._get(RingOutStatus, self._extension_path(f"/ring-out/{seg(ringout_id)}"))

    async def cancel(self, ringout_id: str) -> None:
        """Cancel a RingOut (RingCentral: works only before the first leg connects; 204)."""
        await self._rq.request("DELETE", self._extension_path(f"/ring-out/{seg(ringout_id)}"))


class CallLog(Resource):
    """`…/call-log`, at extension level (`list`, `get`) and account level (`list_account`,
    `get_account`, which need the FullCompanyCallLog user permission)."""

    async def list(
        self,
        *,
        extension_number: str | None = None,
        phone_number: str | None = None,
        show_blocked: bool | None = None,
        direction: CallDirection | Sequence[CallDirection] | None = None,
        session_id: str | None = None,
        telephony_session_id: str | None = None,
        type: CallType | Sequence[CallType] | None = None,
        transport: CallTransport | Sequence[CallTransport] | None = None,
        view: CallLogView | None = None,
        with_recording: bool | None = None,
        recording_type: RecordingType | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        metadata_category: str | Sequence[str] | None = None,
        page: int | None = None,
        per_page: PerPage | None = None,
        show_deleted: bool | None = None,
    ) -> CallLogList:
        """`GET …/extension/{id}/call-log` with every documented filter. RingCentral's
        defaults: view Simple, showBlocked true, last 24 h, page 1, perPage 100."""
        params = _filters(
            extension_number=extension_number,
            phone_number=phone_number,
            direction=direction,
            session_id=session_id,
            telephony_session_id=telephony_session_id,
            type=type,
            view=view,
            with_recording=with_recording,
            recording_type=recording_type,
            date_from=date_from,
            date_to=date_to,
            metadata_category=metadata_category,
            page=page,
            per_page=per_page,
            show_deleted=show_deleted,
        )
        # showBlocked and transport exist only at extension level (SPEC readUserCallLog).
        params.update(
            query(showBlocked=flag(show_blocked), transport=many(transport, CallTransport))
        )
        return await self._get(CallLogList, self._extension_path("/call-log"), params)

    async def list_account(
        self,
        *,
        extension_number: str | None = None,
        phone_number: str | None = None,
        direction: CallDirection | Sequence[CallDirection] | None = None,
        session_id: str | None = None,
        telephony_session_id: str | None = None,
        type: CallType | Sequence[CallType] | None = None,
        view: CallLogView | None = None,
        with_recording: bool | None = None,
        recording_type: RecordingType | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        metadata_category: str | Sequence[str] | None = None,
        page: int | None = None,
        per_page: PerPage | None = None,
        show_deleted: bool | None = None,
    ) -> CallLogList:
        """`GET /restapi/v1.0/account/{id}/call-log`: the whole company's calls."""
        params = _filters(
            extension_number=extension_number,
            phone_number=phone_number,
            direction=direction,
            session_id=session_id,
            telephony_session_id=telephony_session_id,
            type=type,
            view=view,
            with_recording=with_recording,
            recording_type=recording_type,
            date_from=date_from,
            date_to=date_to,
            metadata_category=metadata_category,
            page=page,
            per_page=per_page,
            show_deleted=show_deleted,
        )
        return await self._get(CallLogList, self._account_path("/call-log"), params)

    async def get(self, record_id: str, *, view: CallLogView | None = None) -> CallLogRecord:
        """One call-log record of the extension; `view="Detailed"` adds the legs."""
        path = self._extension_path(f"/call-log/{seg(record_id)}")
        return await self._get(CallLogRecord, path, query(view=one(view, CallLogView)))

    async def get_account(
        self, record_id: str, *, view: CallLogView | None = None
    ) -> CallLogRecord:
        """One call-log record at account level."""
        path = self._account_path(f"/call-log/{seg(record_id)}")
        return await self._get(CallLogRecord, path, query(view=one(view, CallLogView)))


def _filters(
    *,
    extension_number: str | None,
    phone_number: str | None,
    direction: str | Sequence[str] | None,
    session_id: str | None,
    telephony_session_id: str | None,
    type: str | Sequence[str] | None,
    view: str | None,
    with_recording: bool | None,
    recording_type: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    metadata_category: str | Sequence[str] | None,
    page: int | None,
    per_page: PerPage | None,
    show_deleted: bool | None,
) -> dict[str, QueryValue]:
    """The query parameters both call-log lists share (SPEC parameter names)."""
    if extension_number is not None and phone_number is not None:
        # RingCentral (SPEC CallLogExtensionNumber): "Cannot be combined with phoneNumber".
        raise ValueError("filter by extension_number or by phone_number, not both")
    if per_page is not None and per_page != "max" and not 1 <= per_page <= 1000:
        raise ValueError("per_page is 1-1000 or 'max'")
    return query(
        extensionNumber=extension_number,
        # RingCentral (SPEC CallLogPhoneNumber): E.164 *without* the leading '+'.
        phoneNumber=phone_number.lstrip("+") if phone_number else None,
        direction=many(direction, CallDirection),
        sessionId=session_id,
        telephonySessionId=telephony_session_id,
        type=many(type, CallType),
        view=one(view, CallLogView),
        withRecording=flag(with_recording),
        recordingType=one(recording_type, RecordingType),
        dateFrom=iso(date_from) if date_from else None,
        dateTo=iso(date_to) if date_to else None,
        metadataCategory=many(metadata_category),
        page=page,
        perPage=per_page,
        showDeleted=flag(show_deleted),
    )
