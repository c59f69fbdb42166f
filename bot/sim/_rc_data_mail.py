"""The message-store half of the world's public interface: reads, sends, deliveries."""

from __future__ import annotations

from collections.abc import Sequence

from bot.sim import _rc_data_messages as msgs
from bot.sim._rc_data_base import WorldBase
from bot.sim._rc_data_calls_gen import ext_party
from bot.sim._rc_data_errors import JSON, Content, Query, SimError, Upload, invalid, not_found
from bot.sim._rc_data_messages import MessageChange
from bot.sim._rc_data_messages_gen import mailbox, send_pager
from bot.sim._rc_data_messages_make import fax, text_message, voicemail
from bot.sim._rc_data_paging import iso
from bot.sim._rc_data_people import Extension, digits
from bot.sim._rc_outbound import aggregate

SMS_MAX_UTF16 = 1000  # reference §4.1: text max 1000 UTF-16 code units
MMS_MAX_FILES = 10  # reference §4.1: up to 10 attachments, total <= 1,500,000 bytes
MMS_MAX_BYTES = 1_500_000


class WorldMessages(WorldBase):
    """Message store reads and the mutators the protocol layer calls."""

    def message_store(self, extension_id: str, query: Query) -> JSON:
        """`GET …/extension/{id}/message-store` with every documented filter."""
        ext_id = self.resolve_extension_id(extension_id)
        body = msgs.message_list(self._store, ext_id, self._acc.path(ext_id), query, now=self.now())
        return self._out(body)  # type: ignore[no-any-return]

    def message(self, extension_id: str, message_id: str) -> JSON:
        """`GET …/message-store/{id}`; 404 CMN-102 [messageId] when unknown."""
        ext_id = self.resolve_extension_id(extension_id)
        record = self._store.visible(ext_id, message_id).render(self._acc.path(ext_id))
        return self._out(record)  # type: ignore[no-any-return]

    def messages(self, extension_id: str, message_ids: str) -> list[JSON]:
        """Comma-separated ids → 207 parts `[{resourceId, status, body}]`."""
        ext_id = self.resolve_extension_id(extension_id)
        parts = msgs.message_parts(self._store, ext_id, self._acc.path(ext_id), message_ids)
        return self._out(parts)  # type: ignore[no-any-return]

    def message_content(self, extension_id: str, message_id: str, attachment_id: str) -> Content:
        """Attachment bytes with content type and filename; 404 CMN-102 when unknown."""
        ext_id = self.resolve_extension_id(extension_id)
        return self._store.content(ext_id, message_id, attachment_id)

    def update_message(
        self,
        extension_id: str,
        message_id: str,
        *,
        read_status: str | None = None,
        availability: str | None = None,
    ) -> JSON:
        """`PUT/PATCH …/message-store/{id}` (readStatus, availability); returns the record."""
        ext_id = self.resolve_extension_id(extension_id)
        message = self._store.update(
            ext_id, message_id, read_status=read_status, availability=availability, now=self.now()
        )
        return self._out(message.render(self._acc.path(ext_id)))  # type: ignore[no-any-return]

    def drain_changes(self) -> list[MessageChange]:
        """Message-store changes since the last call (for message-store events, §3.2)."""
        changes, self._store.journal[:] = list(self._store.journal), []
        return changes

    def change_mark(self) -> int:
        """A position in the change journal, for `changes_since()`."""
        return len(self._store.journal)

    def changes_since(self, mark: int) -> list[MessageChange]:
        """Take (remove and return) the changes journaled after `mark`; earlier ones stay
        for `drain_changes()`."""
        taken = self._store.journal[mark:]
        del self._store.journal[mark:]
        return taken

    def finish_transcript(self, message_id: str, text: str) -> JSON:
        """A voicemail's transcription is done: an AudioTranscription attachment (content
        `text`), `vmTranscriptionStatus: Completed`, an Update change; returns the record
        as its mailbox sees it. 404 CMN-102 when no voicemail has that id."""
        message = self._store.messages.get(int(message_id)) if message_id.isdigit() else None
        if message is None or message.body["type"] != "VoiceMail":
            raise not_found("messageId")
        body = message.body
        body["attachments"] = [
            a for a in body["attachments"] if a.get("type") != "AudioTranscription"
        ]
        att_id = self._store.new_id()
        body["attachments"].append(
            {"id": att_id, "type": "AudioTranscription", "contentType": "text/plain"}
        )
        self._store.uploads[(message.id, att_id)] = Content(
            text.encode(), "text/plain", f"{att_id}.txt"
        )
        body["vmTranscriptionStatus"] = "Completed"
        body["lastModifiedTime"] = iso(self.now())
        self._store.touch(message.id)
        for ext_id in (message.mailbox_id, *message.shared_with):
            self._store.journal.append(MessageChange(ext_id, message.id, "VoiceMail", "Update"))
        return self._out(message.render(self._acc.path(message.mailbox_id)))  # type: ignore[no-any-return]

    def _sender(self, extension_id: str, from_number: str, feature: str) -> Extension:
        """The sending extension, after RingCentral's checks on the `from` number (§4.1)."""
        ext = self._acc.ext(self.resolve_extension_id(extension_id))
        owned = [
            n for n in self._acc.numbers_of(ext.id) if digits(n.phone_number) == digits(from_number)
        ]
        if not owned:
            raise SimError(
                400, "MSG-245", "Phone number [from] doesn't belong to extension", "from"
            )
        number = owned[0]
        if number.type == "FaxOnly":
            raise SimError(403, "MSG-241", "Sending SMS from fax number is not supported", "from")
        if "SmsSender" not in number.features:
            raise SimError(403, "MSG-367", "The from phone number does not support SMS", "from")
        if feature == "MmsSender" and feature not in number.features:
            raise SimError(403, "MSG-380", "MMS is not available for the from phone number", "from")
        return ext

    def _outbound_sms(
        self,
        extension_id: str,
        from_number: str,
        to_numbers: Sequence[str],
        text: str,
        uploads: Sequence[Upload],
        feature: str,
    ) -> JSON:
        ext = self._sender(extension_id, from_number, feature)
        if not to_numbers:
            raise invalid("to")
        for number in to_numbers:
            if len(digits(number)) < 7:  # extension and short codes (MSG-246/247)
                raise SimError(
                    400, "MSG-247", "Sending SMS to short numbers is not supported", "to"
                )
        if len(text.encode("utf-16-le")) // 2 > SMS_MAX_UTF16:
            raise invalid("text", f"longer than {SMS_MAX_UTF16} characters")
        conv = self._store.conversation(from_number, *to_numbers)
        message = text_message(
            self._store,
            mailbox(ext),
            kind="SMS",
            direction="Outbound",
            frm={"phoneNumber": from_number},
            to=[{"phoneNumber": n} for n in to_numbers],
            text=text,
            created=self.now(),
            read_status="Read",
            status="Queued",
            conversation_id=conv,
            uploads=uploads,
        )
        self._store.add(message)
        return self._out(message.render(self._acc.path(ext.id)))  # type: ignore[no-any-return]

    def add_sent_sms(
        self, extension_id: str, from_number: str, to_numbers: Sequence[str], text: str
    ) -> JSON:
        """Store an outbound SMS; returns the send-SMS response (sms-send-response.json).

        Checks `from_number` belongs to the extension (MSG-245), is not a fax line
        (MSG-241) and has SmsSender (MSG-367). Status `Queued`; see `set_sent_status()`.
        """
        return self._outbound_sms(extension_id, from_number, to_numbers, text, (), "SmsSender")

    def add_sent_mms(
        self,
        extension_id: str,
        from_number: str,
        to_numbers: Sequence[str],
        text: str,
        attachments: Sequence[Upload],
    ) -> JSON:
        """Store an outbound MMS (mms-send-response.json); MmsSender required (MSG-380).
        Attachments are served back by `message_content`."""
        if (
            len(attachments) > MMS_MAX_FILES
            or sum(len(a.body) for a in attachments) > MMS_MAX_BYTES
        ):
            raise invalid("attachment", "at most 10 files, 1,500,000 bytes in total")
        return self._outbound_sms(
            extension_id, from_number, to_numbers, text, attachments, "MmsSender"
        )

    def set_sent_status(
        self, extension_id: str, message_id: str, statuses: dict[str, tuple[str, str | None]]
    ) -> list[MessageChange]:
        """Move an outbound text on: recipient (E.164) -> (status, error code). One
        recipient: `messageStatus` and `deliveryErrorCode` are its own; several: each
        `to[]` entry carries its `messageStatus` and the record the aggregate. Returns the
        Update change it journaled (taken out of the journal for the caller to deliver)."""
        ext_id = self.resolve_extension_id(extension_id)
        mark = len(self._store.journal)
        message = self._store.visible(ext_id, message_id)
        body = message.body
        recipients = body["to"]
        for party in recipients:
            if (found := statuses.get(party.get("phoneNumber", ""))) is not None:
                party["messageStatus"] = found[0]
        if len(recipients) == 1:
            recipients[0].pop("messageStatus", None)
            status, code = next(iter(statuses.values()))
        else:
            status = aggregate([p.get("messageStatus", "Queued") for p in recipients])
            codes = [c for s, c in statuses.values() if c and s == status]
            code = codes[0] if codes else None
        body["messageStatus"] = status
        if code:
            body["deliveryErrorCode"] = code
        if status == "Delivered":
            body["smsDeliveryTime"] = iso(self.now())
        self._store.update(ext_id, message_id, read_status=None, availability=None, now=self.now())
        return self.changes_since(mark)

    def add_pager(
        self,
        from_extension_id: str,
        to_extensions: Sequence[str],
        text: str,
        *,
        reply_on: str | None = None,
    ) -> JSON:
        """Company pager: Outbound record for the sender, Inbound for each recipient.

        `to_extensions` holds extension ids or extension numbers. Returns the sender's
        record (company-pager-send-response.json). `reply_on` is accepted and ignored.
        """
        del reply_on  # threads of pager messages are not simulated
        sender = self._acc.ext(self.resolve_extension_id(from_extension_id))
        recipients = []
        for target in to_extensions:
            found = [e for e in self._acc.extensions if target in (e.id, e.number)]
            if not found:
                raise invalid("to", target)
            recipients.append(found[0])
        if not recipients:
            raise invalid("to")
        sent = send_pager(
            self._rng,
            self._store,
            sender,
            recipients,
            text,
            self.now(),
            self.now(),
            record=True,
        )
        return self._out(sent.render(self._acc.path(sender.id)))  # type: ignore[no-any-return]

    def add_inbound_sms(
        self,
        extension_id: str,
        from_number: str,
        to_number: str,
        text: str,
        attachments: Sequence[Upload] = (),
        others: Sequence[str] = (),
    ) -> JSON:
        """Store an incoming SMS (MMS when attachments are given), Unread; returns it.

        `others`: the other recipients of a group MMS. They come first in `to`, and our
        number is the one marked `target: true` (SPEC: "Returned in the `to` field for
        group MMS"), so a reader taking `to[0]` for ours is wrong."""
        ext = self._acc.ext(self.resolve_extension_id(extension_id))
        frm: JSON = {"phoneNumber": from_number}
        frm.update(self._caller(from_number))
        ours: JSON = {"phoneNumber": to_number, "name": ext.name}
        to = [{"phoneNumber": n} for n in others] + [ours]
        if others:
            ours["target"] = True
        message = text_message(
            self._store,
            mailbox(ext),
            kind="SMS",
            direction="Inbound",
            frm=frm,
            to=to,
            text=text,
            created=self.now(),
            read_status="Unread",
            status="Received",
            conversation_id=self._store.conversation(to_number, from_number, *others),
            uploads=attachments,
        )
        self._store.add(message)
        return self._out(message.render(self._acc.path(ext.id)))  # type: ignore[no-any-return]

    def add_voicemail(
        self,
        extension_id: str,
        from_number: str,
        *,
        duration: int = 20,
        transcript: str | None = None,
        from_name: str | None = None,
        transcript_pending: bool = False,
        session: tuple[str, str] | None = None,
    ) -> JSON:
        """Store a voicemail (+ its call-log record, result Voicemail); returns the message.

        With `transcript`, the message carries an AudioTranscription attachment and
        `vmTranscriptionStatus: Completed`; with `transcript_pending`, `InProgress` until
        `finish_transcript()`; otherwise `NotAvailable`. `session`: (sessionId,
        telephonySessionId) of the call that left it, for its call-log record.
        """
        ext = self._acc.ext(self.resolve_extension_id(extension_id))
        frm: JSON = {"phoneNumber": from_number, **self._caller(from_number)}
        if from_name:
            frm["name"] = from_name
        own = ext_party(ext, ext.direct_number)
        own.pop("extensionId")
        status = "InProgress" if transcript_pending else "NotAvailable"
        message = voicemail(
            self._store,
            mailbox(ext),
            frm=frm,
            to=[own],
            created=self.now(),
            duration=duration,
            read_status="Unread",
            transcription_status="Completed" if transcript else status,
            transcript=transcript,
        )
        self._store.add(message)
        self._add_call(
            ext.id,
            "Voice",
            "Inbound",
            from_number,
            frm.get("name"),
            "Voicemail",
            duration,
            message=(message.id, "VoiceMail"),
            session=session,
        )
        return self._out(message.render(self._acc.path(ext.id)))  # type: ignore[no-any-return]

    def add_inbound_fax(self, extension_id: str, from_number: str, *, pages: int = 1) -> JSON:
        """Store an incoming fax (+ its call-log record, result Received); returns it."""
        ext = self._acc.ext(self.resolve_extension_id(extension_id))
        own = ext_party(ext, ext.direct_number)
        own.pop("extensionId")
        message = fax(
            self._store,
            mailbox(ext),
            direction="Inbound",
            frm={"phoneNumber": from_number, **self._caller(from_number)},
            to=[own],
            created=self.now(),
            pages=pages,
            read_status="Unread",
        )
        self._store.add(message)
        self._add_call(
            ext.id,
            "Fax",
            "Inbound",
            from_number,
            None,
            "Received",
            20 * pages,
            message=(message.id, "Fax"),
        )
        return self._out(message.render(self._acc.path(ext.id)))  # type: ignore[no-any-return]
