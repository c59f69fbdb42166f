"""`python -m bot demo` as a newcomer runs it: no accounts, commands on standard input."""

from __future__ import annotations

import subprocess
import sys


def test_demo_answers_commands_from_a_pipe_and_exits_0() -> None:
    typed = "/sms +1 415 555 0123 Running 10 min late & <b>\n/calllog 7d 3\n/sms hello\n"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Sent to *(415) 555-0123*" in out
    assert ">Running 10 min late & <b>" in out
    assert "*Calls*" in out
    assert "`hello` is not a phone number" in out
    assert "Traceback" not in done.stderr
