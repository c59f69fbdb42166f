"""Sending: SMS (JSON), MMS (multipart/form-data or multipart/mixed), company pager.

Limits from reference/ringcentral.md §4.1 and §3.4: SMS text ≤ 1000 UTF-16 code units, MMS
the JSON part first then ≤ 10 attachments totalling ≤ 1,500,000 bytes, numbers in E.164,
pager text ≤ 1024 UTF-16 code units.
"""

from __future__ import annotations

import json
import re
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from ._rc_authz import texting
from ._rc_data import Upload
from ._rc_http import SimResponse, api_error, invalid_param
from ._rc_outbound import outbound
from ._rc_state import Call, SimState, json_ok

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
SMS_MAX_UNITS = 1000  # SPEC CreateSMSMessage.text: 1000 UTF-16 code units
PAGER_MAX_UNITS = 1024  # SPEC CreateInternalTextMessageRequest.text
MMS_MAX_ATTACHMENTS = 10  # SPEC createSMSMessage description
MMS_MAX_BYTES = 1_500_000  # same: "limited up to 1500000 bytes"
# RingCentral's supported MMS content types (DOCS messaging/sms/sending-images.md). What
# RingCentral answers for another type is not documented: the simulator refuses it with
# CMN-101 on `attachment`, the strict reading.
MMS_CONTENT_TYPES = frozenset(
    {
        "image/jpeg", "image/jpg", "image/png", "image/bmp", "image/gif", "image/tiff",
        "image/svg+xml", "video/3gpp", "video/mp4", "video/mpeg", "video/msvideo",
        "audio/mpeg", "text/vcard", "application/zip", "application/gzip", "application/rtf",
    }
)  # fmt: skip


class BadRequest(Exception):
    def __init__(self, response: SimResponse) -> None:
        super().__init__(response.status)
        self.response = response


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_multipart(content_type: str, body: bytes) -> list[Message]:
    """The parts of a multipart body, in order (stdlib email parser, HTTP policy)."""
    raw = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    msg = BytesParser(policy=HTTP).parsebytes(raw)
    if not msg.is_multipart():
        raise BadRequest(api_error(400, "CMN-103", "Multipart body can not be parsed"))
    parts = msg.get_payload()
    assert isinstance(parts, list)
    return [p for p in parts if isinstance(p, Message)]


def _part_bytes(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def parse_sms_request(call: Call) -> tuple[dict[str, Any], list[Upload]]:
    req = call.req
    if req.content_type.startswith("multipart/"):
        parts = split_multipart(req.header("content-type") or "", req.body)
        if not parts or parts[0].get_content_type() != "application/json":
            # RingCentral: the JSON envelope must be the first part of an MMS request
            raise BadRequest(
                invalid_param("body", "The first part of a multipart request must be JSON")
            )
        body = _load_json(_part_bytes(parts[0]))
        uploads = [
            Upload(
                body=_part_bytes(p),
                content_type=p.get_content_type(),
                filename=p.get_filename() or f"attachment{i}",
            )
            for i, p in enumerate(parts[1:], start=1)
        ]
        if len(uploads) > MMS_MAX_ATTACHMENTS:
            raise BadRequest(
                invalid_param("attachment", "Number of attachments exceeds the limit of 10")
            )
        for upload in uploads:
            if upload.content_type.lower() not in MMS_CONTENT_TYPES:
                raise BadRequest(
                    invalid_param("attachment", f"Unsupported content type [{upload.content_type}]")
                )
        if sum(len(u.body) for u in uploads) > MMS_MAX_BYTES:
            raise BadRequest(
                invalid_param("attachment", "Total size of attachments exceeds 1500000 bytes")
            )
        return body, uploads
    if req.content_type != "application/json":
        raise BadRequest(api_error(415, "CMN-415", "Unsupported Media Type"))
    return _load_json(req.body), []


def _load_json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(api_error(400, "CMN-103", "JSON can not be parsed")) from None
    if not isinstance(value, dict):
        raise BadRequest(api_error(400, "CMN-103", "JSON can not be parsed"))
    return value


def phone(obj: Any, name: str) -> str:
    """`obj.phoneNumber`, required and in E.164 (the simulator's stricter reading)."""
    number = obj.get("phoneNumber") if isinstance(obj, dict) else None
    if not isinstance(number, str) or not E164.match(number):
        raise BadRequest(invalid_param(f"{name}.phoneNumber"))
    return number


async def send_sms(st: SimState, call: Call) -> SimResponse:
    try:
        body, uploads = parse_sms_request(call)
        from_number = phone(body.get("from"), "from")
        to = body.get("to")
        if not isinstance(to, list) or not to:
            raise BadRequest(invalid_param("to"))
        to_numbers = [phone(item, "to") for item in to]
        text = body.get("text", "")
        if not isinstance(text, str) or (not text and not uploads):
            raise BadRequest(invalid_param("text"))
        if utf16_units(text) > SMS_MAX_UNITS:
            raise BadRequest(invalid_param("text"))
        country = body.get("country")
        if isinstance(country, dict) and "id" in country and "isoCode" in country:
            raise BadRequest(
                api_error(400, "MSG-365", "Country id and isoCode cannot be specified together")
            )
    except BadRequest as exc:
        return exc.response
    ext = call.extension(st.world)
    mark = st.world.change_mark()
    if uploads:
        record = st.world.add_sent_mms(ext, from_number, to_numbers, text, uploads)
    else:
        record = st.world.add_sent_sms(ext, from_number, to_numbers, text)
    created = st.world.changes_since(mark)
    moves = outbound(st.extras)
    if moves.apply is not None:
        registered = texting(st).campaigns.get(from_number, "Confirmed") == "Confirmed"
        fates = {n: moves.fate(n, registered) for n in to_numbers}
        moves.start(ext, str(record["id"]), fates, created)
    return json_ok(record)


async def send_pager(st: SimState, call: Call) -> SimResponse:
    try:
        body = _load_json(call.req.body)
    except BadRequest as exc:
        return exc.response
    ext = call.extension(st.world)
    text = body.get("text")
    if not isinstance(text, str) or not text or utf16_units(text) > PAGER_MAX_UNITS:
        return invalid_param("text")
    to = body.get("to")
    if not isinstance(to, list) or not to:
        return invalid_param("to")
    targets: list[str] = []
    for item in to:
        target = (
            item.get("extensionId") or item.get("extensionNumber")
            if isinstance(item, dict)
            else None
        )
        if not target:
            return invalid_param("to")
        targets.append(str(target))
    sender = body.get("from")
    if isinstance(sender, dict) and (sender.get("extensionId") or sender.get("extensionNumber")):
        # the sender must be the token's own extension
        fid = str(sender.get("extensionId") or "")
        if fid and fid != ext:
            return invalid_param("from.extensionId")
    reply_on = body.get("replyOn")
    record = st.world.add_pager(ext, targets, text, reply_on=str(reply_on) if reply_on else None)
    return json_ok(record)
