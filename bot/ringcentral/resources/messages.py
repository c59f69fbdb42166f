"""SMS, MMS, pager messages and the message store (reference §4.1, §4.5, §3.4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode

from pydantic import TypeAdapter

from .._errors import map_exceptions
from .._requester import Download, FilePart, Requester
from ..models.account import ExtensionType
from ..models.limits import (
    MMS_MAX_ATTACHMENTS,
    MMS_MAX_TOTAL_BYTES,
    PAGER_MAX_UTF16_UNITS,
    SMS_MAX_UTF16_UNITS,
    LimitExceeded,
    check_text,
)
from ..models.messages import (
    Availability,
    MessageAttachment,
    MessageBatchPart,
    MessageDirection,
    MessageList,
    MessageRecord,
    MessageType,
    PagerParty,
    PhoneRef,
    ReadStatus,
    SendMmsRequest,
    SendPagerRequest,
    SendSmsRequest,
    SmsCountry,
)
from ._base import Resource, flag, iso, many, query, seg

__all__ = ["DEFAULT_MEDIA_URL", "Messages"]

DEFAULT_MEDIA_URL = "https://media.ringcentral.com"
MESSAGE_BATCH_MAX = 50  # SPEC: "maximum number of IDs passed as query/path parameters is 50"
MULTIPART_JSON = "application/vnd.ringcentral.multipart+json"
BatchParts = list[MessageBatchPart]
_BATCH = TypeAdapter(BatchParts)
Owner = Literal["Any", "Personal", "Shared"]


class Messages(Resource):
    """`…/extension/{id}/sms`, `…/company-pager` and `…/message-store`."""

    def __init__(
        self,
        requester: Requester,
        *,
        account_id: str = "~",
        extension_id: str = "~",
        media_url: str = DEFAULT_MEDIA_URL,
    ) -> None:
        super().__init__(requester, account_id=account_id, extension_id=extension_id)
        # RingCentral: message content "must be called via media API entry point".
        self.media_url = media_url.rstrip("/")

    async def send_sms(
        self,
        from_: str,
        to: str | Sequence[str],
        text: str,
        country: SmsCountry | str | None = None,
    ) -> MessageRecord:
        """Send an SMS from one of the user's `SmsSender` numbers. `country` is an ISO
        code ("US") or a dictionary id ("1"). Raises LimitExceeded before sending when
        `text` passes 1000 UTF-16 units."""
        check_text(text, SMS_MAX_UTF16_UNITS, "SMS text")
        body = SendSmsRequest(
            from_=PhoneRef(phone_number=from_),
            to=_recipients(to),
            text=text,
            country=_country(country),
        )
        return await self._read(
            MessageRecord, "POST", self._extension_path("/sms"), json=body.to_wire()
        )

    async def send_mms(
        self,
        from_: str,
        to: str | Sequence[str],
        text: str | None,
        attachments: Sequence[FilePart],
        country: SmsCountry | str | None = None,
    ) -> MessageRecord:
        """Send an MMS: `attachments` are (filename, bytes, content type). Raises
        LimitExceeded before sending for over 10 attachments, over 1,500,000 bytes in
        all, or text over 1000 UTF-16 units."""
        if text:
            check_text(text, SMS_MAX_UTF16_UNITS, "MMS text")
        if not attachments:
            raise ValueError("an MMS needs at least one attachment; send text as SMS")
        if len(attachments) > MMS_MAX_ATTACHMENTS:
            raise LimitExceeded("MMS", len(attachments), MMS_MAX_ATTACHMENTS, "attachments")
        total = sum(len(content) for _, content, _ in attachments)
        if total > MMS_MAX_TOTAL_BYTES:
            raise LimitExceeded("MMS attachments", total, MMS_MAX_TOTAL_BYTES, "bytes")
        body = SendMmsRequest(
            from_=PhoneRef(phone_number=from_),
            to=_recipients(to),
            text=text or None,
            country=_country(country),
        )
        # RingCentral (DOCS sending-images.md; official SDK multipart builder): the JSON
        # envelope is the FIRST part, named "json", then one part per attachment.
        files: list[tuple[str, FilePart]] = [
            (
                "json",
                (
                    "request.json",
                    body.model_dump_json(by_alias=True, exclude_none=True).encode(),
                    "application/json",
                ),
            )
        ]
        files += [("attachment", part) for part in attachments]
        return await self._read(MessageRecord, "POST", self._extension_path("/sms"), files=files)

    async def send_pager(
        self,
        to: Sequence[PagerParty],
        text: str,
        *,
        from_: PagerParty | None = None,
        reply_on: int | None = None,
    ) -> MessageRecord:
        """Send an internal (company pager) message to extensions; text ≤ 1024 UTF-16 units."""
        check_text(text, PAGER_MAX_UTF16_UNITS, "pager text")
        body = SendPagerRequest(from_=from_, to=list(to), text=text, reply_on=reply_on)
        return await self._read(
            MessageRecord, "POST", self._extension_path("/company-pager"), json=body.to_wire()
        )

    async def list(
        self,
        *,
        availability: Availability | Sequence[Availability] | None = None,
        conversation_id: str | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        direction: MessageDirection | Sequence[MessageDirection] | None = None,
        distinct_conversations: bool | None = None,
        message_type: MessageType | Sequence[MessageType] | None = None,
        read_status: ReadStatus | Sequence[ReadStatus] | None = None,
        page: int | None = None,
        per_page: int | None = None,
        phone_number: str | None = None,
        owner: Owner | Sequence[str] | None = None,
        owner_extension_type: ExtensionType | Sequence[ExtensionType] | None = None,
    ) -> MessageList:
        """`GET …/message-store` with every documented filter. RingCentral's defaults when
        omitted: availability Alive, dateFrom = dateTo - 24 h, page 1, perPage 100."""
        params = query(
            availability=many(availability, Availability),
            conversationId=conversation_id,
            dateFrom=iso(date_from) if date_from else None,
            dateTo=iso(date_to) if date_to else None,
            direction=many(direction, MessageDirection),
            distinctConversations=flag(distinct_conversations),
            messageType=many(message_type, MessageType),
            readStatus=many(read_status, ReadStatus),
            page=page,
            perPage=per_page,
            phoneNumber=phone_number,
            # `owner` is one of Any/Personal/Shared, or a list of extension ids (SPEC OwnerInfo).
            owner=many(owner),
            ownerExtensionType=many(owner_extension_type, ExtensionType),
        )
        return await self._get(MessageList, self._extension_path("/message-store"), params)

    async def get(self, message_id: str) -> MessageRecord:
        """`GET …/message-store/{messageId}`: one message."""
        path = self._extension_path(f"/message-store/{seg(message_id)}")
        return await self._get(MessageRecord, path)

    async def get_many(self, message_ids: Sequence[str]) -> BatchParts:
        """`GET …/message-store/{id1,id2,…}`: up to 50 messages in one request (SPEC bulk
        syntax), a part per id, in the JSON form of the 207 answer. One id is an ordinary
        GET, answered as a part of its own."""
        ids = list(dict.fromkeys(message_ids))
        if not ids or len(ids) > MESSAGE_BATCH_MAX:
            raise ValueError(f"between 1 and {MESSAGE_BATCH_MAX} message ids")
        if len(ids) == 1:
            record = await self.get(ids[0])
            return [MessageBatchPart(resource_id=ids[0], status=200, body=record)]
        path = self._extension_path(f"/message-store/{','.join(seg(i) for i in ids)}")
        response = await self._rq.request("GET", path, headers={"Accept": MULTIPART_JSON})
        with map_exceptions(f"GET {path}", model="MessageBatchPart"):
            return _BATCH.validate_json(response.content)

    async def content(
        self,
        message_id: str,
        attachment_id: str,
        *,
        content_disposition: Literal["Inline", "Attachment"] | None = None,
    ) -> Download:
        """Download one attachment by ids, from the media host."""
        path = self._extension_path(
            f"/message-store/{seg(message_id)}/content/{seg(attachment_id)}"
        )
        url = self.media_url + path
        if content_disposition:
            url += "?" + urlencode({"contentDisposition": content_disposition})
        return await self._rq.download(url)

    async def download(self, attachment: MessageAttachment | str) -> Download:
        """Download an attachment by the `uri` RingCentral gave for it."""
        url = attachment if isinstance(attachment, str) else attachment.uri
        if not url:
            raise ValueError("this attachment has no content uri (2025 SMS text parts have none)")
        return await self._rq.download(url)


def _recipients(to: str | Sequence[str]) -> list[PhoneRef]:
    numbers = [to] if isinstance(to, str) else list(to)
    return [PhoneRef(phone_number=n) for n in numbers]


def _country(country: SmsCountry | str | None) -> SmsCountry | None:
    if country is None or isinstance(country, SmsCountry):
        return country
    # Dictionary ids are digits ("1"); ISO 3166 codes are letters ("US").
    return SmsCountry(id=country) if country.isdigit() else SmsCountry(iso_code=country)
