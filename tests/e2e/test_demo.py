"""`python -m bot demo` as a newcomer runs it: no accounts, a replay of every kind of
event into the simulated Slack, then commands on standard input."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.demo import running_demo, terminal
from bot.demo._running import TEXTS
from bot.demo._terminal import channel

TYPED = "/sms +1 415 555 0123 Running 10 min late & <b>\n/calllog 7d 3\n/sms hello\n"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def section(self, start: str, end: str) -> str:
        """The output from the line `start` up to the next line `end`."""
        head = self.out.index(f"\n{start}\n")
        return self.out[head : self.out.index(f"\n{end}", head + 1)]


@pytest.fixture(scope="module")
def run() -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        input=TYPED,
        capture_output=True,
        text=True,
        timeout=300,  # the demo itself takes about 25 s; a loaded machine, much longer
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def test_demo_exits_0_with_a_clean_stderr_in_bounded_time(run: Run) -> None:
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    assert run.err == ""  # quiet logs: the transcript is all there is
    assert re.search(r"Everything was posted in \d+\.\d s", run.out)  # within its deadline


def test_replay_posts_every_call_kind_to_calls(run: Run) -> None:
    calls = run.section("#calls", "#texts")

    missed = next(b for b in calls.split("\n\n") if "*Missed call*" in b)
    assert "*Ann Lee* (415) 555-0123" in missed
    assert "[Call back] [Text back] [Take it] [Mark handled]" in missed

    answered = next(b for b in calls.split("\n\n") if "*Call answered*" in b)
    assert "*Marco Diaz* (212) 555-0147" in answered
    finished = next(b for b in calls.split("\n\n") if "*Inbound call* *Marco Diaz*" in b)
    assert "0:01:35" in finished
    assert "Answered" in finished

    fax = next(b for b in calls.split("\n\n") if "*Fax*" in b)
    assert "(617) 555-0190 · 3 pages" in fax
    assert re.search(r"\n    \[file: \w+\.pdf, \d+ KB\]", fax)  # the PDF, in its thread

    ivr = [b for b in calls.split("\n\n") if "(510) 555-0175" in b]
    assert len(ivr) == 2  # answered, then finished
    assert not any("Missed call" in b for b in ivr)  # the IVR leg is no missed call


def test_voicemail_shows_before_and_after_its_transcript(run: Run) -> None:
    transcript = (
        "Please call me back about the lease renewal, the new terms are ready & I'd like "
        "your answer by Friday."
    )
    first_posted = "The voicemail as first posted in #calls, its transcript still on its way:"
    before = run.section(first_posted, "RingCentral finishes the transcript")
    assert "*Voicemail* from *Priya Shah* (312) 555-0188 · 0:00:42" in before
    assert "Transcript on its way" in before
    assert transcript not in before

    calls = run.section("#calls", "#texts")
    (voicemail,) = [b for b in calls.split("\n\n") if "*Voicemail*" in b]
    assert transcript in voicemail
    assert "(edited)" in voicemail
    assert "Transcript on its way" not in voicemail
    assert re.search(r"\n    \[file: \w+\.wav, \d+ KB\]", voicemail)  # audio, in its thread


def test_replay_posts_texts_with_threads_and_files(run: Run) -> None:
    texts = run.section("#texts", "Fast-forward")

    sms = next(b for b in texts.split("\n\n") if "*SMS* (415) 555-0123" in b)
    assert ">Hi! Are you open on Saturday? I'd like to pick up order #4471" in sms
    # the second SMS from the same number, indented under the first: its thread
    assert "\n    >Also: can I pay by card & bring the <old> one back?" in sms

    mms = next(b for b in texts.split("\n\n") if "*SMS* (718) 555-0166" in b)
    assert ">Here's the photo of the damaged box" in mms
    assert "1 image in thread" in mms
    assert re.search(r"\n    \[file: damaged-box\.png, \d+ B\]", mms)

    pager = next(b for b in texts.split("\n\n") if "*Message* from" in b)
    assert ">Lunch at 12? The 3 pm review moved to <Room B> & it's on me" in pager


def test_transcript_is_readable_text_not_slack_markup(run: Run) -> None:
    replay = run.out[: run.out.index("Now type slash commands")]
    for markup in ("&lt;", "&gt;", "&amp;", "<!date", "<@"):
        assert markup not in replay


def test_slash_commands_still_answer_after_the_replay(run: Run) -> None:
    after = run.out[run.out.index("Now type slash commands") :]
    assert "slack> /sms +1 415 555 0123 Running 10 min late & <b>" in after
    assert "Sent to *(415) 555-0123*" in after
    assert ">Running 10 min late & <b>" in after
    assert "*Calls*" in after
    assert "`hello` is not a phone number" in after


def test_the_banner_says_both_come_over_sockets(run: Run) -> None:
    assert "Slack\nreaches it over Socket Mode" in run.out
    assert "RingCentral's events reach it over RingCentral's WebSocket" in run.out


async def test_slack_reaches_the_demo_bridge_over_socket_mode_only(tmp_path: Path) -> None:
    async with running_demo(tmp_path) as demo:
        paths = {route.resource.canonical for route in demo.app.router.routes() if route.resource}
        assert "/slack/events" not in paths  # no Request URL: no signing secret
        assert len(demo.slack.socket.open_connections()) == 1

        replies = await demo.command("/sms +1 415 555 0123 over the socket")

        assert "Sent to *(415) 555-0123*" in str(replies)
        (envelope,) = demo.slack.socket.envelopes
        assert envelope.type == "slash_commands"
        assert envelope.seconds_to_ack is not None and envelope.seconds_to_ack < 3


async def test_ringcentral_reaches_the_demo_bridge_over_its_websocket(tmp_path: Path) -> None:
    async with running_demo(tmp_path) as demo:
        (sub,) = demo.rc.subscriptions.values()
        assert sub.transport == "WebSocket"  # no PUBLIC_URL: no webhook subscription
        assert demo.rc.websocket.live_connections == 1
        await demo.rc.incoming_sms(demo.rc.extension_id, "+14155550123", "over the socket")
        for _ in range(200):
            if any("over the socket" in m["text"] for m in demo.slack.messages(TEXTS)):
                break
            await asyncio.sleep(0.05)
        assert any("over the socket" in m["text"] for m in demo.slack.messages(TEXTS))
        assert not demo.rc.requests_to(r"/ringcentral/webhook")


def test_terminal_form_of_a_channel_with_a_thread() -> None:
    parent = {
        "ts": "1.1",
        "text": "fallback",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn",
             "text": "*SMS* &lt;b&gt; &amp; <!date^1767225600^{date_short}|Jan 1> <@U1>"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "hint"}]},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Call back"}},
                {"type": "button", "text": {"type": "plain_text", "text": "Mark handled"}},
            ]},
        ],
        "edited": {"user": "U0BOT", "ts": "1.3"},
    }  # fmt: skip
    reply = {"ts": "1.2", "thread_ts": "1.1", "text": "", "files": [
        {"name": "voicemail.wav", "size": 12 * 1024 + 100}
    ]}  # fmt: skip

    assert terminal(parent, {"U1": "ann"}).splitlines() == [
        "*SMS* <b> & Jan 1 @ann  (edited)",
        "  hint",
        "  [Call back] [Mark handled]",
    ]
    assert channel("calls", [[parent, reply]]).splitlines()[-1] == (
        "    [file: voicemail.wav, 12 KB]"
    )
    assert channel("calls", []).startswith("#calls\n")


def test_replay_shows_a_receipt_and_a_failed_delivery(run: Run) -> None:
    texts = run.section("#texts", "Fast-forward")

    delivered = next(b for b in texts.split("\n\n") if "See you then!" in b)
    assert "[:white_check_mark:]" in delivered
    failed = next(b for b in texts.split("\n\n") if "send a new one today" in b)
    assert "[:warning:]" in failed
    assert "opted out" in failed


def test_replay_shows_take_it_and_a_reminder(run: Run) -> None:
    calls = run.section("#calls", "#texts")
    (voicemail,) = [b for b in calls.split("\n\n") if "*Voicemail*" in b]
    assert "Taken by @You" in voicemail
    assert "[Take it]" not in voicemail

    reminders = calls[calls.index(":alarm_clock:") :]
    assert "@here :alarm_clock:" in calls  # Ann's missed call: nobody took it
    assert "Missed call (https://" in reminders
    assert "from *Ann Lee* (415) 555-0123" in reminders
    assert "nobody has taken it yet" in reminders
    assert "Voicemail (https://" in reminders
    assert "taken by @You" in reminders  # the voicemail, once taken


def test_the_digest_sums_up_each_channel_on_a_shortened_clock(run: Run) -> None:
    digests = run.out[run.out.index("\nFast-forward the bridge's clock to ") :]
    calls = digests[digests.index("#calls: the daily digest") : digests.index("#texts:")]
    assert "*Missed calls:* 1 (1 still open, 0 handled)" in calls
    assert "*Voicemails:* 1 (1 still open)" in calls
    assert re.search(r"• Missed call \(https://\S+/archives/C0CALLS/p\d+\) from \*Ann Lee\*", calls)
    texts = digests[digests.index("#texts: the daily digest") : digests.index("Now type")]
    assert "*Texts:* 2 conversations, 3 messages (2 still open)" in texts
    assert "• @You: 2 conversations" in texts  # the texted thread replies took them
