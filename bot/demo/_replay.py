"""The replay: one event of each kind, made by the RingCentral simulator as a real account
makes them and delivered on the bridge's own WebSocket subscription; then a bounded wait
(real clock) until the bridge has posted all of it to the Slack simulator."""

from __future__ import annotations

import asyncio
import functools
import struct
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.phone import format_display
from bot.sim import Upload
from bot.slack.render import TAKE_IT_ACTION

from ._running import CALLS, CHANNELS, REMIND_AFTER, TEXTS, USER, Demo
from ._terminal import INDENT, terminal
from ._terminal import channel as render_channel

POSTED_WITHIN = 60.0  # seconds, an upper bound for a loaded machine (Slack: 1/s per channel)
# A reminder lists an item at 1x, 2x and 4x remind_after: the taken voicemail by 2x at most,
# plus the channel's interval.
REMINDED_WITHIN = 3 * REMIND_AFTER + 5
POLL = 0.1

ANN = "+14155550123"
MARCO = "+12125550147"
PRIYA = "+13125550188"
FAX = "+16175550190"
ROSA = "+17185550166"
IVR_CALLER = "+15105550175"

FIRST_SMS = "Hi! Are you open on Saturday? I'd like to pick up order #4471"
SECOND_SMS = "Also: can I pay by card & bring the <old> one back?"
MMS_TEXT = "Here's the photo of the damaged box"
REPLY_ANN = "Yes, 9 to 1 on Saturday. See you then!"
REPLY_ROSA = "Sorry about that! We'll send a new one today."
PAGER = "Lunch at 12? The 3 pm review moved to <Room B> & it's on me"
NOTE = "// I'll call Ann back after lunch"
TRANSCRIPT = (
    "Hi, this is Priya from Lakeside Rentals. Please call me back about the lease "
    "renewal, the new terms are ready & I'd like your answer by Friday."
)

Say = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Expect:
    """One thing the replay should make the bridge post, and how to see it in Slack."""

    label: str
    seen: Callable[[Demo], bool]


async def replay(demo: Demo, out: Say) -> None:
    """Make every kind of event, wait for the bridge's posts, print both channels."""
    started = time.monotonic()
    rc, me = demo.rc, demo.rc.extension_id
    mine = rc.world.extension_info(me)
    colleague = _colleague(demo)
    out(
        f"Replaying one event of each kind at the simulated RingCentral account of "
        f"{mine.get('name')} (ext. {mine.get('extensionNumber')}):"
    )
    expected: list[Expect] = []

    _step(out, "missed call", f"Ann Lee {_show(ANN)} rings for 25 s; nobody answers")
    await rc.call("missed", caller=ANN, extension_id=me, from_name="Ann Lee", ring=25)
    expected.append(Expect("missed call", lambda d: bool(_posted(d, CALLS, "missed_call", ANN))))

    _step(out, "answered call", f"Marco Diaz {_show(MARCO)} is answered; they talk 1:35")
    await rc.call(
        "answered", caller=MARCO, extension_id=me, from_name="Marco Diaz", ring=6, talk=95
    )
    expected.append(
        Expect(
            "answered and finished call",
            lambda d: (
                bool(_posted(d, CALLS, "answered_call", MARCO))
                and bool(_posted(d, CALLS, "call", MARCO))
            ),
        )
    )

    _step(out, "voicemail", f"Priya Shah {_show(PRIYA)} leaves 42 s; transcript still running")
    voicemail = await rc.incoming_voicemail(
        me, PRIYA, duration=42, from_name="Priya Shah", transcript=TRANSCRIPT,
        transcript_later=True,
    )  # fmt: skip
    expected.append(Expect("voicemail audio", lambda d: _has_file(d, CALLS, "voicemail", PRIYA)))

    _step(out, "fax", f"{_show(FAX)} sends 3 pages")
    await rc.incoming_fax(me, FAX, pages=3)
    expected.append(Expect("fax", lambda d: _has_file(d, CALLS, "fax", FAX)))

    _step(out, "IVR-answered call", f"{_show(IVR_CALLER)} reaches the auto-attendant; you answer")
    await rc.call("ivr_answered", caller=IVR_CALLER, extension_id=me, ring=4, ivr=9, talk=48)
    expected.append(
        Expect(
            "IVR-answered call (and no missed call)",
            lambda d: (
                bool(_posted(d, CALLS, "answered_call", IVR_CALLER))
                and bool(_posted(d, CALLS, "call", IVR_CALLER))
                and not _posted(d, CALLS, "missed_call", IVR_CALLER)
            ),
        )
    )

    _step(out, "SMS", f'{_show(ANN)}: "{FIRST_SMS}"')
    await rc.incoming_sms(me, ANN, FIRST_SMS)
    _step(out, "SMS", f'{_show(ANN)} again: "{SECOND_SMS}"')
    await rc.incoming_sms(me, ANN, SECOND_SMS)
    expected.append(Expect("SMS and its reply", lambda d: _in_thread(d, TEXTS, ANN, SECOND_SMS)))

    _step(out, "MMS", f'{_show(ROSA)}: "{MMS_TEXT}" with a photo')
    photo = Upload(_png(), "image/png", "damaged-box.png")
    await rc.incoming_sms(me, ROSA, MMS_TEXT, attachments=[photo])
    expected.append(Expect("MMS photo", lambda d: _has_file(d, TEXTS, "sms", ROSA)))

    _step(out, "internal message", f'{colleague[1]} pages you: "{PAGER}"')
    await rc.pager_message(colleague[0], [me], PAGER)
    expected.append(
        Expect("internal message", lambda d: bool(_posted(d, TEXTS, "internal_message", "")))
    )

    out("")
    out("The bridge posts them to Slack (about one message a second per channel)…")
    deadline = started + POSTED_WITHIN
    before = await _until(deadline, lambda: _posted(demo, CALLS, "voicemail", PRIYA))
    if before:
        out("")
        out("The voicemail as first posted in #calls, its transcript still on its way:")
        out(_indented(terminal(before[0])))
        out("")
        out("RingCentral finishes the transcript; the bridge updates that message…")
    await rc.finish_transcript(voicemail.id)
    expected.append(Expect("voicemail transcript", _transcribed))

    await _until(deadline, lambda: all(e.seen(demo) for e in expected))
    expected += await _replies(demo, out, deadline)
    if conversation := _posted(demo, TEXTS, "sms", ANN):
        out("")
        out(f'In Ann\'s thread you write a note for the team: "{NOTE}"')
        out("(a reply starting with // stays in Slack: nothing is texted, it gets a lock)")
        note = await demo.slack.send_message(
            demo.slack.socket_mode_url,
            channel_id=TEXTS,
            text=NOTE,
            thread_ts=conversation[0]["ts"],
            user_id=USER,
        )
        ts = note.sent.get("event", {}).get("ts", "")
        expected.append(Expect("note kept in the team", lambda d: _locked(d, ts)))
    await _until(deadline, lambda: all(e.seen(demo) for e in expected))
    expected += await _take_it(demo, out)
    await _until(
        max(deadline, time.monotonic() + REMINDED_WITHIN),
        lambda: all(e.seen(demo) for e in expected),
    )
    missing = [e.label for e in expected if not e.seen(demo)]
    out("")
    if missing:
        out(f"Still not in Slack after {POSTED_WITHIN:.0f} s: {', '.join(missing)}.")
    else:
        out(f"Everything was posted in {time.monotonic() - started:.1f} s. In Slack:")
    users = {u.id: u.display_name or u.name for u in demo.slack.workspace.users.values()}
    for channel_id, name in CHANNELS.items():
        threads = [demo.slack.thread(channel_id, m["ts"]) for m in demo.slack.messages(channel_id)]
        out("")
        out(render_channel(name, threads, users))
    out("")


async def _replies(demo: Demo, out: Say, deadline: float) -> list[Expect]:
    """Two replies typed in SMS threads: one delivered, one to a customer who opted out
    (the simulated carrier says so a moment later). Their receipts are the bot's
    reactions, and the failure's cause a message in its thread (DESIGN §3.8)."""
    threads = {
        number: await _until(deadline, functools.partial(_posted, demo, TEXTS, "sms", number))
        for number in (ANN, ROSA)
    }
    if not all(threads.values()):
        return []
    demo.rc.sms_outcome(ROSA, "opted_out")
    expected = []
    for number, typed, receipt in (
        (ANN, REPLY_ANN, "white_check_mark"),
        (ROSA, REPLY_ROSA, "warning"),
    ):
        _step(out, "reply", f'you, in the thread of {_show(number)}: "{typed}"')
        parent = threads[number][0]["ts"]
        await demo.slack.send_message(
            demo.slack.socket_mode_url, channel_id=TEXTS, text=typed, thread_ts=parent,
            user_id=USER,
        )  # fmt: skip
        seen = functools.partial(_reacted, parent=parent, reaction=receipt)
        expected.append(Expect(f"receipt {receipt}", seen))
    out("RingCentral queues both texts, then reports how each one ended…")
    return expected


async def _take_it(demo: Demo, out: Say) -> list[Expect]:
    """You take Priya's voicemail; nobody takes Ann's missed call. #calls reminds after
    `remind_after` (shortened here) of both, with @here for the one nobody took."""
    voicemail = _posted(demo, CALLS, "voicemail", PRIYA)
    if not voicemail:
        return []
    out("")
    out("In #calls you click Take it on Priya's voicemail; nobody takes Ann's missed call.")
    out(
        f"#calls has remind_after = {REMIND_AFTER:.0f}s (shortened for the demo): what is "
        "still open is listed in a reminder…"
    )
    await demo.slack.send_block_action(
        demo.slack.socket_mode_url, action_id=TAKE_IT_ACTION, channel_id=CALLS,
        message_ts=voicemail[0]["ts"], user_id=USER,
    )  # fmt: skip
    taken = f"<@{USER}>"
    return [
        Expect(
            "Take it",
            lambda d: any(taken in str(m["blocks"]) for m in _posted(d, CALLS, "voicemail", PRIYA)),
        ),
        Expect("reminder", lambda d: any(f"taken by {taken}" in str(m) for m in _reminders(d))),
    ]


def _reminders(demo: Demo) -> list[dict[str, Any]]:
    return [m for m in demo.slack.messages(CALLS) if _kind(m) == "ringbridge_reminder"]


def _reacted(demo: Demo, parent: str, reaction: str) -> bool:
    replies = [m for m in demo.slack.thread(TEXTS, parent) if m.get("user") == USER]
    return any(r["name"] == reaction for m in replies for r in m.get("reactions", []))


# -- what the bridge posted -----------------------------------------------------------


def _posted(demo: Demo, channel: str, kind: str, number: str) -> list[dict[str, Any]]:
    """Top-level messages of that notification kind (about that number)."""
    shown = _show(number) if number else ""
    return [m for m in demo.slack.messages(channel) if _kind(m) == kind and shown in terminal(m)]


def _kind(message: Mapping[str, Any]) -> str:
    metadata = message.get("metadata") or {}
    return str(metadata.get("event_type", "")).removeprefix("ringcentral_")


def _has_file(demo: Demo, channel: str, kind: str, number: str) -> bool:
    return any(
        reply.get("files")
        for parent in _posted(demo, channel, kind, number)
        for reply in demo.slack.thread(channel, parent["ts"])
    )


def _in_thread(demo: Demo, channel: str, number: str, text: str) -> bool:
    return any(
        text in terminal(reply)
        for parent in _posted(demo, channel, "sms", number)
        for reply in demo.slack.thread(channel, parent["ts"])[1:]
    )


def _locked(demo: Demo, ts: str) -> bool:
    message = next((m for m in demo.slack.workspace.channels[TEXTS].messages if m["ts"] == ts), {})
    return any(r.get("name") == "lock" for r in message.get("reactions", []))


def _transcribed(demo: Demo) -> bool:
    return any("lease renewal" in terminal(m) for m in _posted(demo, CALLS, "voicemail", PRIYA))


async def _until(deadline: float, check: Callable[[], T]) -> T:
    """Poll `check` until it is truthy or the deadline (monotonic) passes; its last value."""
    while True:
        found = check()
        if found or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(POLL)


# -- small helpers --------------------------------------------------------------------


def _colleague(demo: Demo) -> tuple[str, str]:
    """Another user of the account: (extension id, "Name (ext. 104)")."""
    for ext_id in demo.rc.world.extension_ids():
        info = demo.rc.world.extension_info(ext_id)
        if ext_id != demo.rc.extension_id and info.get("type") == "User":
            return ext_id, f"{info.get('name')} (ext. {info.get('extensionNumber')})"
    raise RuntimeError("the simulated account has a single user")


def _show(number: str) -> str:
    return format_display(number)


def _step(out: Say, kind: str, what: str) -> None:
    out(f"  • {kind:<17} {what}")


def _indented(text: str) -> str:
    return "\n".join(INDENT + line for line in text.splitlines())


def _png(width: int = 48, height: int = 32) -> bytes:
    """A small real PNG (a two-tone box) for the MMS."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(
        b"\x00"
        + b"".join(
            b"\xc8\x8c\x3c" if (x // 8 + y // 8) % 2 else b"\xe6\xc8\x96" for x in range(width)
        )
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
