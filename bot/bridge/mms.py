"""Files of a thread reply as MMS attachments (DESIGN §3.8).

Slack's files are read with the bot token (`url_private_download`; `files.info` first for
a file Slack marks `check_file_info`, or whose event carries no URL). RingCentral takes
the content types of its MMS table (docs: messaging/sms/sending-images.md), at most 10
files and 1,500,000 bytes in all. Files that fit go as they are; otherwise the images are
re-encoded as JPEG (longest side at most 1600 px, quality stepped down) until the whole
message fits. Anything else is refused with a sentence for the reply's author.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ringcentral.models.limits import MMS_MAX_ATTACHMENTS, MMS_MAX_TOTAL_BYTES
from bot.slack.payloads import SlackFile

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["MMS_TYPES", "FilesRefused", "MmsFiles", "fit"]

Part = tuple[str, bytes, str]  # (filename, content, content type)

# RingCentral's supported MMS content types (sending-images.md), with the aliases Slack
# and browsers use for the same formats.
MMS_TYPES = frozenset(
    {
        "image/jpeg", "image/jpg", "image/png", "image/bmp", "image/gif", "image/tiff",
        "image/svg+xml", "video/3gpp", "video/mp4", "video/mpeg", "video/msvideo",
        "video/x-msvideo", "audio/mpeg", "audio/mp3", "text/vcard", "text/x-vcard",
        "application/zip", "application/gzip", "application/x-gzip", "application/rtf",
        "text/rtf",
    }
)  # fmt: skip
# Images Pillow can re-encode (an SVG is text: it goes as it is or not at all).
_RASTER = frozenset(
    {"image/jpeg", "image/jpg", "image/png", "image/bmp", "image/gif", "image/tiff"}
)
# Pictures RingCentral does not take but Pillow reads: they always go as JPEG.
_CONVERTED = frozenset({"image/webp"})
LONGEST_SIDE = 1600
QUALITIES = (85, 75, 65, 55, 45, 35, 25)
# A file this large is not downloaded: even re-encoded, it is not worth the wait.
DOWNLOAD_MAX = 50 * 1024 * 1024


class FilesRefused(Exception):
    """The files cannot go as MMS: the sentence says why. `scope`: the Slack scope whose
    absence is the cause."""

    def __init__(self, sentence: str, *, scope: str | None = None) -> None:
        super().__init__(sentence)
        self.scope = scope


@dataclass
class MmsFiles:
    """Reads Slack files with the bot's client: `files.info` through it, the bytes through
    its session with its token, sent to Slack's own hosts only."""

    slack: AsyncWebClient

    async def attachments(self, files: Sequence[SlackFile]) -> list[Part]:
        if len(files) > MMS_MAX_ATTACHMENTS:
            raise FilesRefused(
                f"{len(files)} files, and a text message carries at most "
                f"{MMS_MAX_ATTACHMENTS}. Send fewer at a time."
            )
        described = [await self._described(file) for file in files]
        for file in described:
            kind = (file.mimetype or "").lower()
            if kind not in MMS_TYPES and kind not in _CONVERTED:
                raise FilesRefused(
                    f"{file.name or 'a file'} ({kind or 'unknown type'}) cannot go by text: "
                    "RingCentral sends images, video, MP3 audio, vCards, ZIP/GZIP and RTF "
                    "files only. Nothing was sent."
                )
        parts = [await self._download(file) for file in described]
        return await asyncio.to_thread(fit, parts)

    async def _described(self, file: SlackFile) -> SlackFile:
        if file.file_access != "check_file_info" and file.url_private_download and file.mimetype:
            return file
        try:
            answer = await self.slack.files_info(file=file.id)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "missing_scope":
                raise FilesRefused(
                    "RingBridge may not read files in Slack (its app lacks the files:read "
                    "scope; your admin can add it). Nothing was sent.",
                    scope="files:read",
                ) from None
            if error in ("file_not_found", "file_deleted"):
                raise FilesRefused("a file was deleted before it could be sent.") from None
            raise
        return SlackFile.model_validate(answer.get("file") or {})

    async def _download(self, file: SlackFile) -> Part:
        url = file.url_private_download or file.url_private
        if not url or not self._slack_host(url):
            raise FilesRefused(f"{file.name or 'a file'} is not stored in Slack.")
        if file.size is not None and file.size > DOWNLOAD_MAX:
            raise FilesRefused(f"{file.name or 'a file'} is too large to send by text.")
        headers = {"Authorization": f"Bearer {self.slack.token}"}
        timeout = aiohttp.ClientTimeout(total=60)
        session = self.slack.session  # the root's pool to Slack (bot.server)
        if session is None:
            raise FilesRefused("RingBridge has no connection to Slack's file hosts.")
        async with session.get(url, headers=headers, timeout=timeout) as answer:
            kind = answer.headers.get("Content-Type", "")
            # Without access Slack answers its sign-in page, not the file.
            if answer.status != 200 or kind.startswith("text/html"):
                raise FilesRefused(
                    f"{file.name or 'a file'} could not be read from Slack. Nothing was sent."
                )
            chunks, size = [], 0
            async for chunk in answer.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > DOWNLOAD_MAX:
                    raise FilesRefused(f"{file.name or 'a file'} is too large to send by text.")
                chunks.append(chunk)
        return (file.name or file.id, b"".join(chunks), (file.mimetype or "").lower())

    def _slack_host(self, url: str) -> bool:
        """Only Slack's hosts (or the configured API's, in tests) get the bot token."""
        host = (urlsplit(url).hostname or "").lower()
        api_host = (urlsplit(self.slack.base_url).hostname or "").lower()
        return host == api_host or host == "slack.com" or host.endswith(".slack.com")


def fit(parts: Sequence[Part]) -> list[Part]:
    """The parts within RingCentral's total: as they are when they fit, else with the
    images re-encoded as JPEG at the highest quality that fits (CPU work: run it in a
    thread). FilesRefused when even the lowest does not."""
    parts = [_converted(part) if part[2] in _CONVERTED else part for part in parts]
    if _total(parts) <= MMS_MAX_TOTAL_BYTES:
        return parts
    decoded = {i: _decoded(part) for i, part in enumerate(parts) if part[2] in _RASTER}
    images = {i: image for i, image in decoded.items() if image is not None}
    if images:
        for quality in QUALITIES:
            candidate = [
                _jpeg(part[0], images[i], quality) if i in images else part
                for i, part in enumerate(parts)
            ]
            if _total(candidate) <= MMS_MAX_TOTAL_BYTES:
                return candidate
    size = _total(parts) / 1_000_000
    raise FilesRefused(
        f"the files come to {size:.1f} MB, and a text message carries 1.5 MB"
        + (" even with the pictures made smaller" if images else "")
        + ". Send fewer or smaller files."
    )


def _converted(part: Part) -> Part:
    image = _decoded(part)
    if image is None:
        raise FilesRefused(f"{part[0]} is not a picture RingBridge can read.")
    return _jpeg(part[0], image, QUALITIES[0])


def _total(parts: Sequence[Part]) -> int:
    return sum(len(content) for _, content, _ in parts)


def _decoded(part: Part) -> Image.Image | None:
    """The image turned upright, flattened onto white and no larger than LONGEST_SIDE."""
    # Pillow (its C library, a few MB resident) is imported by the first picture to make
    # smaller, not by every server that may never send one.
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(part[1])) as opened:
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
            if image.mode in ("RGBA", "LA", "P"):
                rgba = image.convert("RGBA")
                flat = Image.new("RGB", rgba.size, "white")
                flat.paste(rgba, mask=rgba.getchannel("A"))
                return flat
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def _jpeg(filename: str, image: Image.Image, quality: int) -> Part:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    try:
        name = str(PurePosixPath(filename).with_suffix(".jpg"))
    except ValueError:  # a name with no stem ("." or "")
        name = "picture.jpg"
    return (name, out.getvalue(), "image/jpeg")
