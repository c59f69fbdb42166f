"""What `check` asks of RingCentral and Slack follows the configuration and the manifest."""

from __future__ import annotations

from bot.bridge.checklist import APP_NEEDS, USER_NEEDS, Deployment
from bot.bridge.checklist.needs import holds
from bot.config import BridgeConfig, Route
from bot.slack.manifest import BOT_SCOPES
from bot.slack.scopes import SCOPE_FEATURES, missing_scopes


def needed(deployment: Deployment) -> list[str]:
    return [need.permission for need in APP_NEEDS if need.when(deployment)]


def test_every_scope_of_the_manifest_says_what_it_gives() -> None:
    assert set(SCOPE_FEATURES) == set(BOT_SCOPES)
    assert missing_scopes(BOT_SCOPES) == []
    assert missing_scopes(["commands", " chat:write"]) == list(BOT_SCOPES[2:])


def test_commands_alone_need_their_permissions_and_no_notification_ones() -> None:
    bare = Deployment(BridgeConfig(), default_channel=None, webhook_address=None)
    assert needed(bare) == ["ReadAccounts", "SMS", "RingOut", "ReadCallLog", "ReadMessages"]
    users = [need.permission for need in USER_NEEDS if need.when(bare)]
    assert "ReadPersonalContacts" not in users and "OutboundSMS" in users


def test_routed_kinds_add_what_their_notifications_need() -> None:
    calls = BridgeConfig(routes=[Route(events=["missed_call"], channel="C1")])
    texts = BridgeConfig(routes=[Route(events=["internal_message"], channel="C1")])
    hook = "https://bridge.example/ringcentral/webhook"
    assert {"CallControl", "SubscriptionWebhook", "ReadContacts"} <= set(
        needed(Deployment(calls, None, hook))
    )
    assert "CallControl" not in needed(Deployment(texts, None, hook))
    assert "InternalMessages" in needed(Deployment(texts, None, hook))
    assert "SubscriptionWebhook" not in needed(Deployment(calls, None, None))
    every = needed(Deployment(BridgeConfig(), "C1", hook))  # DEFAULT_CHANNEL takes every kind
    assert {"CallControl", "InternalMessages"} <= set(every)


def test_a_broader_or_older_permission_includes_the_narrow_one() -> None:
    assert holds(["EditMessages"], "ReadMessages")
    assert holds(["SMS"], "ReadMessages")
    assert holds(["CallLog"], "ReadCallLog")
    assert not holds(["ReadMessages"], "SMS")
    assert not holds([], "RingOut")


def test_channels_are_listed_once_with_where_they_are_written() -> None:
    bridge = BridgeConfig(
        routes=[
            Route(events=["sms"], channel="C1"),
            Route(events=["fax"], channel="#front"),
            Route(events=["call"], channel="C1"),
        ]
    )
    deployment = Deployment(bridge, default_channel="C9", webhook_address=None)
    assert deployment.channels() == [
        ("C1", "routes[1]"),
        ("#front", "routes[2]"),
        ("C9", "DEFAULT_CHANNEL"),
    ]
