"""The steps after a post: its files into the thread, a voicemail's transcript, and the
message shown again when it changed.

Uploads (voicemail audio, fax PDF, MMS images) are their own recorded step after their
message (DESIGN §3.7): downloaded from RingCentral (token only to its own hosts), then
`files_upload_v2` into the post's thread. Transcripts: RingCentral transcribes after the
voicemail event; the bridge asks again (sooner when a message-store change says a
voicemail changed) and, when the text is there, stores it in the voicemail's notices and
asks for an update of their messages. Updates (a transcript, Mark handled) are claimed and
retried like posts (`Updater`), so a chat.update that fails is tried again rather than lost.
Every step's write-back checks its lease (`bot.store.work.write_back`), and an exception
no step expected ends, after a few tries, in a dead letter with its reason.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.clock import Clock
from bot.notices import VoicemailNotice, dump_notice, load_notice
from bot.ringcentral import ApiError, RingCentralClient, RingCentralError, UnsafeURLError
from bot.slack.render import Locale, render_notice
from bot.store.schema import Followup, Post, Update, Upload
from bot.store.updates import queue_update
from bot.store.work import claim, write_back

from . import faults
from .classify import transcript_attachment
from .faults import backoff
from .poster import LEASE, UPLOAD_LEASE, handled, taken_of
from .slack_errors import read_failure

log = logging.getLogger("bot.bridge.followups")

TRANSCRIPT_DONE = frozenset({"Completed", "CompletedPartially"})
TRANSCRIPT_WAITING = frozenset({"InProgress", "Unknown", None})
TRANSCRIPT_GIVE_UP = timedelta(minutes=15)
MAX_UPLOAD_ATTEMPTS = 20  # with backoff capped at 5 min: over an hour of trying
MAX_UPDATE_ATTEMPTS = 20  # the same for a message's update
MAX_TRANSCRIPT_ERRORS = 10  # RingCentral failing to answer about one voicemail
UPDATE_WAIT = timedelta(seconds=5)  # an update of a post whose sending is not settled


@dataclass
class Uploader:
    engine: AsyncEngine
    slack: AsyncWebClient
    rc: RingCentralClient
    clock: Clock
    batch: int = 5

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def run_once(self) -> int:
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        async with self._sessions.begin() as session:
            uploads = await claim(session, Upload, now=now, lease=UPLOAD_LEASE, limit=self.batch)
        return await faults.each(
            self._sessions, uploads, "upload", now, lambda upload: self._upload(upload, now)
        )

    async def _upload(self, upload: Upload, now: datetime) -> None:
        async with self._sessions() as session:
            post = await session.get(Post, upload.post_id)
        if post is None or post.ts is None:
            raise LookupError("an upload whose message was never posted")
        try:
            file = await self.rc.download(upload.uri)
            await self.slack.files_upload_v2(
                channel=post.channel,
                thread_ts=post.thread_ts or post.ts,
                content=file.content,
                filename=_filename(
                    post.kind, upload.filename or file.filename, upload.content_type
                ),
                title=_title(post.kind),
            )
        except ApiError as exc:
            if exc.status in (403, 404):
                await self._set(upload, state="dead", error=exc.error_code)
                log.error("upload %s: RingCentral %s", upload.id, exc.error_code)
                return
            await self._retry(upload, now, exc.error_code)
            return
        except UnsafeURLError:
            # The URL names a host that is not RingCentral's: never send it our token.
            await self._set(upload, state="dead", error="unsafe content URL")
            log.error("upload %s: content URL is not on a RingCentral host", upload.id)
            return
        except RingCentralError as exc:
            await self._retry(upload, now, type(exc).__name__)
            return
        except Exception as exc:  # Slack's failures, classified
            failure = read_failure(exc)
            if failure.kind == "permanent":
                await self._set(upload, state="dead", error=failure.reason)
                log.error("upload %s to %s: %s", upload.id, post.channel, failure.reason)
                return
            await self._retry(upload, now, failure.reason, failure.retry_after)
            return
        await self._set(upload, state="done")

    async def _retry(
        self, upload: Upload, now: datetime, error: str, wait: float | None = None
    ) -> None:
        if upload.attempts >= MAX_UPLOAD_ATTEMPTS:
            await self._set(upload, state="dead", error=error)
            return
        delay = wait if wait is not None else backoff(upload.attempts + 1)
        await self._set(
            upload, error=error, attempts=upload.attempts + 1,
            next_attempt_at=now + timedelta(seconds=delay),
        )  # fmt: skip

    async def _set(self, upload: Upload, **values: object) -> None:
        async with self._sessions.begin() as session:
            if not await write_back(session, upload, **values):
                log.info("upload %s: lease lost; its new holder decides", upload.id)


@dataclass
class Transcripts:
    engine: AsyncEngine
    rc: RingCentralClient
    clock: Clock
    batch: int = 5

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def run_once(self) -> int:
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        async with self._sessions.begin() as session:
            due = await claim(session, Followup, now=now, lease=LEASE, limit=self.batch)
        return await faults.each(
            self._sessions, due, "transcript", now, lambda followup: self._check(followup, now)
        )

    async def _check(self, followup: Followup, now: datetime) -> None:
        try:
            status, text = await fetch_transcript(
                self.rc, followup.message_id, followup.extension_id
            )
        except RingCentralError as exc:
            error = getattr(exc, "error_code", "") or type(exc).__name__
            log.info("transcript of %s: %s", followup.message_id, error)
            await self._again(followup, now, error)
            return
        if status in TRANSCRIPT_WAITING and now - followup.created_at < TRANSCRIPT_GIVE_UP:
            await self._again(followup, now)
            return
        await self._show(followup, text, status, now)

    async def _again(self, followup: Followup, now: datetime, error: str | None = None) -> None:
        values: dict[str, object] = {"attempts": followup.attempts + 1}
        if error is not None and followup.attempts + 1 >= MAX_TRANSCRIPT_ERRORS:
            values |= {"state": "dead", "error": f"RingCentral kept failing: {error}"}
        else:
            delay = timedelta(seconds=min(30 * 2**followup.attempts, 120))
            values |= {"next_attempt_at": now + delay, "error": error}
        async with self._sessions.begin() as session:
            await write_back(session, followup, **values)

    async def _show(
        self, followup: Followup, transcript: str | None, status: str | None, now: datetime
    ) -> None:
        """Put the transcript (or its final status) into the voicemail's notices, and ask
        for their messages to be shown again (`Updater`): one transaction, so a failed
        Slack call later loses nothing."""
        async with self._sessions.begin() as session:
            gone = await session.execute(
                delete(Followup).where(
                    Followup.message_id == followup.message_id,
                    Followup.claimed_until == followup.claimed_until,  # still our lease
                )
            )
            if not getattr(gone, "rowcount", 0):
                return  # our lease ran out: the process that holds it now shows it
            posts = list(
                (
                    await session.scalars(
                        select(Post).where(
                            Post.kind == "voicemail", Post.item == followup.message_id
                        )
                    )
                ).all()
            )
            for post in posts:
                notice = load_notice(post.notice)
                assert isinstance(notice, VoicemailNotice)
                notice = dataclasses.replace(
                    notice, transcript=transcript, transcript_status=status or "Unknown"
                )
                post.notice = dump_notice(notice)
                if post.state != "pending":  # a pending post renders the new notice itself
                    await queue_update(session, post.id, now)


@dataclass
class Updater:
    """Shows a posted message again (chat.update) after its notice changed; retried like a
    post: Retry-After, backoff, a dead letter after MAX_UPDATE_ATTEMPTS or at once for a
    permanent refusal. The message is rendered from the post as it is when the update
    runs, so one update shows every change made before it."""

    engine: AsyncEngine
    slack: AsyncWebClient
    clock: Clock
    region: Callable[[], Awaitable[str]]
    timezone: Callable[[], Awaitable[tzinfo]]  # the account's: the time fallbacks' zone
    batch: int = 10
    lease: timedelta = LEASE

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def run_once(self) -> int:
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        async with self._sessions.begin() as session:
            due = await claim(session, Update, now=now, lease=self.lease, limit=self.batch)
        return await faults.each(
            self._sessions, due, "update", now, lambda job: self._update(job, now)
        )

    async def _update(self, job: Update, now: datetime) -> None:
        async with self._sessions() as session:
            post = await session.get(Post, job.post_id)
        if post is None:
            raise LookupError("an update of a post that does not exist")
        if post.state in ("pending", "dead"):
            # A pending post renders its notice as it is when it posts; a dead one shows
            # nothing to update.
            await self._set(
                job, state="done", error=None if post.state == "pending" else "post dead"
            )
            return
        if post.state == "sending" or post.ts is None:
            await self._set(job, next_attempt_at=now + UPDATE_WAIT)  # not settled yet
            return
        locale = Locale(await self.region(), await self.timezone())
        reply = render_notice(
            load_notice(post.notice), locale=locale, handled=handled(post), taken=taken_of(post)
        )
        try:
            await self.slack.chat_update(
                channel=post.channel, ts=post.ts, text=reply.text, blocks=reply.blocks
            )
        except Exception as exc:  # Slack's failures, classified; anything else re-raised
            failure = read_failure(exc)
            if failure.kind in ("permanent", "join") or job.attempts + 1 >= MAX_UPDATE_ATTEMPTS:
                log.error("update of %s in %s: %s", post.ts, post.channel, failure.reason)
                await self._set(job, state="dead", error=failure.reason, attempts=job.attempts + 1)
                return
            delay = (
                failure.retry_after
                if failure.retry_after is not None
                else backoff(job.attempts + 1)
            )
            log.warning(
                "update of %s in %s: %s, retry in %.0f s",
                post.ts,
                post.channel,
                failure.reason,
                delay,
            )
            await self._set(
                job, error=failure.reason, attempts=job.attempts + 1,
                next_attempt_at=now + timedelta(seconds=delay),
            )  # fmt: skip
            return
        async with self._sessions.begin() as session:
            revision = await session.scalar(select(Update.revision).where(Update.id == job.id))
            # A change asked for while this update was in flight: shown by one more pass.
            state = "done" if revision == job.revision else "pending"
            await write_back(session, job, state=state, attempts=0, error=None, next_attempt_at=now)

    async def _set(self, job: Update, **values: object) -> None:
        async with self._sessions.begin() as session:
            if not await write_back(session, job, **values):
                log.info("update %s: lease lost; its new holder decides", job.id)


async def fetch_transcript(
    rc: RingCentralClient, message_id: str, extension_id: str | None
) -> tuple[str | None, str | None]:
    """A voicemail's transcription status and, once it is done, its text (RingCentral
    keeps it as the message's AudioTranscription attachment)."""
    messages = rc.messages.for_extension(extension_id) if extension_id else rc.messages
    record = await messages.get(message_id)
    status = record.vm_transcription_status
    if status in TRANSCRIPT_DONE and (attachment := transcript_attachment(record)):
        text = (await rc.download(attachment.uri)).content.decode("utf-8", "replace").strip()
        return status, text or None
    return status, None


def _filename(kind: str, given: str | None, content_type: str) -> str:
    """What people see in the thread: "voicemail.wav", "fax.pdf"; an MMS keeps its name.
    (RingCentral names voicemails and faxes by message id, which says nothing.)"""
    if kind == "sms" and given:
        return given
    return _default_name(content_type, stem=_title(kind).lower())


def _default_name(content_type: str, stem: str = "attachment") -> str:
    extension = {
        "audio/x-wav": "wav", "audio/wav": "wav", "audio/mpeg": "mp3",
        "application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif",
    }.get(content_type.split(";")[0].strip(), "bin")  # fmt: skip
    return f"{stem}.{extension}"


def _title(kind: str) -> str:
    return {"voicemail": "Voicemail", "fax": "Fax", "sms": "MMS attachment"}.get(kind, "File")
