"""RingCentral's permission refusals, as the real API shapes them (InsufficientPermissions on
top, the detail in errors[]), reach the person as the sentence naming the permission."""

from __future__ import annotations

from bot.server import DEPS
from tests.bridge import Bridge


async def test_calllog_of_another_extension_as_an_ordinary_service_user(bridge: Bridge) -> None:
    bridge.rc.service_user_admin = False
    permissions = bridge.server.app[DEPS].permissions  # [permissions] allow it (default: no one)
    permissions.config = permissions.config.model_copy(update={"company_calllog": ["*"]})

    delivery = await bridge.command("/calllog", "ext:102")

    (refused,) = bridge.rc.requests_to(r"/call-log$", "GET")
    assert refused.status == 403
    read = bridge.reply_text(delivery)
    assert "acts as lacks the FullCompanyCallLog permission" in read, read
    assert "(CMN-408)" in read


async def test_sms_when_the_app_lacks_the_sms_permission(bridge: Bridge) -> None:
    bridge.rc.remove_app_permissions("SMS")

    delivery = await bridge.command("/sms", "+1 415 555 0123 hi")

    (refused,) = bridge.rc.requests_to(r"/sms$", "POST")
    assert refused.status == 403
    read = bridge.reply_text(delivery)
    assert "app lacks the SMS permission (CMN-401)" in read, read
    assert "developer console" in read
