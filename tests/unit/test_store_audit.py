from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import AuditEntry, AuditLog


async def test_audit_keeps_who_did_what_newest_first(engine: AsyncEngine) -> None:
    log = AuditLog(engine)
    sent_at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    await log.record(
        AuditEntry("U1", "sms", "+14155550123", "sent", "+16505550100", "315450330010", at=sent_at)
    )
    await log.record(AuditEntry("U2", "ringout", "+14155550199", "refused", error="MSG-245"))

    newest, oldest = await log.recent()

    assert (newest.slack_user, newest.action, newest.result, newest.error) == (
        "U2", "ringout", "refused", "MSG-245",
    )  # fmt: skip
    assert oldest.ringcentral_id == "315450330010"
    assert oldest.from_number == "+16505550100"
    assert oldest.at == sent_at
