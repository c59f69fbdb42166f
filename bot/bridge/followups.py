"""The steps after a post: its files into the thread, and a voicemail's transcript.

Uploads (voicemail audio, fax PDF, MMS images) are their own recorded step after their
message (DESIGN §3.7): downloaded from RingCentral (token only to its own hosts), then
`files_upload_v2` into the post's thread. Transcripts: RingCentral transcribes after the
voicemail event; the bridge asks again (sooner when a message-store change says a
voicemail changed) and updates the voicemail's message when the text is there.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.clock import Clock
from bot.notices import VoicemailNotice, dump_notice, load_notice
from bot.ringcentral import ApiError, RingCentralClient, RingCentralError, UnsafeURLError
from bot.slack.render import Locale, render_notice
from bot.store.schema import Followup, Post, Upload
from bot.store.work import claim

from .classify import transcript_attachment
from .poster import LEASE, UPLOAD_LEASE, backoff, taken_of
from .slack_errors import read_failure

log = logging.getLogger("bot.bridge.followups")

TRANSCRIPT_DONE = frozenset({"Completed", "CompletedPartially"})
TRANSCRIPT_WAITING = frozenset({"InProgress", "Unknown", None})
TRANSCRIPT_GIVE_UP = timedelta(minutes=15)
MAX_UPLOAD_ATTEMPTS = 20  # with backoff capped at 5 min: over an hour of trying


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
        for upload in uploads:
            await self._upload(upload, now)
        return len(uploads)

    async def _upload(self, upload: Upload, now: datetime) -> None:
        async with self._sessions() as session:
            post = await session.get(Post, upload.post_id)
        assert post is not None and post.ts is not None  # uploads follow a posted message
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
            await session.execute(
                update(Upload).where(Upload.id == upload.id).values(claimed_until=None, **values)
            )


@dataclass
class Transcripts:
    engine: AsyncEngine
    slack: AsyncWebClient
    rc: RingCentralClient
    clock: Clock
    region: Callable[[], Awaitable[str]]
    timezone: Callable[[], Awaitable[tzinfo]]  # the account's: the time fallbacks' zone
    batch: int = 5

    def __post_init__(self) -> None:
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def run_once(self) -> int:
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        async with self._sessions.begin() as session:
            due = list(
                (
                    await session.scalars(
                        select(Followup)
                        .where(Followup.next_attempt_at <= now)
                        .order_by(Followup.next_attempt_at)
                        .limit(self.batch)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            for followup in due:  # a lease: nobody else asks for a minute
                followup.next_attempt_at = now + LEASE
        for followup in due:
            await self._check(followup, now)
        return len(due)

    async def _check(self, followup: Followup, now: datetime) -> None:
        try:
            status, text = await fetch_transcript(
                self.rc, followup.message_id, followup.extension_id
            )
        except RingCentralError as exc:
            log.info("transcript of %s: %s", followup.message_id, type(exc).__name__)
            await self._again(followup, now)
            return
        if status in TRANSCRIPT_WAITING and now - followup.created_at < TRANSCRIPT_GIVE_UP:
            await self._again(followup, now)
            return
        await self._show(followup.message_id, text, status)
        async with self._sessions.begin() as session:
            await session.execute(
                delete(Followup).where(Followup.message_id == followup.message_id)
            )

    async def _again(self, followup: Followup, now: datetime) -> None:
        delay = timedelta(seconds=min(30 * 2**followup.attempts, 120))
        async with self._sessions.begin() as session:
            await session.execute(
                update(Followup)
                .where(Followup.message_id == followup.message_id)
                .values(attempts=followup.attempts + 1, next_attempt_at=now + delay)
            )

    async def _show(self, message_id: str, transcript: str | None, status: str | None) -> None:
        """Put the transcript (or its final status) into the voicemail's messages."""
        async with self._sessions.begin() as session:
            posts = list(
                (
                    await session.scalars(
                        select(Post).where(Post.kind == "voicemail", Post.item == message_id)
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
        locale = Locale(await self.region(), await self.timezone())
        for post in posts:
            if post.state != "done" or post.ts is None:
                continue  # the poster renders the new notice when it posts
            reply = render_notice(load_notice(post.notice), locale=locale, taken=taken_of(post))
            try:
                await self.slack.chat_update(
                    channel=post.channel, ts=post.ts, text=reply.text, blocks=reply.blocks
                )
            except Exception as exc:  # a failed update leaves the old text; say so in the log
                log.warning("transcript update in %s: %s", post.channel, read_failure(exc).reason)


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
