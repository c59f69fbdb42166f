from __future__ import annotations

from bot.ringcentral import RateLimited, RingCentralError
from bot.store import AuditEntry


def refused(
    user: str, action: str, to: str, from_number: str | None, exc: RingCentralError
) -> AuditEntry:
    """The audit line of an SMS or call RingCentral did not carry out."""
    return AuditEntry(
        slack_user=user,
        action=action,
        to_number=to,
        from_number=from_number,
        result="rate_limited" if isinstance(exc, RateLimited) else "refused",
        error=getattr(exc, "error_code", "") or type(exc).__name__,
    )
