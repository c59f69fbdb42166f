"""RingCentral errors as sentences a person in Slack understands (what went wrong, what to
do). The errorCode stays in the log line; the person sees no token and no stack."""

from __future__ import annotations

import math

from bot.ringcentral import (
    ApiError,
    AuthError,
    DecodingError,
    RateLimited,
    RingCentralError,
    TransportError,
)

# RingCentral message errors about the from-number (reference §4.1).
_FROM_NUMBER_CODES = {"MSG-245", "MSG-367", "MSG-241", "MSG-380", "MSG-246"}


def explain(exc: RingCentralError, *, from_number: str | None = None) -> str:
    if isinstance(exc, RateLimited):
        wait = max(1, math.ceil(exc.retry_after))
        return f"RingCentral's limit for this kind of request is reached; try again in {wait} s."
    if isinstance(exc, AuthError):
        return "RingBridge cannot sign in to RingCentral right now; please tell your admin."
    if isinstance(exc, TransportError):
        return "RingCentral did not answer; try again in a minute."
    if isinstance(exc, DecodingError):
        return "RingCentral answered in a form RingBridge cannot read; try again later."
    if not isinstance(exc, ApiError):
        return "RingCentral refused the request."
    code, message = exc.error_code, exc.message.rstrip(".")
    if code in _FROM_NUMBER_CODES:
        which = f"{from_number} " if from_number else "The number "
        return (
            f"{which}cannot send texts for the RingCentral user RingBridge acts as ({code}: "
            f"{message}). Set `[commands] sms_from` in bridge.toml to one of that user's "
            "numbers with the SMS feature."
        )
    if code == "MSG-240":
        return f"International texts are not allowed on this account ({code})."
    # Permission refusals say which in errors[] (`InsufficientPermissions` on top).
    permission = f"the {exc.permission} permission" if exc.permission else "a permission"
    if exc.has_code("CMN-401"):
        return (
            f"The RingCentral app lacks {permission} (CMN-401); your admin can add it in the "
            "RingCentral developer console."
        )
    if exc.has_code("CMN-408"):
        return (
            f"The RingCentral user RingBridge acts as lacks {permission} for this (CMN-408); "
            "a RingCentral admin can grant it to that user's role."
        )
    if exc.status == 404 or code in ("CMN-102", "AGW-404"):
        return f"RingCentral has no such record ({message})."
    if exc.status == 401:
        return "RingBridge's RingCentral session was refused; please tell your admin."
    if exc.status >= 500:
        return f"RingCentral is having trouble ({code}); try again in a minute."
    return f"RingCentral refused: {message} ({code})."
