"""What the bridge subscribes to: event filters per routed kind and watched extension
(DESIGN §3.7), and the watch resolved from the config against the simulator in process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.bridge.calls import Watched
from bot.bridge.subscriptions import event_filters, normalise_filter, webhook_address
from bot.bridge.watch import Watch, resolve_watch, subscribed_kinds
from bot.clock import FakeClock
from bot.config import KINDS, BridgeConfig, ConfigError, Kind, Settings
from bot.ringcentral import Credentials, RingCentralClient
from bot.sim.ringcentral import RingCentralSimulator

A = "/restapi/v1.0/account/~"


def settings(**values: str) -> Settings:
    # validated directly: neither the environment nor a .env file leaks in
    return Settings.model_validate(values)


def bridge(toml: dict[str, object]) -> BridgeConfig:
    return BridgeConfig.model_validate(toml)


# --- event_filters ---------------------------------------------------------------------


def test_every_kind_for_one_extension_uses_its_own_telephony_sessions() -> None:
    assert event_filters(KINDS, ["11"]) == [
        f"{A}/extension/11/telephony/sessions",
        f"{A}/extension/11/voicemail",
        f"{A}/extension/11/fax?direction=Inbound",
        f"{A}/extension/11/message-store/instant?type=SMS",
        f"{A}/extension/11/message-store",
    ]


def test_several_extensions_share_one_account_level_telephony_filter() -> None:
    assert event_filters(["missed_call", "call", "sms"], ["11", "22"]) == [
        f"{A}/telephony/sessions",
        f"{A}/extension/11/message-store/instant?type=SMS",
        f"{A}/extension/22/message-store/instant?type=SMS",
    ]


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (["missed_call"], ["/extension/7/telephony/sessions"]),
        (["answered_call"], ["/extension/7/telephony/sessions"]),
        (["call", "missed_call", "answered_call"], ["/extension/7/telephony/sessions"]),
        # transcripts finish later and arrive only as message-store changes
        (["voicemail"], ["/extension/7/voicemail", "/extension/7/message-store"]),
        (["fax"], ["/extension/7/fax?direction=Inbound"]),
        (["sms"], ["/extension/7/message-store/instant?type=SMS"]),
        # pager messages have no filter of their own
        (["internal_message"], ["/extension/7/message-store"]),
        (
            ["voicemail", "internal_message"],
            ["/extension/7/voicemail", "/extension/7/message-store"],
        ),
        ([], []),
    ],
)
def test_only_the_filters_the_routed_kinds_need(kinds: list[Kind], expected: list[str]) -> None:
    assert event_filters(kinds, ["7"]) == [A + f for f in expected]


def test_a_repeated_extension_is_subscribed_once_and_not_as_several() -> None:
    assert event_filters(["call"], ["7", "7"]) == [f"{A}/extension/7/telephony/sessions"]


def test_kinds_without_an_extension_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="extension"):
        event_filters(["sms"], [])


def test_filters_compare_with_the_account_id_ringcentral_wrote_in() -> None:
    answered = "/restapi/v1.0/account/37439510/extension/7/fax?direction=Inbound"
    assert normalise_filter(answered) == f"{A}/extension/7/fax?direction=Inbound"
    assert normalise_filter(f"{A}/telephony/sessions") == f"{A}/telephony/sessions"
    assert normalise_filter("/restapi/v1.0/subscription/~?threshold=60") == (
        "/restapi/v1.0/subscription/~?threshold=60"
    )


@pytest.mark.parametrize(
    ("public_url", "address"),
    [
        ("https://bridge.example.com", "https://bridge.example.com/ringcentral/webhook"),
        ("https://bridge.example.com/", "https://bridge.example.com/ringcentral/webhook"),
        ("https://example.com/rb/", "https://example.com/rb/ringcentral/webhook"),
    ],
)
def test_webhook_address_is_public_url_plus_the_webhook_path(public_url: str, address: str) -> None:
    assert webhook_address(settings(public_url=public_url).public_url) == address


def test_no_public_url_means_no_address() -> None:
    assert webhook_address(settings().public_url) is None


# --- kinds -------------------------------------------------------------------------------


def test_kinds_are_those_routes_name() -> None:
    config = bridge(
        {
            "routes": [
                {"events": ["missed_call", "voicemail"], "channel": "C1"},
                {"events": ["sms", "voicemail"], "channel": "C2"},
            ]
        }
    )
    assert subscribed_kinds(config, None) == {"missed_call", "voicemail", "sms"}


def test_default_channel_subscribes_every_kind() -> None:
    config = bridge({"routes": [{"events": ["sms"], "channel": "C2"}]})
    assert subscribed_kinds(config, "C9") == set(KINDS)
    assert subscribed_kinds(BridgeConfig(), None) == frozenset()


# --- resolve_watch against the simulator (in process) -------------------------------------


@pytest.fixture
def sim(clock: FakeClock) -> RingCentralSimulator:
    return RingCentralSimulator(clock=clock)


@pytest.fixture
async def rc(sim: RingCentralSimulator, clock: FakeClock) -> AsyncIterator[RingCentralClient]:
    async with RingCentralClient(
        http=httpx.AsyncClient(transport=sim.mock_transport()),
        credentials=Credentials(
            client_id=sim.client_id, client_secret=sim.client_secret, jwt=sim.jwt
        ),
        server_url=sim.server_url,
        media_url=sim.media_url,
        clock=clock,
    ) as client:
        yield client


def ids_by_number(sim: RingCentralSimulator) -> dict[str, str]:
    return {r["extensionNumber"]: str(r["id"]) for r in sim.world.extension_list({})["records"]}


async def test_default_watch_is_the_jwt_users_own_extension(
    rc: RingCentralClient, sim: RingCentralSimulator
) -> None:
    config = bridge({"routes": [{"events": ["sms", "fax"], "channel": "C1"}]})

    watch = await resolve_watch(config, rc)

    assert watch.extension_ids == (sim.extension_id,)
    assert watch.extension_numbers == {sim.extension_id: "101"}
    assert watch.kinds == {"sms", "fax"}
    assert [r.path for r in sim.requests if "/extension" in r.path] == [
        "/restapi/v1.0/account/~/extension/~"
    ]


async def test_configured_numbers_are_resolved_to_ids_in_config_order(
    rc: RingCentralClient, sim: RingCentralSimulator
) -> None:
    ids = ids_by_number(sim)
    config = bridge(
        {
            "ringcentral": {"extensions": ["103", "101", "103"]},
            "routes": [
                {"events": ["missed_call"], "channel": "C1", "extensions": ["103"]},
                {"events": ["sms"], "channel": "C2", "numbers": ["+16505550100"]},
            ],
        }
    )

    watch = await resolve_watch(config, rc)

    assert watch.extension_ids == (ids["103"], ids["101"])
    assert watch.extension_numbers == {ids["103"]: "103", ids["101"]: "101"}
    assert watch.watched == Watched(
        extension_ids=frozenset({ids["101"], ids["103"]}), numbers=frozenset({"+16505550100"})
    )
    # one page of the extension list answers every number
    assert len(sim.requests_to(r"/account/~/extension$")) == 1
    assert event_filters(watch.kinds, watch.extension_ids)[0] == f"{A}/telephony/sessions"


async def test_unknown_extension_numbers_are_named(rc: RingCentralClient) -> None:
    config = bridge({"ringcentral": {"extensions": ["101", "998", "999"]}})

    with pytest.raises(ConfigError, match=r"\[ringcentral\]\.extensions: .*998, 999"):
        await resolve_watch(config, rc)


async def test_a_route_on_an_unknown_extension_is_named(rc: RingCentralClient) -> None:
    config = bridge({"routes": [{"events": ["sms"], "channel": "C", "extensions": ["777"]}]})

    with pytest.raises(ConfigError, match=r"routes\[1\]\.extensions: no extension .*777"):
        await resolve_watch(config, rc)


async def test_a_route_on_an_unwatched_extension_says_to_watch_it(rc: RingCentralClient) -> None:
    config = bridge(
        {
            "ringcentral": {"extensions": ["101"]},
            "routes": [{"events": ["sms"], "channel": "C", "extensions": ["101", "102"]}],
        }
    )

    with pytest.raises(ConfigError, match=r"routes\[1\]\.extensions: 102 not watched"):
        await resolve_watch(config, rc)


def test_watch_gives_the_call_judge_what_it_needs() -> None:
    watch = Watch(extension_ids=("1", "2"), kinds=frozenset({"call"}))
    assert watch.watched == Watched(extension_ids=frozenset({"1", "2"}))
