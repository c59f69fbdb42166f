"""Unexpected failures of claimed work (no poison rows, issue #9): any exception a step did
not expect — a RingCentral answer of the wrong shape, a bug — counts an attempt, backs off
and, after `UNEXPECTED_LIMIT` of them, makes the row a dead letter with its reason; the
other rows keep flowing.

A reason names the exception's type and where in the bridge it was raised, and for a
ValidationError the fields that failed: never a value (an SMS body, a token).
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import PurePath

from pydantic import ValidationError

from bot.store.gate import Sessions
from bot.store.work import Row, write_back

log = logging.getLogger("bot.bridge.faults")

BACKOFF_BASE = 2.0
BACKOFF_CAP = 300.0  # RELIABILITY R5: full jitter, capped at 5 minutes
# Tries before a dead letter: with backoff (full jitter under 2, 4, … 32 s) about half a
# minute of retries, at most a minute: long enough for a passing oddity, short enough
# that a bug reaches the admin (and `deadletters replay` after the fix) soon.
UNEXPECTED_LIMIT = 6


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: full jitter under a ceiling
    that doubles from BACKOFF_BASE up to BACKOFF_CAP."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1)))


_DRIVER = ("bot", "store", "_sqlite.py")


def reason(exc: BaseException, step: str) -> str:
    """What an operator reads in the dead letter: step, type, where, which fields."""
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        parts = PurePath(frame.filename).parts
        if "bot" in parts:
            inside = parts[len(parts) - 1 - parts[::-1].index("bot") :]
            if inside == _DRIVER:  # the database driver's adapter: the step is further out
                continue
            where = f" at {'/'.join(inside)}:{frame.lineno} ({frame.name})"
            break
    detail = ""
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        fields = sorted({".".join(str(p) for p in e["loc"]) or "(root)" for e in errors})
        detail = f": {len(errors)} invalid field(s) of {exc.title}: {', '.join(fields[:5])}"
    return f"unexpected {type(exc).__name__} in {step}{where}{detail}"[:500]


async def unexpected(
    sessions: Sessions, row: Row, exc: Exception, step: str, now: datetime
) -> bool:
    """Record an unexpected failure of the claimed `row` (fenced by its lease): an attempt
    and the reason, then a try after backoff, or a dead letter past UNEXPECTED_LIMIT. The
    row's state otherwise stays (a `sending` post is looked for before it is posted
    again). True when it became a dead letter."""
    why = reason(exc, step)
    log.error("%s %s: %s", step, getattr(row, "id", None) or getattr(row, "message_id", ""),
              why, exc_info=exc)  # fmt: skip
    attempts = row.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "error": why}
    dead = attempts >= UNEXPECTED_LIMIT
    if dead:
        values["state"] = "dead"
    else:
        values["next_attempt_at"] = now + timedelta(seconds=backoff(attempts))
    async with sessions.begin() as session:
        written = await write_back(session, row, **values)
    return dead and written


async def each(
    sessions: Sessions,
    rows: Sequence[Row],
    step: str,
    now: datetime,
    handle: Callable[[Row], Awaitable[object]],
) -> int:
    """`handle` every claimed row; one that raises what no step expected is recorded as
    `unexpected` and the others go on. The number of rows."""
    for row in rows:
        try:
            await handle(row)
        except Exception as exc:  # no poison rows: an attempt counted, then a dead letter
            await unexpected(sessions, row, exc, step, now)
    return len(rows)
