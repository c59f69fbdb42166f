"""Thread replies, sent by the dispatcher (DESIGN §3.8).

The Slack listener stores a person's reply in an SMS conversation's thread before Slack
gets its ack (`bot.store.replies`); this step claims it with a lease and decides:

- **kept in the team** — a note prefix, any mention, `replies = "off"` on a route posting
  the conversation into that channel, or an author who may not text from that number:
  nothing is texted; a `lock` reaction, and the first time for that person in that thread
  one ephemeral line saying why (a DM when an ephemeral cannot be posted);
- **nothing** — empty once Slack's markup is turned into text;
- **not texted, and why** — too long, files RingCentral does not take as MMS…: an
  ephemeral reason, nothing sent;
- **texted** — SMS, or MMS with its files, from the conversation's company number: on
  the author's own session when they are connected and the number is one of theirs
  (DESIGN §3.9; `[permissions] sms` is then not asked), else on the shared one. A
  connected author whose session RingCentral refuses is told to reconnect and nothing is
  sent: not on the shared session either (it would come from a number they did not mean).

Any failure counts an attempt and retries with backoff; past `MAX_ATTEMPTS` the reply is
a dead letter and its author gets a DM. Before RingCentral is asked the row is marked
`sending`: a reply found `sending` again (the process died, or the answer never came) is
looked for in the message store before it is sent a second time, so a crash or a retried
event never texts twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.notices import SmsNotice, load_notice
from bot.ringcentral import (
    AccountFacts,
    ApiError,
    AuthError,
    DecodingError,
    RateLimited,
    RingCentralClient,
    RingCentralError,
)
from bot.ringcentral.models import SMS_MAX_UTF16_UNITS, MessageRecord, utf16_units
from bot.slack import render
from bot.slack.explain import explain
from bot.slack.payloads import MessageEvent
from bot.slack.personal import Acting, PersonalAccounts, SessionEnded
from bot.slack.render import Reply
from bot.slack.text import internal_marker, to_plain
from bot.store import AuditEntry, AuditLog, Conversation, Posts
from bot.store.outbound import SERVICE
from bot.store.replies import StoredReply, ThreadReplies

from .mms import FilesRefused, MmsFiles
from .poster import backoff
from .routing import Router

log = logging.getLogger("bot.bridge.replies")

# A send, and before it the files of an MMS downloaded and re-encoded.
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8  # with backoff capped at 5 min: about 20 min of trying
# How far before the reply was stored an earlier attempt's text is looked for.
SENT_LOOKBACK = timedelta(minutes=5)

# (Slack person, channel, the conversation's company number) → may they text from it on
# the shared session. Issue 12 brings `[permissions] sms` and connected accounts.
MayText = Callable[[str, str, str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class OutgoingReply:
    """A reply about to be texted, and the Slack message it came from (for receipts)."""

    channel: str
    ts: str
    thread_ts: str
    user: str
    from_number: str
    to: tuple[str, ...]  # the other party, or every other party of a group MMS
    text: str
    identity: str = SERVICE  # whose session sends it (`outbound.identity`)


class ReplyReceipts(Protocol):
    """Receipts (issue 11 item 2) around each send of a reply: `before` records the text
    (from, to, text hash) before RingCentral is asked and returns a handle; `after` gets
    RingCentral's answer (the record, or the error a refusal raised, with `refusal` in
    words) and returns True when the author was told of a refusal (no ephemeral then)."""

    async def before(self, reply: OutgoingReply) -> object: ...

    async def after(
        self,
        reply: OutgoingReply,
        handle: object,
        answer: MessageRecord | RingCentralError,
        refusal: str | None,
    ) -> bool: ...


async def everyone_may_text(user: str, channel: str, company_number: str) -> bool:  # noqa: ARG001
    """Until `[permissions] sms` exists (issue 12), everyone may."""
    return True


class NoReceipts:
    """Until receipts exist, a send is recorded in the audit only."""

    async def before(self, reply: OutgoingReply) -> object:
        return None

    async def after(
        self,
        reply: OutgoingReply,
        handle: object,
        answer: MessageRecord | RingCentralError,
        refusal: str | None,
    ) -> bool:
        return False


def recipients(conversation: Conversation) -> tuple[str, ...]:
    """Who a reply goes to: the other party, or every other party of a group MMS (its
    thread's key is `group:…`; the parties are in the parent notice)."""
    if conversation.parent_notice is not None and conversation.other_number.startswith("group:"):
        notice = load_notice(conversation.parent_notice)
        if isinstance(notice, SmsNotice) and notice.parties:
            return notice.parties
    return (conversation.other_number,)


class NotTexted(Exception):
    """A reply that cannot be texted as it is: the sentence says why, to its author."""


@dataclass
class ReplySender:
    replies: ThreadReplies
    posts: Posts
    audit: AuditLog
    slack: AsyncWebClient
    rc: RingCentralClient
    facts: AccountFacts
    router: Router
    clock: Clock
    mms: MmsFiles
    may_text: MayText = everyone_may_text
    receipts: ReplyReceipts = field(default_factory=NoReceipts)
    # Connected people's own sessions (DESIGN §3.9); None: every reply on the shared one.
    accounts: PersonalAccounts | None = None
    batch: int = 10
    _missing_scopes: set[str] = field(default_factory=set)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def run_once(self) -> int:
        claimed = await self.replies.claim(now=self._now(), lease=LEASE, limit=self.batch)
        for reply in claimed:
            try:
                await self._handle(reply)
            except Exception as exc:  # whatever it was: retried, then a dead letter
                await self._failed(reply, exc)
        return len(claimed)

    # -- deciding ---------------------------------------------------------------------------

    async def _handle(self, reply: StoredReply) -> None:
        event = MessageEvent.model_validate(reply.event)
        conversation = await self.posts.conversation(reply.channel, reply.thread_ts)
        if conversation is None:  # the thread is no conversation's any more
            await self.replies.write_back(reply, state="done", outcome="no_conversation")
            return
        reason = self._kept_because(reply, event, conversation)
        acting = Acting(self.rc)
        if reason is None:
            try:
                acting = await self._acting(reply, event, conversation)
            except SessionEnded as exc:
                await self._session_ended(reply, exc)
                return
            if not acting.personal and not await self.may_text(
                reply.user, reply.channel, conversation.company_number
            ):
                reason = "permission"
        if reason is not None:
            await self._keep_in_team(reply, conversation, reason)
            return
        text = to_plain(event.text or "")
        if not text.strip() and not event.files:
            await self.replies.write_back(reply, state="done", outcome="empty")
            return
        try:
            attachments = await self._prepare(text, event, conversation, acting)
        except NotTexted as exc:
            if await self.replies.write_back(reply, state="done", outcome="not_texted"):
                await self._tell(reply, render.not_texted(str(exc)))
            return
        if reply.state == "sending":
            earlier = await self._sent_before(reply, conversation, text, acting.rc)
            if earlier is not None:
                log.warning("reply %s was texted before its write-back: not sent again", reply.id)
                await self._texted(reply, conversation, earlier)
                return
        if not await self.replies.write_back(reply, release=False, state="sending"):
            return  # our lease ran out and another process has the reply
        await self._send(reply, conversation, text, attachments, acting)

    def _kept_because(
        self, reply: StoredReply, event: MessageEvent, conversation: Conversation
    ) -> str | None:
        """Why the reply stays in the team whoever wrote it (DESIGN §3.8), or None; the
        author's permission is asked once their session is known."""
        if conversation.parent_notice is not None:
            notice = load_notice(conversation.parent_notice)
            if self.router.replies_off(reply.channel, notice):
                return "replies_off"
        return internal_marker(event.text or "")

    async def _acting(
        self, reply: StoredReply, event: MessageEvent, conversation: Conversation
    ) -> Acting:
        """Whose session texts the reply: the author's own when they are connected and the
        conversation's number is one of theirs, else the shared one (DESIGN §3.9)."""
        if self.accounts is None:
            return Acting(self.rc)
        return await self.accounts.texting_from(event.team, reply.user, conversation.company_number)

    async def _session_ended(self, reply: StoredReply, exc: SessionEnded) -> None:
        """RingCentral refused the author's own session: not texted (not on the shared
        session either), and they are told in the thread to reconnect."""
        log.warning("reply %s not texted: its author's RingCentral session was refused", reply.id)
        # Written back first: a retry would find them disconnected and use the shared one.
        if await self.replies.write_back(reply, state="done", outcome="session_ended"):
            await self._tell(reply, render.not_texted(str(exc)))
            try:
                await self._react(reply, "warning")
            except SlackApiError as err:  # the reply is settled; the sentence was said
                log.info("no warning on reply %s: %s", reply.id, err.response.get("error"))

    async def _keep_in_team(
        self, reply: StoredReply, conversation: Conversation, reason: str
    ) -> None:
        await self._react(reply, "lock")
        told = False
        if not await self.replies.told_before(reply.channel, reply.thread_ts, reply.user):
            locale = render.Locale(await self.facts.region(), await self.facts.timezone())
            told = await self._tell(
                reply, render.kept_in_team(reason, recipients(conversation)[0], locale)
            )
        await self.replies.write_back(reply, state="done", outcome=f"internal:{reason}", told=told)

    async def _prepare(
        self, text: str, event: MessageEvent, conversation: Conversation, acting: Acting
    ) -> list[tuple[str, bytes, str]]:
        """The MMS attachments of the reply (none for an SMS); NotTexted says why it
        cannot go as it is."""
        units = utf16_units(text)
        if units > SMS_MAX_UTF16_UNITS:
            raise NotTexted(
                f"{units} characters, and a text carries {SMS_MAX_UTF16_UNITS} (emoji count "
                "as 2). Shorten it and reply again."
            )
        if not event.files:
            return []
        if acting.personal:
            mms = await acting.rc.account.numbers_with_feature("MmsSender")
        else:
            mms = await self.facts.numbers_with("MmsSender")
        senders = {n.phone_number for n in mms}
        if conversation.company_number not in senders:
            raise NotTexted(
                f"{conversation.company_number} cannot send pictures or files (RingCentral "
                "gives it no MMS feature). Send the text without files."
            )
        try:
            return await self.mms.attachments(event.files)
        except FilesRefused as exc:
            if exc.scope:
                self._say_missing_scope(exc.scope, "files in thread replies are not sent as MMS")
            raise NotTexted(str(exc)) from None

    # -- sending ----------------------------------------------------------------------------

    async def _send(
        self,
        reply: StoredReply,
        conversation: Conversation,
        text: str,
        attachments: list[tuple[str, bytes, str]],
        acting: Acting,
    ) -> None:
        company, to = conversation.company_number, recipients(conversation)
        outgoing = OutgoingReply(
            reply.channel, reply.ts, reply.thread_ts, reply.user, company, to, text,
            identity=acting.identity,
        )  # fmt: skip
        handle = await self.receipts.before(outgoing)
        messages = acting.rc.messages
        try:
            if attachments:
                record = await messages.send_mms(company, to, text or None, attachments)
            else:
                record = await messages.send_sms(company, to, text)
        except DecodingError:
            # A 2xx RingCentral answered in a shape we cannot read: it took the text.
            log.warning("reply %s: RingCentral's answer to the send was unreadable", reply.id)
            await self.replies.write_back(reply, state="done", outcome="texted")
            return
        except AuthError:
            if acting.connection is None or self.accounts is None:
                raise  # the shared session's sign-in: retried
            await self.accounts.session_ended(acting.connection)
            await self._session_ended(reply, SessionEnded())
            return
        except (ApiError, RateLimited) as exc:
            if isinstance(exc, ApiError) and (exc.status >= 500 or exc.status in (408, 409)):
                raise  # RingCentral's trouble, not a refusal: retried
            code = exc.error_code or type(exc).__name__
            log.warning("reply %s refused by RingCentral: %s", reply.id, code)
            await self.audit.record(
                AuditEntry(
                    slack_user=reply.user,
                    action="mms" if attachments else "sms",
                    to_number=", ".join(to),
                    from_number=company,
                    result="rate_limited" if isinstance(exc, RateLimited) else "refused",
                    error=code,
                )
            )
            if await self.replies.write_back(reply, state="done", outcome="refused", error=code):
                sentence = explain(exc, from_number=company)
                if not await self._receipt(outgoing, handle, exc, sentence):
                    await self._tell(reply, render.not_texted(sentence))
            return
        await self._texted(reply, conversation, record, files=bool(attachments))
        await self._receipt(outgoing, handle, record, None)

    async def _receipt(
        self,
        outgoing: OutgoingReply,
        handle: object,
        answer: MessageRecord | RingCentralError,
        refusal: str | None,
    ) -> bool:
        try:
            return await self.receipts.after(outgoing, handle, answer, refusal)
        except Exception:  # a receipt must not make a texted reply look unsent
            log.exception("no receipt for the reply in %s at %s", outgoing.channel, outgoing.ts)
            return False

    async def _texted(
        self,
        reply: StoredReply,
        conversation: Conversation,
        record: MessageRecord,
        *,
        files: bool = False,
    ) -> None:
        if not await self.replies.write_back(
            reply, state="done", outcome="texted", ringcentral_id=str(record.id)
        ):
            log.warning("reply %s was texted after its lease ran out", reply.id)
        company, to = conversation.company_number, ", ".join(recipients(conversation))
        await self.audit.record(
            AuditEntry(reply.user, "mms" if files else "sms", to, "sent", company, record.id)
        )

    async def _sent_before(
        self, reply: StoredReply, conversation: Conversation, text: str, rc: RingCentralClient
    ) -> MessageRecord | None:
        """The text an earlier attempt sent, if RingCentral has it (a crash, or an answer
        lost, after the send), looked for in the mailbox of the session that sends it."""
        to = recipients(conversation)
        listing = await rc.messages.list(
            direction="Outbound",
            message_type="SMS",
            phone_number=to[0],
            date_from=reply.created_at - SENT_LOOKBACK,
            per_page=100,
        )
        for record in listing.records:
            sender = record.from_.phone_number if record.from_ else None
            sent_to = {party.phone_number for party in record.to}
            if (
                sender == conversation.company_number
                and set(to) <= sent_to
                and (record.subject or "") == text
            ):
                return record
        return None

    async def _failed(self, reply: StoredReply, exc: Exception) -> None:
        attempts = reply.attempts + 1
        error = getattr(exc, "error_code", "") or type(exc).__name__
        if isinstance(exc, SlackApiError):
            error = f"slack:{exc.response.get('error')}"
        if attempts >= MAX_ATTEMPTS:
            log.error("reply %s is a dead letter after %d attempts: %s", reply.id, attempts, error)
            if await self.replies.write_back(reply, state="dead", attempts=attempts, error=error):
                await self._dm(reply, render.not_texted(_gave_up(error)))
            return
        log.warning("reply %s failed (%s); attempt %d", reply.id, error, attempts, exc_info=exc)
        wait = getattr(exc, "retry_after", None) or backoff(attempts)
        await self.replies.write_back(
            reply,
            attempts=attempts,
            error=error,
            next_attempt_at=self._now() + timedelta(seconds=wait),
        )

    # -- Slack ------------------------------------------------------------------------------

    async def _react(self, reply: StoredReply, name: str) -> None:
        try:
            await self.slack.reactions_add(channel=reply.channel, timestamp=reply.ts, name=name)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "missing_scope":
                self._say_missing_scope("reactions:write", "no lock or receipts on replies")
            elif _transient(exc):
                raise
            elif error != "already_reacted":
                log.info("no %s reaction on reply %s: %s", name, reply.id, error)

    async def _tell(self, reply: StoredReply, notice: Reply) -> bool:
        """One ephemeral line to the reply's author in its thread, or a DM when Slack
        cannot show it there; whether either was posted."""
        try:
            await self.slack.chat_postEphemeral(
                channel=reply.channel,
                user=reply.user,
                thread_ts=reply.thread_ts,
                text=notice.text,
                blocks=notice.blocks,
            )
            return True
        except SlackApiError as exc:
            log.info("no ephemeral for reply %s (%s): a DM", reply.id, exc.response.get("error"))
        return await self._dm(reply, notice)

    async def _dm(self, reply: StoredReply, notice: Reply) -> bool:
        try:
            opened = await self.slack.conversations_open(users=reply.user)
            channel = (opened.get("channel") or {}).get("id")
            await self.slack.chat_postMessage(
                channel=str(channel), text=notice.text, blocks=notice.blocks
            )
            return True
        except SlackApiError as exc:
            log.warning("could not tell %s about reply %s: %s", reply.user, reply.id, exc)
            return False

    def _say_missing_scope(self, scope: str, what: str) -> None:
        """A scope the Slack token lacks disables only its feature; said once."""
        if scope not in self._missing_scopes:
            self._missing_scopes.add(scope)
            log.warning(
                "the Slack token lacks %s: %s (add the scope and reinstall the app)", scope, what
            )


def _transient(exc: SlackApiError) -> bool:
    status = getattr(exc.response, "status_code", 200)
    return status == 429 or status >= 500 or exc.response.get("error") == "ratelimited"


def _gave_up(error: str) -> str:
    return (
        f"your thread reply could not be texted after {MAX_ATTEMPTS} tries ({error}); "
        "it may not have reached the customer. Check the conversation and send it again."
    )
