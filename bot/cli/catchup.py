"""`catchup [--since 2h] [--dry-run]`: what RingCentral has that Slack was not shown
(DESIGN §3.4, §3.10), read back and posted, marked late.

Unlike the server's passes, which go on from their cursors and never post what happened
before the bridge watched it, this reaches back `--since` (at most 30 days: RingCentral's
call-log sync) and leaves the cursors as they are. What was shown already is not shown
again (the same deduplication as live). The posts are made by this command itself, as the
server's dispatcher makes them (a server running meanwhile may take some: each is posted
once); `--dry-run` only lists what would be posted. On a terminal, stderr shows a progress
bar; elsewhere one line a step.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from bot import server
from bot.bridge.catchup import BACKFILL_MAX, Backfill
from bot.bridge.service import Notifications, enabled
from bot.cli._common import EXIT_OK, EXIT_REFUSED
from bot.cli.api import describe
from bot.config import ConfigError, load_bridge_config, load_settings
from bot.notices import Notice
from bot.ringcentral import RingCentralError

POST_WITHIN = 600.0  # seconds this command keeps posting; the rest is the server's
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> timedelta:
    """`45s`, `15m`, `2h`, `3d` (DESIGN §3.2: a number and a unit)."""
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 45m, 2h or 3d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "catchup",
        help="post what RingCentral has that Slack was not shown",
        description=(
            "Read back the calls and messages RingCentral recorded (missed calls, "
            "voicemails, faxes, texts…) that Slack was not shown, and post them, marked "
            "late. Nothing shown before is shown again."
        ),
    )
    parser.add_argument(
        "--since",
        type=duration,
        default=duration("2h"),
        metavar="DURATION",
        help="how far back: 45m, 2h, 3d (default 2h; at most 30d)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be posted, and post nothing"
    )
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    since: timedelta = args.since
    if since > BACKFILL_MAX:
        raise ConfigError("--since: at most 30d (RingCentral's call-log sync reaches no further)")
    settings = load_settings()
    bridge = load_bridge_config(settings.bridge_config)
    if not enabled(bridge, settings.default_channel):
        raise ConfigError("no [[routes]] in bridge.toml and no DEFAULT_CHANNEL: nothing to post")
    bar = Bar(sys.stderr)
    try:
        async with server.notification_side(settings, bridge) as built:
            start = datetime.now(UTC) - since
            found = await built.catchup.backfill(start, dry_run=args.dry_run, progress=bar.show)
            bar.done()
            if args.dry_run:
                _list(found, since)
                return EXIT_OK
            if found.posts:
                await _post(built, found, bar)
    except RingCentralError as exc:
        bar.done()
        print(f"error: {describe(exc)}", file=sys.stderr)
        return EXIT_REFUSED
    print(_summary(found, since))
    return EXIT_OK


def _list(found: Backfill, since: timedelta) -> None:
    for notice, channels in found.items:
        print(f"{_when(notice)}  {notice.kind:<16} {_what(notice)}  → {', '.join(channels)}")
    count = len(found.items)
    print(
        f"{count} item{'s' if count != 1 else ''} of the last {_span(since)} would be posted "
        "(dry run: nothing posted)"
    )


def _summary(found: Backfill, since: timedelta) -> str:
    if not found.items:
        return f"nothing to catch up: Slack was shown everything of the last {_span(since)}"
    count = len(found.items)
    return (
        f"caught up {count} item{'s' if count != 1 else ''} of the last {_span(since)} "
        f"({found.posts} posts, marked late)"
    )


async def _post(built: Notifications, found: Backfill, bar: Bar) -> None:
    """Post (and upload the files of) what was stored, until each is posted or a dead
    letter, within POST_WITHIN seconds."""
    dispatcher, catchup = built.dispatcher, built.catchup
    deadline = time.monotonic() + POST_WITHIN
    finished, total = await catchup.progress_of(found.rc_uuid)
    while finished < total and time.monotonic() < deadline:
        bar.show("posting", finished, total)
        worked = await dispatcher.poster.run_once() + await dispatcher.uploader.run_once()
        if not worked:
            # Slack's pace (about one message a second per channel) or a thread's first
            # message: what waits comes due within seconds.
            await asyncio.sleep(0.2)
        finished, total = await catchup.progress_of(found.rc_uuid)
    while await dispatcher.uploader.run_once():  # the files of the last posts
        pass
    bar.show("posting", finished, total)
    bar.done()
    if finished < total:
        print(
            f"{total - finished} posts still waiting for Slack: the server posts them",
            file=sys.stderr,
        )


def _when(notice: Notice) -> str:
    return notice.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _what(notice: Notice) -> str:
    who = getattr(notice, "caller", None) or getattr(notice, "sender", None)
    label = who.label if who is not None else ""
    return f"{label} ({notice.item})" if label else notice.item


def _span(since: timedelta) -> str:
    seconds = int(since.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class Bar:
    """A progress bar on a terminal's stderr (one redrawn line), plain lines elsewhere."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._shown = False
        self._last = ""

    def show(self, what: str, done: int, total: int) -> None:
        if self._tty:
            filled = self.WIDTH * done // total if total else self.WIDTH
            line = f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} {what}"
            self._stream.write(line.ljust(self.WIDTH + 40))
            self._stream.flush()
            self._shown = True
            return
        line = f"{what}: {done}/{total}"
        if line != self._last:  # a plain log: each step once
            self._stream.write(line + "\n")
            self._last = line

    def done(self) -> None:
        if self._tty and self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = False
