"""The admin channel's messages (DESIGN §3.10): one per problem, updated as it changes and
when it is resolved. Titles and details are plain text, partly from outside (RingCentral's
reasons, channel names, error codes): all of it is escaped, so a report can never ping or
link. Times are Slack date tokens with a UTC fallback: the admin channel must speak even
when RingCentral (whose account time zone the notifications use) refuses the sign-in."""

from __future__ import annotations

from datetime import UTC, datetime

from .blocks import SECTION_MAX, Reply, context, reply, section
from .format import Locale, clip, fallback, one_line, when

__all__ = ["admin_report"]

_UTC = Locale("US", UTC)
TITLE_MAX = 150


def admin_report(
    title: str,
    detail: str,
    *,
    resolved: bool,
    opened_at: datetime,
    updated_at: datetime,
) -> Reply:
    head = clip(one_line(title), TITLE_MAX)
    if resolved:
        heading = f":white_check_mark: *Resolved: {head}*"
        times = f"Since {when(opened_at, _UTC)}, resolved {when(updated_at, _UTC)}"
    else:
        heading = f":warning: *RingBridge: {head}*"
        times = f"Since {when(opened_at, _UTC)}, last updated {when(updated_at, _UTC)}"
    blocks = [section(heading), section(clip(detail, SECTION_MAX)), context(times)]
    prefix = "Resolved: " if resolved else "RingBridge: "
    return reply(fallback(prefix + head, detail), blocks)
